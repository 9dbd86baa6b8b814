// The host pool: one SSH connection and one helper process per host for the life of the
// provider process. A host is keyed by everything that decides which machine a
// connection reaches (connectionKey): two hosts that share a name but not an address or
// host key never share a connection, and each one's pinned key is checked. Each host has its own connection, queue and helper, so
// a host that is down or slow fails its own requests and never holds up the others.
import { dial, type DialOptions, type SshConnection } from "./connection";
import { ensureDeployed, helperCommand, loadBundle } from "./deploy";
import { TransportError } from "./errors";
import { HelperClient, type RequestOptions } from "./helper-client";
import { HelperProcess, NotDeployedError } from "./helper-process";
import { connectionKey, hostIdentity, validateHostSpec, type HostSpec } from "./host-spec";

export interface HostPoolOptions {
  /** The helper bundle directory (dist/helper), deployed by content hash. */
  helperDir: string;
  dial?: DialOptions;
  /** See HelperClientOptions.coalesceMs (default 2 ms). */
  coalesceMs?: number | false;
  maxBatch?: number;
  helloTimeoutMs?: number;
}

export interface HostStats {
  dials: number;
  deploys: number;
  /** Exec channels opened on the current connection (and SFTP sessions). */
  execs: number;
  sftpSessions: number;
  helperStarts: number;
  /** Messages written to the helper (a batch counts once) and how many were batches. */
  messages: number;
  batches: number;
  retries: number;
  helperPid?: number;
}

class HostEntry {
  spec: HostSpec;
  private conn?: SshConnection;
  private connecting?: Promise<SshConnection>;
  readonly client: HelperClient;
  dials = 0;
  deploys = 0;
  execs = 0;
  sftpSessions = 0;

  constructor(
    readonly name: string,
    spec: HostSpec,
    private readonly opts: HostPoolOptions,
  ) {
    this.spec = spec;
    this.client = new HelperClient({
      host: name,
      launch: () => this.launch(),
      coalesceMs: opts.coalesceMs,
      maxBatch: opts.maxBatch,
    });
  }

  private connection(): Promise<SshConnection> {
    if (this.conn && !this.conn.closed) return Promise.resolve(this.conn);
    if (!this.connecting) {
      this.dials++;
      // The latest spec seen for this machine: changed credentials (a new private key)
      // take effect on the next dial.
      this.connecting = dial(this.spec, this.opts.dial).then(
        (c) => {
          this.connecting = undefined;
          this.conn = c;
          c.once("close", () => {
            this.execs += c.stats.execs;
            this.sftpSessions += c.stats.sftpSessions;
            if (this.conn === c) this.conn = undefined;
          });
          return c;
        },
        (e) => {
          this.connecting = undefined;
          throw e;
        },
      );
    }
    return this.connecting;
  }

  private async launch(): Promise<HelperProcess> {
    const bundle = loadBundle(this.opts.helperDir);
    const conn = await this.connection();
    const start = async () =>
      HelperProcess.start(await conn.openExec(helperCommand(bundle.hash, conn.user)), {
        host: this.name,
        expectedHash: bundle.hash,
        helloTimeoutMs: this.opts.helloTimeoutMs,
      });
    try {
      return await start();
    } catch (e) {
      if (!(e instanceof NotDeployedError)) throw e;
      // Checks Node/libbpf from the probe (throwing a HostRequirementError naming the
      // host), uploads and installs, then starts again.
      const r = await ensureDeployed(conn, bundle, e.probe);
      if (r.uploaded) this.deploys++;
      return start();
    }
  }

  stats(): HostStats {
    const live = this.conn && !this.conn.closed ? this.conn.stats : { execs: 0, sftpSessions: 0 };
    return {
      dials: this.dials,
      deploys: this.deploys,
      execs: this.execs + live.execs,
      sftpSessions: this.sftpSessions + live.sftpSessions,
      helperStarts: this.client.stats.starts,
      messages: this.client.stats.messages,
      batches: this.client.stats.batches,
      retries: this.client.stats.retries,
      helperPid: this.client.process?.hello?.pid,
    };
  }

  async close(): Promise<void> {
    // The helper exits on stdin EOF; wait for that (bounded by HelperProcess.close's
    // grace period) so that when close() resolves no helper is left running.
    await this.client.close();
    const conn = this.conn ?? (await this.connecting?.catch(() => undefined));
    if (!conn || conn.closed) return;
    await new Promise<void>((resolve) => {
      conn.once("close", () => resolve());
      conn.close();
    });
  }
}

export class HostPool {
  private readonly hosts = new Map<string, HostEntry>();
  private readonly validated = new WeakSet<object>();
  private closed = false;

  constructor(private readonly opts: HostPoolOptions) {}

  /** Sends one op to the host's helper; resolves with its result, rejects with HelperError/TransportError. */
  request<T = any>(spec: HostSpec, op: string, args: unknown = {}, opts: RequestOptions = {}): Promise<T> {
    const name = spec && typeof spec === "object" && typeof spec.address === "string" ? hostIdentity(spec) : "host";
    if (this.closed) return Promise.reject(new TransportError(name, "host pool is closed", "ECLOSED"));
    if (!this.validated.has(spec)) {
      const problems = validateHostSpec(spec);
      if (problems.length) return Promise.reject(new TransportError(name, problems.join("; "), "EINVAL"));
      this.validated.add(spec);
    }
    const key = connectionKey(spec);
    let entry = this.hosts.get(key);
    if (!entry) {
      entry = new HostEntry(name, spec, this.opts);
      this.hosts.set(key, entry);
    } else {
      // Same machine; the credentials may have changed (a new private key).
      entry.spec = spec;
    }
    return entry.client.request(op, args, opts) as Promise<T>;
  }

  /** Counters for one host (by spec, or by identity: the first connection of that name), for tests and benchmarks. */
  stats(host: HostSpec | string): HostStats | undefined {
    if (typeof host !== "string") return this.hosts.get(connectionKey(host))?.stats();
    return [...this.hosts.values()].find((e) => e.name === host)?.stats();
  }

  async close(): Promise<void> {
    this.closed = true;
    const entries = [...this.hosts.values()];
    this.hosts.clear();
    await Promise.all(entries.map((e) => e.close()));
  }
}
