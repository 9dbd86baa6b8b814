// One running helper on one host: newline-delimited JSON over one exec channel.
//
//   request   {"id":N,"op":"...","args":{...},"deadlineMs":D,"deadlineAt":T}
//   response  {"id":N,"ok":true,"result":...} | {"id":N,"ok":false,"error":ErrorBody}
//   batch     {"id":N,"op":"batch","args":{"requests":[{op,args,deadlineMs,deadlineAt},...]},...}
//             → result {"results":[{ok,result}|{ok,error},...]} in request order
//   handshake request id 0, op "hello" {idleExitMs} → {version, hash, pid, now}; the hash
//             must be the deployed bundle's, proving the host runs exactly what we shipped.
//   keepalive {"op":"ping"} every keepalive interval
//
// HelperProcess is the wire: it matches answers to requests by id, keeps the last stderr
// lines for the error that explains a crash, and pings. While connected the provider pings
// the helper (HVNET_KEEPALIVE_INTERVAL, 15 s) and tells it in hello to exit after four
// intervals of silence: a connection that dies without a FIN never closes the helper's
// stdin. What callers use, with batching, deadlines and retries, is HelperClient
// (helper-client.ts).
import { EventEmitter } from "node:events";
import type { ClientChannel } from "ssh2";
import { describeExit, exitStatusOf } from "./connection";
import { parseProbe, type HostProbe } from "./deploy";
import type { Response } from "../common/protocol";
import { envSeconds } from "./env-seconds";
import { TransportError } from "./errors";
import { LastLines, LineSplitter } from "./stream-lines";

export interface HelperHello {
  version: string;
  hash: string;
  pid: number;
}

/** The start command found no deployed bundle (or a host that cannot run it): deploy, then start again. */
export class NotDeployedError extends TransportError {
  constructor(
    host: string,
    readonly probe: HostProbe,
  ) {
    super(host, `helper did not start; host probe: ${JSON.stringify(probe)}`, "ENOTDEPLOYED");
    this.name = "NotDeployedError";
  }
}

/** The process went away under in-flight requests. */
export class HelperGone extends Error {
  constructor(
    readonly detail: string,
    readonly stderr: string[],
  ) {
    super(detail);
  }
}

export interface HelperProcessOptions {
  host: string;
  expectedHash: string;
  helloTimeoutMs?: number;
  stderrLines?: number;
  /** How often to ping the helper; default HVNET_KEEPALIVE_INTERVAL seconds, else 15 s. */
  keepaliveMs?: number;
  /** Silence after which the helper exits on its own; default 4 × keepaliveMs. */
  idleExitMs?: number;
}

const DEFAULT_KEEPALIVE_MS = 15_000;

