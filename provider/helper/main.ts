// The hvnet helper: runs on each hypervisor, reads JSON requests on stdin, changes
// kernel, NIC and BPF state, answers on stdout. Logs go to stderr. Exits when stdin closes.
import { Dispatcher } from "./rpc/dispatcher";
import { serve } from "./rpc/server";
import { PROTOCOL_VERSION } from "./rpc/protocol";
import { opTable } from "./ops";
import { bundleHash } from "../common/bundle-hash";

const VERSION = "0.1.0";
let hash: string | undefined;

function hello() {
  // The hash of the directory this helper runs from: proof of what was deployed.
  hash ??= bundleHash(__dirname);
  return { version: VERSION, protocol: PROTOCOL_VERSION, hash, pid: process.pid, capabilities: dispatcher.names() };
}

const dispatcher = new Dispatcher(opTable(hello));

process.stdout.on("error", () => process.exit(0)); // the provider went away
serve(dispatcher, process.stdin, process.stdout).then(() => process.exit(0));
