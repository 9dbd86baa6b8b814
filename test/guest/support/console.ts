// The test guest's serial console: QEMU started by scripts/guest/qemu.sh in a lab host's
// netns, its serial line on our stdin/stdout. The guest's init (scripts/guest/init.sh) runs
// one "ID COMMAND" line at a time and frames the answer as "@@BEGIN ID" ... "@@END ID RC".
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import path from "node:path";

export const GUEST_SCRIPTS = path.resolve(__dirname, "../../../scripts/guest");

/** QEMU ended while the test waited for the guest. */
export class GuestExited extends Error {}

export interface GuestResult {
  rc: number;
  out: string;
}

export class GuestConsole {
  private buf = "";
  private waiters: { test: () => boolean; done: () => void }[] = [];
  private nextId = 1;
  private exited: string | null = null;
  /** Everything the serial line carried, for the failure message of a timed-out wait. */
  transcript = "";

  private constructor(private readonly child: ChildProcessWithoutNullStreams, private readonly run: string) {
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      this.buf += d.replace(/\r/g, "");
      this.transcript += d;
      this.poke();
    });
    child.stderr.on("data", (d) => (this.transcript += `[qemu stderr] ${d}`));
    child.on("exit", (code, signal) => {
      this.exited = `QEMU exited (code ${code}, signal ${signal})`;
      this.poke();
    });
  }

  /**
   * Starts QEMU and waits for the guest's init. Multi-threaded TCG on this machine now and
   * then panics the guest early in boot (seen: a fault in a just-patched kernel function,
   * cross-modified code under TCG); QEMU then exits (-no-reboot), and one more boot is tried.
   */
  static async boot(opts: { netns: string; guestDir: string; runDir: string; smp: number; netArgs: string[]; timeoutMs: number }): Promise<{ console: GuestConsole; bootMs: number; banner: string; attempts: number }> {
    try {
      return { ...(await GuestConsole.bootOnce(opts)), attempts: 1 };
    } catch (err) {
      if (!(err instanceof GuestExited)) throw err;
      console.log(`guest: first boot failed, booting again: ${err.message.slice(-600)}`);
      return { ...(await GuestConsole.bootOnce(opts)), attempts: 2 };
    }
  }

  private static async bootOnce(opts: { netns: string; guestDir: string; runDir: string; smp: number; netArgs: string[]; timeoutMs: number }): Promise<{ console: GuestConsole; bootMs: number; banner: string }> {
    const started = Date.now();
    const child = spawn(path.join(GUEST_SCRIPTS, "qemu.sh"), [
      "start", "--netns", opts.netns, "--guest", opts.guestDir, "--run", opts.runDir, "--smp", String(opts.smp), "--", ...opts.netArgs,
    ], { stdio: ["pipe", "pipe", "pipe"] });
    const c = new GuestConsole(child, opts.runDir);
    try {
      await c.waitFor(() => /^@@READY .*$/m.test(c.buf), opts.timeoutMs, "the guest's init to start");
    } catch (err) {
      c.stop();
      throw err;
    }
    const banner = /^@@READY (.*)$/m.exec(c.buf)![1];
    c.buf = c.buf.slice(c.buf.indexOf("@@READY"));
    c.buf = c.buf.slice(c.buf.indexOf("\n") + 1);
    return { console: c, bootMs: Date.now() - started, banner };
  }

  /** Runs a (test-constant) shell command in the guest. */
  async sh(command: string, timeoutMs = 60_000): Promise<GuestResult> {
    const id = this.nextId++;
    this.child.stdin.write(`${id} ${command}\n`);
    const end = new RegExp(`^@@END ${id} (\\d+)$`, "m");
    await this.waitFor(() => end.test(this.buf), timeoutMs, `guest command ${id} (${command})`);
    const begin = this.buf.indexOf(`@@BEGIN ${id}\n`);
    const m = end.exec(this.buf)!;
    const out = begin >= 0 ? this.buf.slice(begin + `@@BEGIN ${id}\n`.length, m.index) : "";
    this.buf = this.buf.slice(m.index + m[0].length);
    return { rc: Number(m[1]), out: out.trimEnd() };
  }

  /** Like sh, but a non-zero status fails with the command's output. */
  async ok(command: string, timeoutMs?: number): Promise<string> {
    const r = await this.sh(command, timeoutMs);
    if (r.rc !== 0) throw new Error(`guest: '${command}' exited ${r.rc}:\n${r.out}`);
    return r.out;
  }

  /** Ends the QEMU scripts/guest/qemu.sh recorded, by its pid file. */
  stop(): void {
    execFileSync(path.join(GUEST_SCRIPTS, "qemu.sh"), ["stop", "--run", this.run], { stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdin.destroy();
  }

  private poke(): void {
    this.waiters = this.waiters.filter((w) => {
      if (w.test() || this.exited) {
        w.done();
        return false;
      }
      return true;
    });
  }

  private waitFor(test: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; serial console so far:\n${this.transcript.slice(-3000)}`));
      }, timeoutMs);
      const waiter = {
        test,
        done: () => {
          clearTimeout(timer);
          if (test()) resolve();
          else reject(new GuestExited(`${this.exited} while waiting for ${what}; serial console:\n${this.transcript.slice(-3000)}`));
        },
      };
      this.waiters.push(waiter);
      this.poke();
    });
  }
}
