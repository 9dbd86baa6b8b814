#!/usr/bin/env node
// Sends one HMP command to a QEMU monitor socket and prints its answer: bash has no
// unix sockets, and socat is not on every machine, but node is (the project needs it).
//   node hmp.js SOCKET COMMAND [TIMEOUT_SECONDS]
// The answer ends when the monitor prints its next "(qemu) " prompt.
"use strict";
const net = require("node:net");

const [socketPath, command, timeoutArg] = process.argv.slice(2);
if (!socketPath || !command) {
  process.stderr.write("usage: hmp.js SOCKET COMMAND [TIMEOUT_SECONDS]\n");
  process.exit(2);
}
const timeoutMs = Number(timeoutArg ?? 60) * 1000;
const PROMPT = "(qemu) ";
let buf = "";
let sent = false;
const sock = net.createConnection(socketPath);
const timer = setTimeout(() => {
  process.stderr.write(`hmp: no answer to '${command}' from ${socketPath} within ${timeoutMs / 1000} s\n`);
  process.exit(1);
}, timeoutMs);
sock.on("error", (err) => {
  process.stderr.write(`hmp: ${socketPath}: ${err.message}\n`);
  process.exit(1);
});
sock.on("data", (chunk) => {
  buf += chunk.toString("utf8");
  if (!sent) {
    // The greeting ends with the first prompt.
    if (!buf.endsWith(PROMPT)) return;
    buf = "";
    sent = true;
    sock.write(`${command}\n`);
    return;
  }
  if (buf.endsWith(PROMPT)) {
    clearTimeout(timer);
    // The monitor echoes the command line (with terminal escapes) before its answer.
    const lines = buf.slice(0, -PROMPT.length).replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").split(/\r?\n/);
    process.stdout.write(lines.slice(1).join("\n"));
    sock.end();
  }
});
sock.on("close", () => {
  if (sent && !buf.endsWith(PROMPT) && command !== "quit") {
    process.stderr.write(`hmp: monitor closed before answering '${command}'\n`);
    process.exit(1);
  }
  clearTimeout(timer);
});
