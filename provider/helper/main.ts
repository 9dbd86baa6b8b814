// The hvnet helper: runs on each hypervisor, reads JSON requests on stdin, changes
// kernel, NIC and BPF state, answers on stdout. Logs go to stderr. Exits when stdin
// closes, or when the provider has been silent longer than it said it would be (hello's
// idleExitMs: a connection that died without a FIN never closes stdin).
import { Dispatcher } from "./rpc/dispatcher";
import { serve } from "./rpc/server";
import { PROTOCOL_VERSION } from "../common/protocol";
import { IdleWatchdog, MAX_IDLE_EXIT_MS, MIN_IDLE_EXIT_MS } from "./rpc/idle";
import { OpError } from "./rpc/errors";
import { endSshSession, sshSessionPid } from "./rpc/session";
import { opTable } from "./ops";
import { bundleHash } from "../common/bundle-hash";

const VERSION = "0.1.0";
let hash: string | undefined;

const idle = new IdleWatchdog((silentMs) => {
  // Silence past the provider's own promise means its connection is dead: the SSH
  // session serving it would otherwise stay on the host too.
  const session = sshSessionPid();
  const ending = session ? ` and ending its SSH session (sshd pid ${session})` : "";
  process.stderr.write(`hvnet helper ${process.pid}: no input for ${Math.round(silentMs / 1000)} s, the provider is gone; exiting${ending}\n`);
  if (session) endSshSession(session);
  process.exit(0);
});

function hello(args: unknown) {
  const idleExitMs = (args as { idleExitMs?: unknown } | null)?.idleExitMs;
  if (idleExitMs !== undefined) {
    if (typeof idleExitMs !== "number" || !Number.isInteger(idleExitMs) || idleExitMs < MIN_IDLE_EXIT_MS || idleExitMs > MAX_IDLE_EXIT_MS) {
      throw new OpError("EINVAL", `hello: idleExitMs must be an integer from ${MIN_IDLE_EXIT_MS} to ${MAX_IDLE_EXIT_MS}, got ${JSON.stringify(idleExitMs)}`);
    }
    idle.arm(idleExitMs);
  }
  // The hash of the directory this helper runs from: proof of what was deployed.
  hash ??= bundleHash(__dirname);
  return { version: VERSION, protocol: PROTOCOL_VERSION, hash, pid: process.pid, capabilities: dispatcher.names(), idleExitMs: idle.armedMs, now: Date.now() };
}

const dispatcher = new Dispatcher(opTable(hello));

process.stdout.on("error", () => process.exit(0)); // the provider went away
serve(dispatcher, process.stdin, process.stdout, { onActivity: () => idle.touch() }).then(() => process.exit(0));
