// Helper deployment to lab hosts: uploaded once per bundle hash, skipped on the next
// connect, redeployed when the bundle changes, refused on hosts that cannot run it.
// Witness: the host's own view of /var/lib/hvnet/helper (lab hostExec, not SSH).
import { createHash } from "node:crypto";
import { appendFileSync, chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { loadBundle } from "../../provider/transport/deploy";
import { HostRequirementError, TransportError } from "../../provider/transport/errors";
import type { HostSpec } from "../../provider/transport/host-spec";
import { HostPool } from "../../provider/transport/pool";
import { labUp, type Lab } from "../support/lab";
import { requireRoot } from "../support/require-root";
import { connectionOf } from "../support/runtime";

const ECHO_DIR = path.resolve(__dirname, "..", "fixtures", "echo-helper");
let lab: Lab;
let scratch: string;
let specs: HostSpec[];
const pools: HostPool[] = [];

function pool(helperDir = ECHO_DIR): HostPool {
  const p = new HostPool({ helperDir });
  pools.push(p);
  return p;
}

/** "<mode> <owner>:<group> <mtime ns>" of a path inside the host, or "" if absent. */
function statOnHost(host: string, p: string): string {
  return lab.hostExec(host, "sh", ["-c", 'stat -c "%a %U:%G %.9Y" "$1" 2>/dev/null || true', "sh", p]).trim();
}

function listOnHost(host: string): string[] {
  const out = lab.hostExec(host, "sh", ["-c", "ls -A /var/lib/hvnet/helper 2>/dev/null || true"]);
  return out.trim().split("\n").filter(Boolean);
}

beforeAll(async () => {
  requireRoot();
  // Our own files (bundle copies, a fake node) live here, not in the lab's directory.
  scratch = mkdtempSync(path.join(tmpdir(), "hvt-transport-"));
  lab = await labUp({ hosts: 3 });
  specs = lab.inventory.hosts.map((h) => connectionOf(h));
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

afterAll(() => {
  try {
    lab?.down();
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
});

test("first connect uploads the bundle (3 execs + 1 SFTP session); the next connect only starts it (1 exec)", async () => {
  const bundle = loadBundle(ECHO_DIR);
  const final = `/var/lib/hvnet/helper/${bundle.hash}`;
  expect(statOnHost("hv1", final)).toBe("");

  const first = pool();
  const t0 = process.hrtime.bigint();
  const hello = await first.request(specs[0], "hello");
  const firstMs = Number(process.hrtime.bigint() - t0) / 1e6;
  expect(hello).toMatchObject({ version: "echo", hash: bundle.hash, pid: expect.any(Number) });
  expect(first.stats(specs[0])).toMatchObject({ dials: 1, deploys: 1, execs: 3, sftpSessions: 1, helperStarts: 1 });

  const [mode, owner, mtime] = statOnHost("hv1", final).split(" ");
  expect([mode, owner]).toEqual(["700", "root:root"]);
  expect(listOnHost("hv1")).toEqual([bundle.hash]); // no staging directory left behind
  // Root's launcher for this bundle, and no upload left in /var/lib/hvnet.
  expect(statOnHost("hv1", `/var/lib/hvnet/launcher/hvnet-launch-${bundle.hash}`).split(" ").slice(0, 2)).toEqual(["700", "root:root"]);
  expect(lab.hostExec("hv1", "ls", ["-A", "/var/lib/hvnet"]).trim().split("\n").sort()).toEqual(["helper", "launcher"]);
  const onHost = lab.hostExec("hv1", "sha256sum", [`${final}/helper.js`]).split(" ")[0];
  expect(onHost).toBe(createHash("sha256").update(readFileSync(path.join(ECHO_DIR, "helper.js"))).digest("hex"));
  await first.close();

  const second = pool();
  const t1 = process.hrtime.bigint();
  await second.request(specs[0], "echo", { again: true });
  const warmMs = Number(process.hrtime.bigint() - t1) / 1e6;
  expect(second.stats(specs[0])).toMatchObject({ dials: 1, deploys: 0, execs: 1, sftpSessions: 0, helperStarts: 1 });
  expect(statOnHost("hv1", final).split(" ")[2]).toBe(mtime);
  console.log(`deploy: first connect + deploy ${firstMs.toFixed(0)} ms (3 execs, 1 SFTP); warm connect ${warmMs.toFixed(0)} ms (1 exec)`);
});

test("a changed bundle gets its own directory and is deployed again; the old one stays for rollbacks", async () => {
  const copy = path.join(scratch, "echo-helper-v2");
  cpSync(ECHO_DIR, copy, { recursive: true });
  appendFileSync(path.join(copy, "helper.js"), "\n// v2\n");
  writeFileSync(path.join(copy, "VERSION"), "2\n");
  const v1 = loadBundle(ECHO_DIR).hash;
  const v2 = loadBundle(copy).hash;
  expect(v2).not.toBe(v1);

  await pool().request(specs[1], "echo", {});
  const p2 = pool(copy);
  const hello = (await p2.request(specs[1], "hello")) as { hash: string };
  expect(hello.hash).toBe(v2);
  expect(p2.stats(specs[1])).toMatchObject({ deploys: 1, execs: 3 });
  expect(listOnHost("hv2").sort()).toEqual([v1, v2].sort());
  expect(lab.hostExec("hv2", "ls", [`/var/lib/hvnet/helper/${v2}`]).trim().split("\n").sort()).toEqual(["VERSION", "helper.js"]);
});

test("a bundle changed on the host is refused by the launcher before node runs it", async () => {
  const hash = loadBundle(ECHO_DIR).hash;
  await pool().request(specs[1], "echo", {});
  lab.hostExec("hv2", "sh", ["-c", 'echo "// tampered" >> "$1"', "sh", `/var/lib/hvnet/helper/${hash}/helper.js`]);
  const err = await pool().request(specs[1], "echo", {}).catch((e) => e);
  expect(err).toBeInstanceOf(TransportError);
  expect(err.code).toBe("EHELPERSTART");
  expect(err.message).toMatch(new RegExp(`^hv2: helper did not start \\(exit code 4\\); stderr:\\n  hvnet-launch: refusing to start bundle ${hash}: the installed files were changed on the host`));
  lab.hostExec("hv2", "rm", ["-rf", `/var/lib/hvnet/helper/${hash}`]);
  await expect(pool().request(specs[1], "echo", { back: 1 })).resolves.toEqual({ back: 1 });
});

test("a host whose node is older than 20 is refused, naming the host and the version found", async () => {
  // Inside hv3's own mount namespace only: a fake node that reports v18.
  const fake = path.join(scratch, "fake-node");
  writeFileSync(fake, "#!/bin/sh\necho v18.19.0\n");
  chmodSync(fake, 0o755);
  const nodePath = lab.hostExec("hv3", "sh", ["-c", "command -v node"]).trim();
  lab.hostExec("hv3", "mount", ["--bind", fake, nodePath]);
  try {
    const err = await pool().request(specs[2], "echo", {}).catch((e) => e);
    expect(err).toBeInstanceOf(HostRequirementError);
    expect(err.message).toBe(`hv3: cannot run the hvnet helper: ${nodePath} is v18.19.0; the helper needs Node >= 20`);
    expect(listOnHost("hv3")).toEqual([]); // nothing uploaded to a host that cannot run it
  } finally {
    lab.hostExec("hv3", "umount", [nodePath]);
  }
  await expect(pool().request(specs[2], "echo", { ok: 1 })).resolves.toEqual({ ok: 1 });
});
