// HostSpec validation: every message names the field and the value, and no I/O happens.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectionKey, describeConnection, hostIdentity, validateHostSpec, withDefaults, isDnsName, type HostSpec } from "../../provider/transport/host-spec";

let dir: string;
let privateKey: string;
let hostKeyLine: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hvt-spec-"));
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", join(dir, "id")]);
  privateKey = readFileSync(join(dir, "id"), "utf8");
  hostKeyLine = readFileSync(join(dir, "id.pub"), "utf8").trim();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good = (): HostSpec => ({ address: "hv1.example.net", privateKey, hostKey: hostKeyLine });

test("a complete spec validates, with defaults port 22 and user root", () => {
  expect(validateHostSpec(good())).toEqual([]);
  const d = withDefaults(good());
  expect(d.port).toBe(22);
  expect(d.user).toBe("root");
  expect(validateHostSpec({ address: "10.1.2.3", agentSocket: "/run/agent.sock", hostKey: "SHA256:" + "A".repeat(43) })).toEqual([]);
  expect(validateHostSpec({ address: "fd00::1", privateKey, insecureIgnoreHostKey: true })).toEqual([]);
});

test("hostKey is required unless insecureIgnoreHostKey is said explicitly", () => {
  expect(validateHostSpec({ address: "h1", privateKey })).toEqual([
    "host.hostKey is required (or set host.insecureIgnoreHostKey: true)",
  ]);
  expect(validateHostSpec({ address: "h1", privateKey, insecureIgnoreHostKey: false })).toContain(
    "host.hostKey is required (or set host.insecureIgnoreHostKey: true)",
  );
  expect(validateHostSpec({ ...good(), insecureIgnoreHostKey: true })).toEqual([
    "host.hostKey and host.insecureIgnoreHostKey: true contradict each other; set one",
  ]);
});

test("port, address and user errors name the field and the value", () => {
  expect(validateHostSpec({ ...good(), port: 70000 })).toEqual(["host.port must be 1-65535, got 70000"]);
  expect(validateHostSpec({ ...good(), port: 0 })).toEqual(["host.port must be 1-65535, got 0"]);
  expect(validateHostSpec({ ...good(), port: 22.5 })).toEqual(["host.port must be 1-65535, got 22.5"]);
  expect(validateHostSpec({ ...good(), address: "a b" })).toEqual(['host.address "a b" is not an IP address or DNS name']);
  expect(validateHostSpec({ ...good(), address: "1.2.3" })).toEqual(['host.address "1.2.3" is not an IP address or DNS name']);
  expect(validateHostSpec({ ...good(), address: "" })).toEqual(["host.address is required"]);
  expect(validateHostSpec({ ...good(), user: "bob; rm -rf /" })).toEqual(['host.user "bob; rm -rf /" is not a valid user name']);
  expect(validateHostSpec({ ...good(), name: "rack1/hv3" })[0]).toMatch(/^host\.name "rack1\/hv3" must be .*no "\/"/);
});

test("bad host keys are described, and the private key never appears in a message", () => {
  const [fp] = validateHostSpec({ ...good(), hostKey: "SHA256:tooshort" });
  expect(fp).toMatch(/^host\.hostKey "SHA256:tooshort" is not a SHA256 fingerprint/);
  const [md5] = validateHostSpec({ ...good(), hostKey: "aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99" });
  expect(md5).toMatch(/^host\.hostKey MD5 fingerprints are not accepted/);
  const [line] = validateHostSpec({ ...good(), hostKey: "ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ" });
  expect(line).toMatch(/^host\.hostKey the key in the ssh-ed25519 line does not decode to a ssh-ed25519 key/);

  const broken = privateKey.replace(/\n[A-Za-z0-9+/]{20}/, "\n" + "x".repeat(20));
  const msgs = validateHostSpec({ ...good(), privateKey: broken });
  expect(msgs).toHaveLength(1);
  expect(msgs[0]).toMatch(/^host\.privateKey is not a usable private key/);
  expect(msgs.join("\n")).not.toContain(broken.split("\n")[1]);
  expect(validateHostSpec({ address: "h1", hostKey: hostKeyLine })).toEqual(["host.privateKey or host.agentSocket is required"]);
});

test("jumpHost is validated recursively with its own field path; unknown fields are named", () => {
  const msgs = validateHostSpec({ ...good(), jumpHost: { address: "bastion", privateKey, port: 99999 }, adress: "typo" }, "args.host");
  expect(msgs).toEqual([
    "args.host.adress is not a known field (known: address, port, user, privateKey, agentSocket, hostKey, insecureIgnoreHostKey, jumpHost, name)",
    "args.host.jumpHost.port must be 1-65535, got 99999",
    "args.host.jumpHost.hostKey is required (or set args.host.jumpHost.insecureIgnoreHostKey: true)",
  ]);
  expect(validateHostSpec("hv1")).toEqual(['host must be an object with at least "address" and "hostKey", got string']);
});

test("identity is the name, else the address", () => {
  expect(hostIdentity({ address: "10.0.0.1" })).toBe("10.0.0.1");
  expect(hostIdentity({ address: "10.0.0.1", name: "hv1" })).toBe("hv1");
  expect(isDnsName("hv-1.rack2.example.")).toBe(true);
  expect(isDnsName("-bad.example")).toBe(false);
  expect(isDnsName("a".repeat(64) + ".example")).toBe(false);
});

test("the connection key holds every detail that reaches another machine, and no credential", () => {
  const base = good();
  const key = connectionKey(base);
  expect(connectionKey({ ...base, port: 22, user: "root" })).toBe(key);
  expect(connectionKey({ ...base, privateKey: "another key" })).toBe(key);
  expect(connectionKey({ ...base, agentSocket: "/run/agent.sock" })).toBe(key);
  const others: Partial<HostSpec>[] = [
    { address: "hv2.example.net" }, { port: 2222 }, { user: "ops" }, { hostKey: "SHA256:" + "A".repeat(43) },
    { name: "hv1" }, { jumpHost: { address: "bastion", privateKey, hostKey: hostKeyLine } },
  ];
  const keys = others.map((o) => connectionKey({ ...base, ...o }));
  expect(new Set([key, ...keys]).size).toBe(others.length + 1);
  expect(key).not.toContain(privateKey.split("\n")[1]);
  expect(connectionKey({ ...base, jumpHost: { address: "bastion", privateKey, hostKey: hostKeyLine, port: 2222 } }))
    .not.toBe(connectionKey({ ...base, jumpHost: { address: "bastion", privateKey, hostKey: hostKeyLine } }));
});

test("a connection is described by user, address and port, through its jump host, never by key", () => {
  expect(describeConnection(good())).toBe("root@hv1.example.net:22");
  expect(describeConnection({ ...good(), user: "ops", port: 2222, jumpHost: { address: "10.0.0.1", privateKey, hostKey: hostKeyLine } }))
    .toBe("ops@hv1.example.net:2222 via root@10.0.0.1:22");
});

test("agentSocket with a control character is refused, the character named", () => {
  expect(validateHostSpec({ address: "h1", hostKey: hostKeyLine, agentSocket: "/run/a\nb" })).toEqual(['host.agentSocket "/run/a\\nb" contains the control character U+000A']);
});
