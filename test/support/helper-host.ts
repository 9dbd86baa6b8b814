// Runs the built helper (dist/helper/helper.js) the way a host runs it, in a scratch
// network namespace with a private mount namespace and its own bpffs at /sys/fs/bpf and
// its own state directory: a one-host lab without sshd, for kernel-layer tests.
import { spawn, ChildProcessWithoutNullStreams, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createScratchNetns, ScratchNetns } from "./scratch-netns";

export const HELPER_JS = path.resolve(__dirname, "..", "..", "dist", "helper", "helper.js");

export interface HelperHost {
  ns: ScratchNetns;
  stateDir: string;
  request(op: string, args?: unknown): Promise<any>;
  /** Like request but resolves with the raw outcome ({ok, result} or {ok:false, error}). */
  call(op: string, args?: unknown): Promise<{ ok: boolean; result?: any; error?: any }>;
  /** Runs a command in the helper's mount namespace (its bpffs) and netns. */
  hostExec(cmd: string, args: string[]): string;
  stop(): Promise<void>;
}

export async function startHelperHost(tag = "h"): Promise<HelperHost> {
  if (!fs.existsSync(HELPER_JS)) throw new Error(`${HELPER_JS} is missing: run 'make build' first`);
  const ns = createScratchNetns(tag);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "hvt-state-"));
  // ip netns exec mounts a fresh /sys for the namespace; unshare then gives the helper a
  // private mount namespace in which its bpffs lives and dies with it.
  const child: ChildProcessWithoutNullStreams = spawn(
    "ip",
    ["netns", "exec", ns.name, "unshare", "--mount", "--propagation", "private", "sh", "-c",
      'mount -t bpf bpf /sys/fs/bpf && exec node "$0"', HELPER_JS],
    { env: { ...process.env, HVNET_STATE_DIR: stateDir } },
  );
  let buffered = "";
  let nextId = 1;
  const waiting = new Map<number, (r: any) => void>();
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const msg = JSON.parse(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      waiting.get(msg.id)?.(msg);
      waiting.delete(msg.id);
    }
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const call = (op: string, args: unknown = {}) =>
    new Promise<any>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, resolve);
      child.stdin.write(JSON.stringify({ id, op, args }) + "\n", (err) => err && reject(err));
    });
  const host: HelperHost = {
    ns,
    stateDir,
    call,
    async request(op, args) {
      const r = await call(op, args);
      if (!r.ok) throw Object.assign(new Error(`${op}: ${r.error.message}`), r.error, { stderr });
      return r.result;
    },
    hostExec(cmd, args) {
      // ip, unshare and sh each exec the next: the child's pid is the helper itself.
      return execFileSync("nsenter", ["-t", String(child.pid), "-m", "-n", cmd, ...args], { encoding: "utf8" });
    },
    async stop() {
      child.stdin.end();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
      if (child.exitCode === null) child.kill("SIGKILL");
      child.stdout.destroy();
      child.stderr.destroy();
      ns.remove();
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
  const hello = await host.request("hello");
  if (!hello.pid) throw new Error("helper did not answer hello");
  return host;
}

