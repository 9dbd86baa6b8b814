// The helper on one host: newline-delimited JSON over one exec channel.
//
//   request   {"id":N,"op":"...","args":{...},"deadlineMs":D,"deadlineAt":T}
//   response  {"id":N,"ok":true,"result":...} | {"id":N,"ok":false,"error":{code,message,errno?,kernelMessage?}}
//   batch     {"id":N,"op":"batch","args":{"requests":[{op,args,deadlineMs,deadlineAt},...]},...}
//             → result {"results":[{ok,result}|{ok,error},...]} in request order
//   handshake request id 0, op "hello" {idleExitMs} → {version, hash, pid, now}; the hash
//             must be the deployed bundle's, proving the host runs exactly what we shipped.
//   keepalive {"op":"ping"} every keepalive interval
//
// HelperProcess is one running process (the wire). HelperClient is what callers use:
// it pipelines requests (many in flight, matched by id), coalesces requests issued
// within a short window into one batch message, restarts a helper that died on the next
// request, and retries in-flight idempotent requests once.
//
// Nothing waits forever. Every request has a deadline (HVNET_REQUEST_TIMEOUT, 60 s by
// default), sent along as `deadlineMs` so the helper's lock waits give up first and
// answer with the lock's holder; a request still unanswered a grace period later fails,
// and its helper (stuck in the kernel, or behind a lock it cannot bound) is stopped, not
// reused. While connected the provider pings the helper (HVNET_KEEPALIVE_INTERVAL, 15 s)
// and tells it in hello to exit after four intervals of silence: a connection that dies
// without a FIN never closes the helper's stdin.
import { EventEmitter } from "node:events";
import type { ClientChannel } from "ssh2";
import { parseProbe, type HostProbe } from "./deploy";
import { HelperError, TransportError, type HelperErrorBody } from "./errors";

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
class HelperGone extends Error {
  constructor(
    readonly detail: string,
    readonly stderr: string[],
  ) {
    super(detail);
  }
}

type Response = { id: number; ok: boolean; result?: unknown; error?: HelperErrorBody };

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

