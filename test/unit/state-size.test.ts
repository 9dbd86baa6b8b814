// The state budget's unit side (provider/runtime/dynamic.ts): a host that the stack config
// gives exactly as the program does is checked into the state without its private keys,
// and every later operation takes them from the config of its run. A host the config
// does not give keeps its keys (nothing else could give them back). No host is contacted:
// what needs a connection fails, or is refused, before one is made.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { check, configure, diff, read, remove, update } from "../../provider/runtime/dynamic";
import { forgetCheckedHosts } from "../../provider/runtime/check";
import type { HostSpec } from "../../provider/transport/host-spec";

let dir: string;
let privateKey: string;
let otherKey: string;
const HOST_KEY = "SHA256:" + "A".repeat(43);
const ID = "hv1/fdb/%2Fsys%2Ffs%2Fbpf%2Ft/100/52:54:00:00:00:01";

const config = (values: Record<string, unknown>) => ({ get: (k: string) => values[k.includes(":") ? k : `proj:${k}`] });
const host = (over: Partial<HostSpec> = {}): HostSpec => ({ name: "hv1", address: "198.18.0.11", port: 22, user: "root", hostKey: HOST_KEY, privateKey, ...over });
const entry = (h: unknown) => ({ host: h, table: "/sys/fs/bpf/t", vlan: 100, mac: "52:54:00:00:00:01", device: "tap0", __owner: "p/s/FdbEntry/e" });

function configureWith(hosts: HostSpec[]): void {
  configure(config({ "proj:hosts": JSON.stringify(hosts.map((h) => ({ ...h, uplink: "eth0" }))) }));
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "hvt-statesize-"));
  for (const f of ["a", "b"]) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", path.join(dir, f)]);
  privateKey = readFileSync(path.join(dir, "a"), "utf8");
  otherKey = readFileSync(path.join(dir, "b"), "utf8");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => forgetCheckedHosts());
afterEach(() => configure(config({})));

test("a host the stack config gives as the program does is checked without its private keys", async () => {
  const jump = { name: "bastion", address: "198.18.0.1", hostKey: HOST_KEY, privateKey };
  configureWith([host({ jumpHost: jump })]);
  const { inputs, failures } = await check("FdbEntry", {}, entry(host({ jumpHost: jump })));
  expect(failures).toEqual([]);
  // The host's identity and machine only, no secret to keep: key, host key and jump host
  // come from the config of each run.
  expect(inputs.host).toBeUndefined();
  expect(inputs.__host).toEqual({ name: "hv1", address: "198.18.0.11" });
  expect(inputs).not.toHaveProperty("adopt"); // the default, not stored
  expect(JSON.stringify(inputs)).not.toContain("PRIVATE KEY");
  // Checking the checked inputs again (Pulumi may) keeps them as they are: no key comes back.
  forgetCheckedHosts();
  expect((await check("FdbEntry", {}, entry(host({ jumpHost: jump })))).inputs).toEqual(inputs);
});

test("a host given differently from the config, or not in it, keeps its keys", async () => {
  configureWith([host({ privateKey: otherKey })]);
  expect((await check("FdbEntry", {}, entry(host()))).inputs.host).toMatchObject({ privateKey });
  configure(config({}));
  forgetCheckedHosts();
  expect((await check("FdbEntry", {}, entry(host()))).inputs.host).toMatchObject({ privateKey });
});

test("refresh, update and destroy of a host whose keys the state does not keep, with the host gone from the config, say what to do", async () => {
  configureWith([host()]);
  const { inputs } = await check("FdbEntry", {}, entry(host()));
  expect(inputs.__host).toEqual({ name: "hv1", address: "198.18.0.11" });
  configureWith([host({ name: "hv2", address: "198.18.0.12" })]);
  const message = /host "hv1" came from the stack config `hosts` \(or the lab inventory\), so the state keeps no private key for it, and the config this run sees has no host "hv1": add "hv1" back to config `hosts` or to the inventory file/;
  await expect(read("FdbEntry", ID, inputs)).rejects.toThrow(message);
  await expect(remove("FdbEntry", ID, inputs)).rejects.toThrow(message);
  await expect(update("FdbEntry", ID, inputs, inputs)).rejects.toThrow(message);
  await expect(read("FdbEntry", ID, inputs)).rejects.toThrow(/FdbEntry read of hv1\/fdb\//);
});

test("diff sees a host reference as the host: the same reference is no change, another machine of that name an update, another name a replacement", async () => {
  configureWith([host(), host({ name: "hv2", address: "198.18.0.12" })]);
  const { inputs } = await check("FdbEntry", {}, entry(host()));
  expect(await diff("FdbEntry", ID, { ...inputs, ifindex: 3 }, inputs)).toMatchObject({ changes: false });
  // The same resource given its host inline (keys in the state from now on): an update.
  configure(config({}));
  forgetCheckedHosts();
  const inline = (await check("FdbEntry", {}, entry(host()))).inputs;
  expect(inline.host).toMatchObject({ privateKey });
  expect(await diff("FdbEntry", ID, inputs, inline)).toMatchObject({ changes: true, replaces: [] });
  expect(await diff("FdbEntry", ID, inputs, { ...inputs, __host: { name: "hv2", address: "198.18.0.12" } })).toMatchObject({ replaces: ["host"] });
});
