// One SSH connection to one hypervisor: dial (host-key pinning, bounded handshake,
// retries for transient network errors, optional jump host), then exec channels and SFTP
// sessions under a per-connection channel limit.
import { EventEmitter } from "node:events";
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from "ssh2";
import { AuthError, HostKeyMismatchError, TransportError } from "./errors";
import {
  algorithmsExcluding,
  algorithmsForKeyType,
  parseHostKeyPin,
  pinnedHostVerifier,
  type HostKeyPin,
  type PresentedKey,
} from "./host-key";
import { hostIdentity, validateHostSpec, withDefaults, type HostSpec } from "./host-spec";
import { Semaphore } from "./semaphore";

export interface DialOptions {
  /** Bound on TCP connect + SSH handshake + auth, per attempt. */
  readyTimeoutMs?: number;
  /** SSH-level keepalive; a host that stops answering is noticed within interval × countMax. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Attempts for transient errors (refused, timed out, reset, closed before handshake). */
  attempts?: number;
  /** First backoff; doubles per attempt, with jitter. */
  backoffMs?: number;
  /** Channels open at once on one connection (OpenSSH MaxSessions defaults to 10). */
  maxChannels?: number;
  /** Limits handshakes in flight across the process (defaults to a shared limiter). */
  handshakeLimiter?: Semaphore;
}

const DEFAULTS = {
  readyTimeoutMs: 10_000,
  keepaliveIntervalMs: 15_000,
  keepaliveCountMax: 3,
  attempts: 3,
  backoffMs: 250,
  maxChannels: 8,
};

/**
 * sshd drops unauthenticated connections beyond MaxStartups (default 10:30:100), so a
 * fleet-wide `up` that dials every host at once through one bastion, or many hosts at
 * once, would see random resets. Eight handshakes at a time stays under it.
 */
export const sharedHandshakeLimiter = new Semaphore(8);

