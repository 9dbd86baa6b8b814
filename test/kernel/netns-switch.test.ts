// inNetns / netnsFd against the real kernel, in scratch namespaces. Witnesses: the
// namespace inode under /run/netns, `ip netns identify <our pid>` (it reads
// /proc/<pid>/ns/net, i.e. our main thread, the JS thread), and a link created by a child
// process, which inherits the namespace of the thread that spawned it.
import { execFileSync, spawn, ChildProcess } from "node:child_process";
import { fstatSync, readlinkSync, statSync, writeFileSync, unlinkSync, existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { requireCommand, requireRoot } from "../support/require-root";
import { createScratchNetns, ScratchNetns } from "../support/scratch-netns";
import { currentNetnsInode, inNetns, netnsFd, netnsInode, netnsPath } from "../../provider/helper/kernel/netns";
import * as libc from "../../provider/helper/kernel/internal/libc";
import { KernelError } from "../../provider/helper/kernel/errors";

const identify = () => execFileSync("ip", ["netns", "identify", String(process.pid)], { encoding: "utf8" }).trim();

describe("netns (real kernel)", () => {
  let a: ScratchNetns;
  let b: ScratchNetns;
  let sleeper: ChildProcess | undefined;
  let stale: string | undefined;
  let home: number;

  beforeAll(() => {
    requireRoot();
    requireCommand("ip");
    home = currentNetnsInode();
    a = createScratchNetns("nsa");
    b = createScratchNetns("nsb");
  });

  afterEach(() => {
    // Every test must leave the JS thread where it started, pass or fail.
    expect(currentNetnsInode()).toBe(home);
  });

  afterAll(() => {
    // Only the pid we spawned, and only if node has not seen it exit.
    if (sleeper?.pid && sleeper.exitCode === null && sleeper.signalCode === null) {
      try {
        process.kill(sleeper.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    if (stale && existsSync(stale)) unlinkSync(stale);
    a?.remove();
    b?.remove();
  });

  test("runs the callback inside the named namespace and comes back", () => {
    expect(identify()).toBe("");
    const seen = inNetns(a.name, () => ({ ino: currentNetnsInode(), name: identify() }));
    expect(seen.ino).toBe(statSync(a.path).ino);
    expect(seen.ino).not.toBe(home);
    expect(seen.name).toBe(a.name);
    expect(identify()).toBe("");
  });

  test("work done inside lands in that namespace (a child spawned inside creates a link there)", () => {
    const link = `hvn${randomBytes(3).toString("hex")}`;
    inNetns(a.name, () => execFileSync("ip", ["link", "add", link, "type", "veth", "peer", "name", `${link}p`]));
    expect(a.ipJson("link", "show", link)[0].ifname).toBe(link);
    expect(() => execFileSync("ip", ["link", "show", link], { stdio: "pipe" })).toThrow();
  });

  test("nested calls each restore their own starting namespace", () => {
    const trail = inNetns(a.name, () => {
      const outer = currentNetnsInode();
      const inner = inNetns(b.name, () => [currentNetnsInode(), identify()] as const);
      return [outer, inner[0], inner[1], currentNetnsInode()];
    });
    expect(trail).toEqual([netnsInode(a.name), netnsInode(b.name), b.name, netnsInode(a.name)]);
  });

  test("switches back when the callback throws, and rethrows its error", () => {
    const boom = new Error("boom");
    expect(() =>
      inNetns(a.name, () => {
        expect(currentNetnsInode()).toBe(netnsInode(a.name));
        throw boom;
      }),
    ).toThrow(boom);
    expect(currentNetnsInode()).toBe(home);
  });

  test("refuses asynchronous callbacks (and still switches back)", () => {
    expect(() => inNetns(a.name, async () => 1)).toThrow(/must be synchronous/);
    expect(currentNetnsInode()).toBe(home);
  });

  test("undefined target runs in place", () => {
    expect(inNetns(undefined, () => currentNetnsInode())).toBe(home);
  });

  test("a /proc/<pid>/ns/net target enters that process's namespace", async () => {
    sleeper = spawn("ip", ["netns", "exec", b.name, "sleep", "60"], { stdio: "ignore" });
    const pid = sleeper.pid!;
    // ip netns exec execs sleep in place: wait until the pid is inside b.
    for (let i = 0; i < 100 && readlinkSync(`/proc/${pid}/ns/net`) !== `net:[${netnsInode(b.name)}]`; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const target = `/proc/${pid}/ns/net`;
    expect(inNetns(target, () => currentNetnsInode())).toBe(netnsInode(b.name));
    sleeper.kill("SIGKILL");
  });

  test("netnsFd opens the namespace for IFLA_NET_NS_FD users", () => {
    const fd = netnsFd(a.name);
    try {
      // fstat of a namespace fd gives the nsfs inode, whichever path opened it.
      expect(fstatSync(fd).ino).toBe(netnsInode(a.name));
    } finally {
      libc.close(fd);
    }
    const self = netnsFd(undefined);
    try {
      expect(readlinkSync(`/proc/self/fd/${self}`)).toBe(`net:[${home}]`);
      expect(fstatSync(self).ino).toBe(home);
    } finally {
      libc.close(self);
    }
  });

  test("targets are validated before anything is opened", () => {
    for (const bad of ["", ".", "..", "../etc", "a/b", "/run/netns/x", "/proc/self/ns/net", "/proc/12/ns/mnt", "/proc/0/ns/net", "-x", "x y"]) {
      expect(() => netnsPath(bad)).toThrow(/invalid netns/);
      expect(() => inNetns(bad, () => 1)).toThrow(/invalid netns/);
    }
    expect(netnsPath("hvt-ok_1.2")).toBe("/run/netns/hvt-ok_1.2");
    expect(netnsPath("/proc/4242/ns/net")).toBe("/proc/4242/ns/net");
  });

  test("a missing namespace is ENOENT; a stale /run/netns file is named as such", () => {
    let err: unknown;
    try {
      inNetns(`hvt-missing-${randomBytes(3).toString("hex")}`, () => 1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).code).toBe("ENOENT");

    const name = `hvt-stale-${randomBytes(3).toString("hex")}`;
    stale = `/run/netns/${name}`;
    writeFileSync(stale, "");
    expect(() => inNetns(name, () => 1)).toThrow(/not a network namespace \(stale \/run\/netns entry\?\)/);
    unlinkSync(stale);
  });
});