export class HelperProcess extends EventEmitter {
  private readonly inflight = new Map<number, { resolve: (r: Response) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private readonly stdoutLines = new LineSplitter();
  private readonly stderrLines = new LineSplitter();
  private readonly stderrTail: LastLines;
  private exitInfo?: string;
  private gone = false;
  private probe?: HostProbe;
  private keepalive?: NodeJS.Timeout;
  /** The helper's clock minus ours, measured in hello; undefined if it did not say. */
  private clockOffsetMs?: number;
  hello?: HelperHello;

  private constructor(
    private readonly channel: ClientChannel,
    readonly host: string,
    maxStderrLines: number,
  ) {
    super();
    this.stderrTail = new LastLines(maxStderrLines);
    channel.setEncoding("utf8");
    channel.stderr.setEncoding("utf8");
    channel.on("data", (d: string) => this.onStdout(d));
    channel.stderr.on("data", (d: string) => this.onStderr(d));
    channel.on("exit", (code: number | null, signal?: string) => {
      this.exitInfo = describeExit({ code, signal });
    });
    channel.once("close", () => {
      // A helper that failed at once may have sent its exit status before this object
      // existed; the connection kept it (connection.ts, exitStatusOf).
      const early = exitStatusOf(channel);
      if (this.exitInfo === undefined && early) this.exitInfo = describeExit(early);
      this.onGone();
    });
    channel.on("error", (e: Error) => {
      this.exitInfo ??= `channel error: ${e.message}`;
    });
  }

  /** Opens the protocol on a freshly exec'd channel: hello, then checks the bundle hash. */
  static async start(channel: ClientChannel, opts: HelperProcessOptions): Promise<HelperProcess> {
    const p = new HelperProcess(channel, opts.host, opts.stderrLines ?? 50);
    // HVNET_HELLO_TIMEOUT (seconds): a host under software emulation and load can take
    // longer than 20 s to start Node.
    const timeoutMs = opts.helloTimeoutMs ?? envSeconds("HVNET_HELLO_TIMEOUT", 20_000);
    let timer: NodeJS.Timeout | undefined;
    try {
      const keepaliveMs = opts.keepaliveMs ?? envSeconds("HVNET_KEEPALIVE_INTERVAL", DEFAULT_KEEPALIVE_MS);
      // The helper refuses less than 500 ms (rpc/idle.ts MIN_IDLE_EXIT_MS).
      const idleExitMs = Math.max(500, Math.round(opts.idleExitMs ?? 4 * keepaliveMs));
      const hello = await Promise.race([
        p.call(0, { op: "hello", args: { idleExitMs } }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new HelperGone(`no answer to hello within ${timeoutMs} ms`, p.lastStderr())), timeoutMs);
        }),
      ]);
      if (!hello.ok) throw new TransportError(opts.host, `helper refused hello: ${hello.error?.message}`, "EHELLO");
      const r = hello.result as Partial<HelperHello> | undefined;
      if (!r || typeof r.hash !== "string" || typeof r.pid !== "number") {
        throw new TransportError(opts.host, `helper answered hello without {version, hash, pid}: ${JSON.stringify(r)}`, "EHELLO");
      }
      if (r.hash !== opts.expectedHash) {
        throw new TransportError(
          opts.host,
          `helper runs bundle ${r.hash}, expected ${opts.expectedHash} (the files under the helper directory were changed on the host)`,
          "EHASH",
        );
      }
      p.hello = { version: String(r.version), hash: r.hash, pid: r.pid };
      const now = (r as { now?: unknown }).now;
      // The helper read its clock somewhere between our send and now: taking "now" errs by
      // at most the round trip (and the helper's start), toward its deadlines ending early.
      if (typeof now === "number" && Number.isFinite(now)) p.clockOffsetMs = now - Date.now();
      p.startKeepalive(keepaliveMs);
      return p;
    } catch (e) {
      void p.close();
      if (p.probe) throw new NotDeployedError(opts.host, p.probe);
      if (e instanceof HelperGone) {
        const tail = e.stderr.length ? `; stderr:\n  ${e.stderr.join("\n  ")}` : "";
        throw new TransportError(opts.host, `helper did not start (${e.detail})${tail}`, "EHELPERSTART");
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  get alive(): boolean {
    return !this.gone;
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  lastStderr(): string[] {
    return this.stderrTail.snapshot(this.stderrLines.pending);
  }

  /** Sends one message; resolves with its response, rejects with HelperGone if the process dies first. */
  send(message: Message): Promise<Response> {
    return this.call(this.nextId++, message);
  }

  private call(id: number, message: Message): Promise<Response> {
    if (this.gone) return Promise.reject(new HelperGone(this.exitInfo ?? "helper exited", this.lastStderr()));
    return new Promise((resolve, reject) => {
      this.inflight.set(id, { resolve, reject });
      const req: Record<string, unknown> = { id, op: message.op, args: message.args ?? {} };
      if (message.deadlineMs !== undefined) {
        req.deadlineMs = message.deadlineMs;
        const at = this.deadlineAt(message.deadlineMs);
        if (at !== undefined) req.deadlineAt = at;
      }
      this.channel.write(JSON.stringify(req) + "\n");
    });
  }

  /**
   * A deadline `ms` from now in the helper's clock. Sent beside the relative deadlineMs:
   * a request that sits unread behind a slow one (the helper is synchronous) must not get
   * its whole budget again when it is finally read.
   */
  deadlineAt(ms: number): number | undefined {
    return this.clockOffsetMs === undefined ? undefined : Math.round(Date.now() + this.clockOffsetMs + ms);
  }

  /** Any input proves to the helper that we are still here (see its idle watchdog). */
  private startKeepalive(intervalMs: number): void {
    this.keepalive = setInterval(() => {
      if (this.gone) return;
      this.send({ op: "ping", args: {} }).catch(() => undefined);
    }, intervalMs);
    this.keepalive.unref();
  }

  private onStdout(chunk: string): void {
    for (const line of this.stdoutLines.feed(chunk)) {
      if (!line.trim()) continue;
      let msg: Response;
      try {
        msg = JSON.parse(line);
      } catch {
        // A stray print on stdout would desynchronise nothing (we match by id): note it and go on.
        this.stderrTail.push(`(stdout, not JSON) ${line.slice(0, 200)}`);
        continue;
      }
      const probe = parseProbe(line);
      if (probe) {
        this.probe = probe;
        continue;
      }
      const waiter = this.inflight.get(msg.id);
      if (!waiter) {
        this.stderrTail.push(`(stdout, unknown id) ${line.slice(0, 200)}`);
        continue;
      }
      this.inflight.delete(msg.id);
      waiter.resolve(msg);
    }
  }

  private onStderr(chunk: string): void {
    for (const line of this.stderrLines.feed(chunk)) this.stderrTail.push(line);
    this.emit("stderr", chunk);
  }

  private onGone(): void {
    if (this.gone) return;
    this.gone = true;
    clearInterval(this.keepalive);
    const err = new HelperGone(this.exitInfo ?? "channel closed", this.lastStderr());
    for (const w of this.inflight.values()) w.reject(err);
    this.inflight.clear();
    this.emit("exit", err.detail);
  }

  /**
   * Closes stdin (the helper exits on EOF); closes the channel if it has not exited
   * within graceMs. Resolves once the channel is closed, i.e. the helper has exited.
   */
  close(graceMs = 1000): Promise<void> {
    clearInterval(this.keepalive);
    if (this.gone) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.once("exit", () => resolve()));
    this.channel.end();
    const t = setTimeout(() => {
      if (!this.gone) this.channel.close();
    }, graceMs);
    t.unref();
    return exited;
  }

  /**
   * Stops a helper that no longer answers: SIGTERM through the channel (sudo passes it
   * on; Node's default action ends even a thread blocked in a syscall loop), then the
   * channel itself. Resolves once the channel is closed.
   */
  kill(): Promise<void> {
    clearInterval(this.keepalive);
    if (this.gone) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.once("exit", () => resolve()));
    const ch = this.channel as ClientChannel & { signal?: (name: string) => void };
    try {
      ch.signal?.("TERM");
    } catch {
      // a server that refuses signals: closing the channel below still ends our side
    }
    this.channel.close();
    return exited;
  }
}


/** One message to the helper: an op, or a batch of them; the process gives it its id. */
export interface Message {
  op: string;
  args: unknown;
  deadlineMs?: number;
}
