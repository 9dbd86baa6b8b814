// A built helper (dist/helper/helper.js) run locally for benchmarks, the way
// test/support/helper-host.ts runs it: in a scratch network namespace, in a private mount
// namespace with its own bpffs and its own state directory, so nothing it pins or locks
// touches the machine's /sys/fs/bpf or /run/hvnet. Unlike the test support it stamps
// every request (write → response line read) and reads the helper's CPU time.
import { spawn, ChildProcessWithoutNullStreams } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface Reply {
  id: number;
  ok: boolean;
  result?: any;
  error?: { code: string; message: string };
}

export interface Timed<T> {
  reply: T;
  /** Request written → its response line read (before the response is parsed). */
  ms: number;
}

/**
 * The argv that starts the helper in `netns` with a private mount namespace and a bpffs
 * of its own. ip, unshare and sh each exec the next, so the child's pid is the helper's.
 */
export function helperArgv(netns: string, helperJs: string, stateDir: string): string[] {
  // The state directory (locks, records) gets a tmpfs, as /run/hvnet is on a real host:
  // on this machine's ext4 the lock file's mkdir/rmdir alone cost ~0.3 ms per request.
  return [
    "ip", "netns", "exec", netns, "unshare", "--mount", "--propagation", "private",
    "sh", "-c", 'mount -t bpf bpf /sys/fs/bpf && mount -t tmpfs -o mode=0700 tmpfs "$1" && exec node "$0"', helperJs, stateDir,
  ];
}

export class BenchHelper {
  private buffered = "";
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: { line: string; at: bigint }) => void; reject: (e: Error) => void }>();
  private stderr = "";
  private readonly exited: Promise<void>;
  private gone?: Error;
  /** The helper's pid, from its hello reply. */
  pid = 0;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => (this.stderr = (this.stderr + d).slice(-4000)));
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => this.onData(chunk));
    // A helper that died makes writes fail with EPIPE: its exit handler reports that.
    child.stdin.on("error", () => undefined);
    this.exited = new Promise((resolve) =>
      child.on("exit", (code, signal) => {
        this.gone = new Error(`helper exited (${signal ?? `code ${code}`}); stderr: ${this.stderr.trim()}`);
        for (const w of this.waiting.values()) w.reject(this.gone);
        this.waiting.clear();
        resolve();
      }),
    );
  }

  /** Spawns argv and waits for the hello reply; `ms` is spawn → hello reply read. */
  static async start(argv: string[], env: NodeJS.ProcessEnv): Promise<Timed<BenchHelper>> {
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env } });
    const h = new BenchHelper(child);
    try {
      const hello = await h.roundTrip("hello", {});
      const ms = Number(hello.at - t0) / 1e6;
      const r = JSON.parse(hello.line) as Reply;
      if (!r.ok || typeof r.result?.pid !== "number") throw new Error(`bad hello reply: ${hello.line.slice(0, 200)}`);
      h.pid = r.result.pid;
      return { reply: h, ms };
    } catch (e) {
      await h.stop();
      throw e;
    }
  }

  private onData(chunk: string): void {
    const at = process.hrtime.bigint();
    this.buffered += chunk;
    let start = 0;
    let nl: number;
    while ((nl = this.buffered.indexOf("\n", start)) >= 0) {
      const line = this.buffered.slice(start, nl);
      start = nl + 1;
      // The id is the first field the helper writes: find it without parsing the rest,
      // so a 10,000-result batch is not parsed inside the timed window.
      const m = /^\{"id":(-?\d+)/.exec(line);
      const id = m ? Number(m[1]) : -1;
      const w = this.waiting.get(id);
      if (w) {
        this.waiting.delete(id);
        w.resolve({ line, at });
      } else {
        process.stderr.write(`helper: unexpected line ${line.slice(0, 200)}\n`);
      }
    }
    this.buffered = this.buffered.slice(start);
  }

  private expect(id: number): Promise<{ line: string; at: bigint }> {
    if (this.gone) return Promise.reject(this.gone);
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }

  /** Encodes a request line now (outside any timed window); send it with sendLines. */
  line(op: string, args: unknown): { id: number; text: string } {
    const id = this.nextId++;
    return { id, text: JSON.stringify({ id, op, args }) + "\n" };
  }

  private roundTrip(op: string, args: unknown): Promise<{ line: string; at: bigint }> {
    const l = this.line(op, args);
    const p = this.expect(l.id);
    this.child.stdin.write(l.text);
    return p;
  }

  /**
   * Writes pre-encoded request lines in one write and waits for all their responses.
   * `ms` runs from just before the write to the moment the last response line was read.
   */
  async sendLines(lines: Array<{ id: number; text: string }>): Promise<Timed<Reply[]>> {
    const waits = lines.map((l) => this.expect(l.id));
    const payload = lines.map((l) => l.text).join("");
    const t0 = process.hrtime.bigint();
    this.child.stdin.write(payload);
    const got = await Promise.all(waits);
    let last = t0;
    for (const g of got) if (g.at > last) last = g.at;
    return { reply: got.map((g) => JSON.parse(g.line) as Reply), ms: Number(last - t0) / 1e6 };
  }

  async request(op: string, args: unknown = {}): Promise<any> {
    const { reply } = await this.sendLines([this.line(op, args)]);
    const r = reply[0];
    if (!r.ok) throw new Error(`${op}: ${r.error?.code} ${r.error?.message}`);
    return r.result;
  }

  /**
   * CPU time the helper has used so far, in ms, over all its threads (main, GC, libuv):
   * the first field of /proc/PID/task/TID/schedstat is nanoseconds on a CPU.
   */
  cpuMs(): number {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${this.pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${this.pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // a thread that ended between readdir and read
      }
    }
    return ns / 1e6;
  }

  /** Closes stdin (the helper exits on EOF); kills it if it has not exited within 5 s. */
  async stop(): Promise<void> {
    if (!this.gone) {
      this.child.stdin.end();
      const t = new Promise<void>((r) => setTimeout(r, 5000).unref());
      await Promise.race([this.exited, t]);
      if (this.child.exitCode === null && this.child.signalCode === null) {
        this.child.kill("SIGKILL");
        await this.exited;
      }
    }
    this.child.stdout.destroy();
    this.child.stderr.destroy();
  }
}