/** Reads an environment variable holding seconds (decimals allowed) as milliseconds. */
export function envSeconds(name: string, fallbackMs: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallbackMs;
  const s = Number(raw);
  if (!Number.isFinite(s) || s <= 0) {
    throw new Error(`${name} must be a number of seconds greater than 0, got ${JSON.stringify(raw)}`);
  }
  return Math.round(s * 1000);
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
export const DEFAULT_KEEPALIVE_MS = 15_000;
/** After a request's deadline, how long the answer may still take to arrive. */
export const DEFAULT_GRACE_MS = 5_000;

export class HelperProcess extends EventEmitter {
  private readonly inflight = new Map<number, { resolve: (r: Response) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private partial = "";
  private readonly stderrTail: string[] = [];
  private stderrPartial = "";
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
    private readonly maxStderrLines: number,
  ) {
    super();
    channel.setEncoding("utf8");
    channel.stderr.setEncoding("utf8");
    channel.on("data", (d: string) => this.onStdout(d));
    channel.stderr.on("data", (d: string) => this.onStderr(d));
    channel.on("exit", (code: number | null, signal?: string) => {
      this.exitInfo = signal ? `killed by ${signal}` : `exit code ${code}`;
    });
    channel.once("close", () => this.onGone());
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
    return this.stderrPartial ? [...this.stderrTail, this.stderrPartial] : [...this.stderrTail];
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
    const lines = (this.partial + chunk).split("\n");
    this.partial = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.trim()) continue;
      let msg: Response;
      try {
        msg = JSON.parse(line);
      } catch {
        // A stray print on stdout would desynchronise nothing (we match by id): note it and go on.
        this.pushStderr(`(stdout, not JSON) ${line.slice(0, 200)}`);
        continue;
      }
      const probe = parseProbe(line);
      if (probe) {
        this.probe = probe;
        continue;
      }
      const waiter = this.inflight.get(msg.id);
      if (!waiter) {
        this.pushStderr(`(stdout, unknown id) ${line.slice(0, 200)}`);
        continue;
      }
      this.inflight.delete(msg.id);
      waiter.resolve(msg);
    }
  }

  private onStderr(chunk: string): void {
    const lines = (this.stderrPartial + chunk).split("\n");
    this.stderrPartial = lines.pop() ?? "";
    for (const line of lines) this.pushStderr(line);
    this.emit("stderr", chunk);
  }

  private pushStderr(line: string): void {
    this.stderrTail.push(line);
    if (this.stderrTail.length > this.maxStderrLines) this.stderrTail.shift();
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

interface Message {
  op: string;
  args: unknown;
  deadlineMs?: number;
}

export interface RequestOptions {
  /** Safe to run twice. Every helper op is idempotent unless the caller says otherwise. */
  idempotent?: boolean;
  /** This request's deadline instead of the client's (HelperClientOptions.timeoutMs). */
  timeoutMs?: number;
}

export interface HelperClientOptions {
  host: string;
  /** Starts (deploying first if needed) a helper; called again after one dies. */
  launch: () => Promise<HelperProcess>;
  /**
   * Requests issued within this window go out as one batch message. 0 = the current
   * turn of the event loop (setImmediate); false = send each request at once.
   */
  coalesceMs?: number | false;
  /** Largest batch; bigger bursts are split. */
  maxBatch?: number;
  /** Each request's deadline; default HVNET_REQUEST_TIMEOUT seconds, else 60 s. */
  timeoutMs?: number;
  /** How much longer than the deadline an answer may take before the helper is stopped. */
  graceMs?: number;
}

interface Pending {
  op: string;
  args: unknown;
  idempotent: boolean;
  attempts: number;
  timeoutMs: number;
  /** Answered, failed or given up on: late news about it is ignored. */
  done: boolean;
  timer?: NodeJS.Timeout;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class HelperClient {
  private proc?: HelperProcess;
  private starting?: Promise<HelperProcess>;
  private queue: Pending[] = [];
  private flushTimer?: NodeJS.Timeout | NodeJS.Immediate;
  private closed = false;
  readonly stats = { starts: 0, messages: 0, batches: 0, retries: 0, timeouts: 0 };
  private readonly timeoutMs: number | Error;

  constructor(private readonly opts: HelperClientOptions) {
    let t: number | Error;
    try {
      t = opts.timeoutMs ?? envSeconds("HVNET_REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT_MS);
    } catch (e) {
      t = e as Error;
    }
    this.timeoutMs = t;
  }

  get process(): HelperProcess | undefined {
    return this.proc;
  }

  request(op: string, args: unknown = {}, options: RequestOptions = {}): Promise<unknown> {
    if (this.closed) return Promise.reject(new TransportError(this.opts.host, "host pool is closed", "ECLOSED"));
    if (this.timeoutMs instanceof Error) return Promise.reject(new TransportError(this.opts.host, this.timeoutMs.message, "EINVAL"));
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      const p: Pending = {
        op,
        args,
        idempotent: options.idempotent ?? true,
        attempts: 0,
        timeoutMs,
        done: false,
        resolve: (v) => finish(p, () => resolve(v)),
        reject: (e) => finish(p, () => reject(e)),
      };
      this.enqueue(p);
    });
  }

  private enqueue(p: Pending): void {
    this.queue.push(p);
    const window = this.opts.coalesceMs ?? 2;
    if (window === false) {
      void this.flush();
      return;
    }
    if (this.flushTimer) return;
    this.flushTimer = window === 0 ? setImmediate(() => void this.flush()) : setTimeout(() => void this.flush(), window);
  }

  private async flush(): Promise<void> {
    this.flushTimer = undefined;
    const items = this.queue;
    this.queue = [];
    if (items.length === 0) return;
    let proc: HelperProcess;
    try {
      proc = await this.ensureProcess();
    } catch (e) {
      for (const it of items) it.reject(e as Error);
      return;
    }
    const max = this.opts.maxBatch ?? 256;
    for (let i = 0; i < items.length; i += max) this.dispatch(proc, items.slice(i, i + max));
  }

  private ensureProcess(): Promise<HelperProcess> {
    if (this.proc?.alive) return Promise.resolve(this.proc);
    if (this.closed) return Promise.reject(new TransportError(this.opts.host, "host pool is closed", "ECLOSED"));
    if (!this.starting) {
      this.stats.starts++;
      this.starting = this.opts.launch().then(
        (p) => {
          this.starting = undefined;
          if (this.closed) {
            void p.close();
            throw new TransportError(this.opts.host, "host pool is closed", "ECLOSED");
          }
          this.proc = p;
          p.once("exit", () => {
            if (this.proc === p) this.proc = undefined;
          });
          return p;
        },
        (e) => {
          this.starting = undefined;
          throw e;
        },
      );
    }
    return this.starting;
  }

  private dispatch(proc: HelperProcess, all: Pending[]): void {
    const items = all.filter((it) => !it.done);
    if (items.length === 0) return;
    for (const it of items) {
      it.attempts++;
      this.arm(proc, it);
    }
    this.stats.messages++;
    const single = items.length === 1;
    if (!single) this.stats.batches++;
    const message: Message = single
      ? { op: items[0].op, args: items[0].args, deadlineMs: items[0].timeoutMs }
      : {
          op: "batch",
          args: { requests: items.map((it) => ({ op: it.op, args: it.args, deadlineMs: it.timeoutMs, deadlineAt: proc.deadlineAt(it.timeoutMs) })) },
          deadlineMs: Math.max(...items.map((it) => it.timeoutMs)),
        };
    proc.send(message).then(
      (res) => {
        if (single) {
          settle(this.opts.host, items[0], res);
          return;
        }
        const results = (res.result as { results?: Response[] } | undefined)?.results;
        if (!res.ok || !Array.isArray(results) || results.length !== items.length) {
          const body = res.error ?? { code: "EPROTO", message: `batch of ${items.length} answered with ${JSON.stringify(res.result)?.slice(0, 200)}` };
          for (const it of items) it.reject(new HelperError(this.opts.host, it.op, body));
          return;
        }
        items.forEach((it, i) => settle(this.opts.host, it, results[i]));
      },
      (e: Error) => {
        const gone = e instanceof HelperGone ? e : new HelperGone(e.message, proc.lastStderr());
        for (const it of items) {
          if (it.done) continue; // given up on already: it is not tried again
          if (it.idempotent && it.attempts < 2 && !this.closed) {
            clearTimeout(it.timer); // its deadline starts again when it is sent again
            this.stats.retries++;
            this.enqueue(it);
          } else {
            const why = it.idempotent ? "again on the restarted helper" : "and the operation is not idempotent, so it was not retried";
            it.reject(
              new HelperError(
                this.opts.host,
                it.op,
                { code: "EHELPERDIED", message: `helper process died (${gone.detail}) with the request in flight, ${why}` },
                gone.stderr,
              ),
            );
          }
        }
      },
    );
  }

  /**
   * Gives up on a request unanswered by its deadline plus the grace period. The helper
   * had until the deadline to answer (its lock waits end there), so it is stuck: it is
   * stopped rather than reused, the other requests in flight on it are retried (when
   * idempotent) on a new one, and this one fails saying what it waited for.
   */
  private arm(proc: HelperProcess, it: Pending): void {
    const grace = this.opts.graceMs ?? DEFAULT_GRACE_MS;
    clearTimeout(it.timer);
    it.timer = setTimeout(() => {
      if (it.done) return;
      this.stats.timeouts++;
      const pid = proc.hello?.pid;
      it.reject(
        new HelperError(
          this.opts.host,
          it.op,
          {
            code: "ETIMEDOUT",
            message:
              `no answer from the helper${pid ? ` (pid ${pid})` : ""} within ${seconds(it.timeoutMs)} s, this request's deadline, ` +
              `plus ${seconds(grace)} s: it is stuck (in the kernel, or on the host); it was stopped and the next request starts a new one. ` +
              `Whether ${it.op} took effect is unknown: run again (pulumi up, or pulumi refresh first) to converge. ` +
              `Set HVNET_REQUEST_TIMEOUT (seconds) if this host needs longer.`,
          },
          proc.lastStderr(),
        ),
      );
      if (this.proc === proc) this.proc = undefined;
      void proc.kill();
    }, it.timeoutMs + grace);
  }

  /** Fails queued requests and stops the helper; resolves when it has exited. */
  close(): Promise<void> {
    this.closed = true;
    if (this.flushTimer) {
      clearTimeout(this.flushTimer as NodeJS.Timeout);
      clearImmediate(this.flushTimer as NodeJS.Immediate);
      this.flushTimer = undefined;
    }
    const err = new TransportError(this.opts.host, "host pool is closed", "ECLOSED");
    for (const it of this.queue.splice(0)) it.reject(err);
    return this.proc?.close() ?? Promise.resolve();
  }
}

function finish(p: Pending, settle: () => void): void {
  if (p.done) return;
  p.done = true;
  clearTimeout(p.timer);
  settle();
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? String(ms / 1000) : (ms / 1000).toFixed(1);
}

function settle(host: string, it: Pending, res: { ok: boolean; result?: unknown; error?: HelperErrorBody }): void {
  if (res.ok) it.resolve(res.result);
  else it.reject(new HelperError(host, it.op, res.error ?? { code: "EPROTO", message: "helper failed without an error body" }));
}
