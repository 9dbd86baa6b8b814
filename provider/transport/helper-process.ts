// The helper on one host: newline-delimited JSON over one exec channel.
//
//   request   {"id":N,"op":"...","args":{...}}
//   response  {"id":N,"ok":true,"result":...} | {"id":N,"ok":false,"error":{code,message,errno?,kernelMessage?}}
//   batch     {"id":N,"op":"batch","args":{"requests":[{op,args},...]}}
//             → result {"results":[{ok,result}|{ok,error},...]} in request order
//   handshake request id 0, op "hello" → {version, hash, pid}; the hash must be the
//             deployed bundle's, proving the host runs exactly what we shipped.
//
// HelperProcess is one running process (the wire). HelperClient is what callers use:
// it pipelines requests (many in flight, matched by id), coalesces requests issued
// within a short window into one batch message, restarts a helper that died on the next
// request, and retries in-flight idempotent requests once.
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
}

export class HelperProcess extends EventEmitter {
  private readonly inflight = new Map<number, { resolve: (r: Response) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private partial = "";
  private readonly stderrTail: string[] = [];
  private stderrPartial = "";
  private exitInfo?: string;
  private gone = false;
  private probe?: HostProbe;
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
    const timeoutMs = opts.helloTimeoutMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const hello = await Promise.race([
        p.call(0, { op: "hello", args: {} }),
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
  send(message: { op: string; args: unknown }): Promise<Response> {
    return this.call(this.nextId++, message);
  }

  private call(id: number, message: { op: string; args: unknown }): Promise<Response> {
    if (this.gone) return Promise.reject(new HelperGone(this.exitInfo ?? "helper exited", this.lastStderr()));
    return new Promise((resolve, reject) => {
      this.inflight.set(id, { resolve, reject });
      this.channel.write(JSON.stringify({ id, op: message.op, args: message.args ?? {} }) + "\n");
    });
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
    if (this.gone) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.once("exit", () => resolve()));
    this.channel.end();
    const t = setTimeout(() => {
      if (!this.gone) this.channel.close();
    }, graceMs);
    t.unref();
    return exited;
  }
}

export interface RequestOptions {
  /** Safe to run twice. Every helper op is idempotent unless the caller says otherwise. */
  idempotent?: boolean;
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
}

interface Pending {
  op: string;
  args: unknown;
  idempotent: boolean;
  attempts: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class HelperClient {
  private proc?: HelperProcess;
  private starting?: Promise<HelperProcess>;
  private queue: Pending[] = [];
  private flushTimer?: NodeJS.Timeout | NodeJS.Immediate;
  private closed = false;
  readonly stats = { starts: 0, messages: 0, batches: 0, retries: 0 };

  constructor(private readonly opts: HelperClientOptions) {}

  get process(): HelperProcess | undefined {
    return this.proc;
  }

  request(op: string, args: unknown = {}, options: RequestOptions = {}): Promise<unknown> {
    if (this.closed) return Promise.reject(new TransportError(this.opts.host, "host pool is closed", "ECLOSED"));
    return new Promise((resolve, reject) => {
      this.enqueue({ op, args, idempotent: options.idempotent ?? true, attempts: 0, resolve, reject });
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

  private dispatch(proc: HelperProcess, items: Pending[]): void {
    for (const it of items) it.attempts++;
    this.stats.messages++;
    const single = items.length === 1;
    if (!single) this.stats.batches++;
    const message = single ? { op: items[0].op, args: items[0].args } : { op: "batch", args: { requests: items.map((it) => ({ op: it.op, args: it.args })) } };
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
          if (it.idempotent && it.attempts < 2 && !this.closed) {
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

function settle(host: string, it: Pending, res: { ok: boolean; result?: unknown; error?: HelperErrorBody }): void {
  if (res.ok) it.resolve(res.result);
  else it.reject(new HelperError(host, it.op, res.error ?? { code: "EPROTO", message: "helper failed without an error body" }));
}
