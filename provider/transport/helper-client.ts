// What callers use to talk to the helper on one host. HelperClient pipelines requests
// (many in flight, matched by id), coalesces requests issued within a short window into
// one batch message, restarts a helper that died on the next request, and retries
// in-flight idempotent requests once.
//
// Nothing waits forever. Every request has a deadline (HVNET_REQUEST_TIMEOUT, 60 s by
// default), sent along as `deadlineMs` so the helper's lock waits give up first and
// answer with the lock's holder; a request still unanswered a grace period later fails,
// and its helper (stuck in the kernel, or behind a lock it cannot bound) is stopped, not
// reused.
import type { BatchResult, Outcome } from "../common/protocol";
import { envSeconds } from "./env-seconds";
import { HelperError, TransportError } from "./errors";
import { HelperGone, type HelperProcess, type Message } from "./helper-process";

const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** After a request's deadline, how long the answer may still take to arrive. */
const DEFAULT_GRACE_MS = 5_000;

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
        const results = res.ok ? (res.result as Partial<BatchResult> | undefined)?.results : undefined;
        if (!res.ok || !Array.isArray(results) || results.length !== items.length) {
          const body = res.ok ? { code: "EPROTO", message: `batch of ${items.length} answered with ${JSON.stringify(res.result)?.slice(0, 200)}` } : res.error;
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

function settle(host: string, it: Pending, res: Outcome): void {
  if (res.ok) it.resolve(res.result);
  else it.reject(new HelperError(host, it.op, res.error ?? { code: "EPROTO", message: "helper failed without an error body" }));
}