const TRANSIENT_CODES = new Set(["ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "EPIPE"]);

type SshError = Error & { level?: string; code?: string | number; transient?: boolean };

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when the process died of a signal or the server sent none. */
  code: number | null;
  signal?: string;
}

/** How a command on an exec channel ended, as the server said (exit-status or exit-signal). */
export interface ExitStatus {
  code: number | null;
  signal?: string;
}

// A command's whole life (output, exit status, close) can arrive in the same read from the
// socket as the answer that opened its channel, and ssh2 handles all of it before any
// `await` on the open resumes. Output and close wait in the channel's streams until read;
// the exit status is an event, gone if nobody listened yet. So it is kept from the start.
const exitStatuses = new WeakMap<ClientChannel, ExitStatus>();

/** How a command ended, for messages: "killed by SIGxxx" (ssh2 names the signal of exit-signal so) or "exit code N". */
export function describeExit(exit: ExitStatus | undefined): string {
  return exit?.signal ? `killed by ${exit.signal}` : `exit code ${exit?.code ?? null}`;
}

/** The exit status the server sent on an exec channel opened by SshConnection, if it sent one yet. */
export function exitStatusOf(channel: ClientChannel): ExitStatus | undefined {
  return exitStatuses.get(channel);
}

/**
 * Prefixes a fixed command with `sudo -n` for users other than root (-n: fail, never
 * prompt). Only the launcher is ever run this way (see deploy.ts): a sudoers rule that
 * names it is all a deploy user needs.
 */
export function withSudo(user: string, command: string): string {
  return user === "root" ? command : `sudo -n ${command}`;
}

export class SshConnection extends EventEmitter {
  private readonly channels: Semaphore;
  private isClosed = false;
  private lastError?: Error;
  /** Round trips spent, for tests and benchmarks: each exec and SFTP session is one channel. */
  readonly stats = { execs: 0, sftpSessions: 0 };

  constructor(
    readonly host: string,
    readonly user: string,
    private readonly client: Client,
    private readonly bastion: SshConnection | undefined,
    maxChannels: number,
  ) {
    super();
    this.channels = new Semaphore(maxChannels);
    client.on("error", (err) => {
      this.lastError = err;
    });
    client.on("close", () => this.markClosed());
    bastion?.once("close", () => this.close());
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Why the connection closed, when it was not closed by us. */
  get closeReason(): Error | undefined {
    return this.lastError;
  }

  get channelsInUse(): number {
    return this.channels.inUse;
  }

  private markClosed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.bastion?.close();
    this.emit("close", this.lastError);
  }

  private closedError(): TransportError {
    const why = this.lastError ? `: ${this.lastError.message}` : "";
    return new TransportError(this.host, `SSH connection closed${why}`, "ECONNCLOSED");
  }

  /** Opens an exec channel that holds a channel slot until it closes. */
  async openExec(command: string): Promise<ClientChannel> {
    const release = await this.channels.acquire();
    if (this.isClosed) {
      release();
      throw this.closedError();
    }
    this.stats.execs++;
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, channel) => {
        if (err) {
          release();
          reject(new TransportError(this.host, `cannot open an exec channel: ${err.message}`, "ECHANNEL", { cause: err }));
          return;
        }
        channel.once("close", release);
        channel.once("exit", (code: number | null, signal?: string) => {
          exitStatuses.set(channel, { code: typeof code === "number" ? code : null, signal: signal ?? undefined });
        });
        resolve(channel);
      });
    });
  }

  /** Runs a command to completion; stdin is closed after `stdin` is written. */
  async exec(command: string, opts: { stdin?: string | Buffer; maxOutputBytes?: number } = {}): Promise<ExecResult> {
    const channel = await this.openExec(command);
    const max = opts.maxOutputBytes ?? 1 << 20;
    return new Promise((resolve) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outLen = 0;
      let errLen = 0;
      channel.on("data", (d: Buffer) => {
        if (outLen < max) out.push(d);
        outLen += d.length;
      });
      channel.stderr.on("data", (d: Buffer) => {
        if (errLen < max) err.push(d);
        errLen += d.length;
      });
      channel.once("close", () => {
        const exit = exitStatusOf(channel);
        resolve({ stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), code: exit?.code ?? null, signal: exit?.signal });
      });
      channel.end(opts.stdin);
    });
  }

  /** Runs fn with an SFTP session, ended afterwards. The session holds one channel slot. */
  async withSftp<T>(fn: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    const release = await this.channels.acquire();
    if (this.isClosed) {
      release();
      throw this.closedError();
    }
    this.stats.sftpSessions++;
    let sftp: SFTPWrapper;
    try {
      sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
        this.client.sftp((err, s) => (err ? reject(new TransportError(this.host, `cannot start SFTP: ${err.message}`, "ESFTP", { cause: err })) : resolve(s))),
      );
    } catch (e) {
      release();
      throw e;
    }
    sftp.once("close", release);
    try {
      return await fn(sftp);
    } finally {
      sftp.end();
    }
  }

  /** A direct-tcpip channel to dst, used as the socket of a connection through this one. */
  forward(dstAddress: string, dstPort: number): Promise<ClientChannel> {
    if (this.isClosed) return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => {
      this.client.forwardOut("127.0.0.1", 0, dstAddress, dstPort, (err, stream) => {
        if (err) reject(Object.assign(new Error(`jump host ${this.host} cannot reach ${dstAddress}:${dstPort}: ${err.message}`), { transient: true }));
        else resolve(stream);
      });
    });
  }

  close(): void {
    if (this.isClosed) return;
    this.client.end();
    // end() is graceful; make sure "close" fires even if the peer never answers.
    setTimeout(() => {
      if (!this.isClosed) this.client.destroy();
    }, 2000).unref();
  }
}

