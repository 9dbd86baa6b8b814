// Scratch network namespaces for kernel tests. Each test file makes its own, with a
// random name under the hvt- prefix, and removes it in afterEach/afterAll whether the
// test passed or not. Deleting the namespace deletes every link inside it.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

export interface ScratchNetns {
  name: string;
  path: string;
  /** Runs `ip -n <ns> ...` and returns stdout (used as an independent witness). */
  ip(...args: string[]): string;
  /** Runs `ip -j -n <ns> ...` and parses the JSON. */
  ipJson<T = any>(...args: string[]): T;
  /** Runs any command inside the namespace (`ip netns exec`). */
  exec(cmd: string, args: string[]): string;
  remove(): void;
}

export function createScratchNetns(tag = "t"): ScratchNetns {
  const name = `hvt-${tag}-${randomBytes(3).toString("hex")}`;
  execFileSync("ip", ["netns", "add", name]);
  const ns: ScratchNetns = {
    name,
    path: `/run/netns/${name}`,
    ip: (...args) => execFileSync("ip", ["-n", name, ...args], { encoding: "utf8" }),
    ipJson: (...args) => {
      const out = execFileSync("ip", ["-j", "-n", name, ...args], { encoding: "utf8" });
      return JSON.parse(out || "[]");
    },
    exec: (cmd, args) => execFileSync("ip", ["netns", "exec", name, cmd, ...args], { encoding: "utf8" }),
    remove: () => {
      try {
        execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
      } catch {
        // already gone
      }
    },
  };
  ns.ip("link", "set", "lo", "up");
  return ns;
}