/** Connects to a host (through its jump host, if any). Validates the spec first. */
export async function dial(spec: HostSpec, options: DialOptions = {}): Promise<SshConnection> {
  const host = hostIdentity(spec);
  const problems = validateHostSpec(spec);
  if (problems.length) throw new TransportError(host, problems.join("; "), "EINVAL");
  const o = { ...DEFAULTS, ...options };
  const s = withDefaults(spec);
  for (let attempt = 1; ; attempt++) {
    try {
      return await dialOnce(host, s, o);
    } catch (e) {
      const err = e as SshError;
      if (err instanceof TransportError) throw err;
      if (!err.transient || attempt >= o.attempts) {
        const tries = attempt > 1 ? ` after ${attempt} attempts` : "";
        throw new TransportError(host, `cannot connect to ${s.address}:${s.port}${tries}: ${err.message}`, String(err.code ?? "ECONNECT"), {
          cause: err,
        });
      }
      const delay = o.backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random());
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

type Resolved = ReturnType<typeof withDefaults>;
type Opts = typeof DEFAULTS & DialOptions;

async function dialOnce(host: string, spec: Resolved, o: Opts): Promise<SshConnection> {
  let bastion: SshConnection | undefined;
  if (spec.jumpHost) {
    try {
      bastion = await dial(spec.jumpHost, o);
    } catch (e) {
      const err = e as TransportError;
      throw new TransportError(host, `via jump host: ${err.message}`, err.code, { cause: err });
    }
  }
  try {
    const pin = spec.hostKey ? parseHostKeyPin(spec.hostKey) : undefined;
    // With a key line we know the type and offer only it. With a bare fingerprint the
    // server picks its preferred type; if that is not the pinned key, ask again without
    // the types already seen, as OpenSSH does with known_hosts (a host has one key per type).
    let algorithms = pin ? algorithmsForKeyType(pin.keyType) : undefined;
    const seen: PresentedKey[] = [];
    for (;;) {
      const sock = bastion ? await bastion.forward(spec.address, spec.port) : undefined;
      const limiter = o.handshakeLimiter ?? sharedHandshakeLimiter;
      let outcome: HandshakeOutcome;
      try {
        outcome = await limiter.run(() => handshake(host, spec, o, pin, algorithms, sock));
      } catch (e) {
        const err = e as SshError;
        if (seen.length && /no matching host key format/.test(err.message)) throw mismatch(host, pin!, seen);
        throw err;
      }
      if ("client" in outcome) return new SshConnection(host, spec.user, outcome.client, bastion, o.maxChannels);
      seen.push(outcome.presented);
      if (pin!.keyType) throw mismatch(host, pin!, seen);
      algorithms = algorithmsExcluding(seen.map((k) => k.keyType));
      if (algorithms.length === 0) throw mismatch(host, pin!, seen);
    }
  } catch (e) {
    bastion?.close();
    throw e;
  }
}

function mismatch(host: string, pin: HostKeyPin, seen: PresentedKey[]): HostKeyMismatchError {
  return new HostKeyMismatchError(
    host,
    pin.fingerprint,
    seen.map((k) => `${k.fingerprint} (${k.keyType})`),
  );
}

type HandshakeOutcome = { client: Client } | { presented: PresentedKey };

function handshake(
  host: string,
  spec: Resolved,
  o: Opts,
  pin: HostKeyPin | undefined,
  algorithms: string[] | undefined,
  sock: ClientChannel | undefined,
): Promise<HandshakeOutcome> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let presented: PresentedKey | undefined;
    let settled = false;
    const fail = (err: SshError) => {
      if (settled) return;
      settled = true;
      client.on("error", () => undefined);
      client.end();
      if (pin && presented && presented.fingerprint !== pin.fingerprint) {
        resolve({ presented });
        return;
      }
      if (err.level === "client-authentication") {
        reject(new AuthError(host, spec.user, err.message));
        return;
      }
      if (err.level === "client-timeout" || (err.code !== undefined && TRANSIENT_CODES.has(String(err.code)))) err.transient = true;
      reject(err);
    };
    client.once("ready", () => {
      settled = true;
      resolve({ client });
    });
    client.on("error", fail);
    client.once("close", () =>
      fail(Object.assign(new Error("connection closed before the SSH handshake completed"), { transient: true })),
    );
    const config: ConnectConfig = {
      host: spec.address,
      port: spec.port,
      username: spec.user,
      privateKey: spec.privateKey,
      agent: spec.agentSocket,
      readyTimeout: o.readyTimeoutMs,
      keepaliveInterval: o.keepaliveIntervalMs,
      keepaliveCountMax: o.keepaliveCountMax,
      sock,
      hostVerifier: pin ? pinnedHostVerifier(pin, (k) => (presented = k)) : undefined,
      algorithms: algorithms ? { serverHostKey: algorithms as NonNullable<ConnectConfig["algorithms"]>["serverHostKey"] } : undefined,
    };
    try {
      client.connect(config);
    } catch (e) {
      // ssh2 throws synchronously on a bad config (e.g. an unparsable key).
      fail(e as SshError);
    }
  });
}
