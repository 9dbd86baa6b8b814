// Unit: how the fleet runner cuts an inventory into shard stacks and orders them, which
// host an engine step belongs to, and the `hvnet fleet` flags refused before any stack
// is touched. No Pulumi, no hosts.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { hostOfStep, planShards, readFleetInventory, splitShards, type FleetHost } from "../../sdk/fleet";
import { planFromFlags, type FleetFlags } from "../../cli/commands/fleet";
import { UsageError } from "../../cli/errors";

const KEY = "SHA256:" + "A".repeat(43);

function host(name: string, labels: Record<string, string> = {}): FleetHost {
  return { name, labels, config: { name, address: "192.0.2.1", hostKey: KEY, privateKey: "k", uplink: "eth1" } };
}

const six = ["a1", "a2", "b1", "b2", "c1", "c2"].map((n) => host(n, { rack: `r${n[0]}` }));
const names = (s: { name: string; hosts: FleetHost[] }[]) => s.map((x) => `${x.name}:${x.hosts.map((h) => h.name).join(",")}`);

describe("splitShards", () => {
  test("by label: one shard per value, in order of first appearance, hosts in inventory order", () => {
    const mixed = [host("x", { rack: "r2" }), host("y", { rack: "r1" }), host("z", { rack: "r2" })];
    expect(names(splitShards(mixed, { label: "rack" }))).toEqual(["r2:x,z", "r1:y"]);
  });

  test("by size: the last shard takes the rest; names sort as numbers", () => {
    expect(names(splitShards(six, { size: 4 }))).toEqual(["1:a1,a2,b1,b2", "2:c1,c2"]);
    const many = Array.from({ length: 23 }, (_, i) => host(`h${i}`));
    expect(splitShards(many, { size: 2 }).map((s) => s.name).slice(0, 2)).toEqual(["01", "02"]);
    expect(splitShards(many, { size: 2 })).toHaveLength(12);
  });

  test("a host without the label, a label that cannot name a stack, and a bad size are refused naming the host or value", () => {
    expect(() => splitShards([host("a", { rack: "r1" }), host("b")], { label: "rack" })).toThrow(/host b has no label rack/);
    expect(() => splitShards([host("a", { rack: "r 1" })], { label: "rack" })).toThrow(/host a: label rack="r 1" cannot name a stack/);
    expect(() => splitShards(six, { size: 0 })).toThrow(/shard size must be a whole number >= 1, got 0/);
  });
});

describe("planShards", () => {
  const shards = splitShards(six, { label: "rack" });
  test("the first shard is the canary by default; a named canary goes first; false: none", () => {
    expect(planShards(shards, undefined).canary?.name).toBe("ra");
    const named = planShards(shards, "rb");
    expect([named.canary?.name, ...named.rest.map((s) => s.name)]).toEqual(["rb", "ra", "rc"]);
    expect(planShards(shards, false).canary).toBeUndefined();
    expect(planShards(shards, false).rest).toHaveLength(3);
  });

  test("only: runs the named shards; an unknown shard or canary is refused listing the plan", () => {
    expect(planShards(shards, undefined, ["rc"])).toEqual({ rest: [shards[2]] });
    expect(() => planShards(shards, undefined, ["rx"])).toThrow(/shard rx is not in the plan \(shards: ra, rb, rc\)/);
    expect(() => planShards(shards, "rx")).toThrow(/canary shard rx is not among the shards to run \(ra, rb, rc\)/);
  });
});

test("hostOfStep: the id's host first, else the longest host name the resource name starts with", () => {
  const hosts = ["hv1", "hv10"];
  expect(hostOfStep({ urn: "urn:pulumi:s::p::hvnet:index:XdpProgram::whatever", new: { id: "hv10/xdp/uplink0" } }, hosts)).toBe("hv10");
  expect(hostOfStep({ urn: "urn:pulumi:s::p::hvnet:index:FdbEntry::hv10-vm1-fdb" }, hosts)).toBe("hv10");
  expect(hostOfStep({ urn: "urn:pulumi:s::p::hvnet:index:FdbEntry::hv1-vm1-fdb", old: { id: "hv1/fdb/x" } }, hosts)).toBe("hv1");
  expect(hostOfStep({ urn: "urn:pulumi:s::p::hvnet:index:FdbEntry::hv100-x" }, hosts)).toBeUndefined();
});

describe("inventory and flags", () => {
  let dir: string;
  let key: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "hvfleet-unit-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "id")]);
    key = readFileSync(path.join(dir, "id"), "utf8");
    writeFileSync(path.join(dir, "Pulumi.yaml"), "name: t\nruntime: nodejs\n");
    writeFileSync(path.join(dir, "inv.json"), JSON.stringify({
      hosts: [
        { name: "hv1", address: "198.18.0.1", port: 22, user: "root", hostKey: KEY, privateKeyPath: "id", uplink: "uplink0", netns: "ns1", labels: { rack: "r1" } },
        { name: "hv2", address: "198.18.0.2", hostKey: KEY, privateKeyPath: "id", uplink: "uplink0", rack: "r2" },
      ],
    }));
    writeFileSync(path.join(dir, "nokey.json"), JSON.stringify([{ name: "hv1", address: "198.18.0.1", privateKeyPath: "id", uplink: "u" }]));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("the stack config entry holds the connection, its key and the uplink; labels and key paths stay out", () => {
    const hosts = readFleetInventory(path.join(dir, "inv.json"));
    expect(hosts.map((h) => h.labels.rack)).toEqual(["r1", "r2"]);
    expect(hosts[0].config).toEqual({ name: "hv1", address: "198.18.0.1", port: 22, user: "root", hostKey: KEY, privateKey: key, uplink: "uplink0" });
  });

  test("a host without a host key is refused naming it, without its key", () => {
    let msg = "";
    try {
      readFleetInventory(path.join(dir, "nokey.json"));
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/hosts\[0\] \(hv1\): .*hostKey/);
    expect(msg).not.toContain(key.split("\n")[1]);
  });

  const flags = (f: Partial<FleetFlags>): FleetFlags => ({ concurrency: "4", stackPrefix: "fleet", config: [], project: dir, inventory: path.join(dir, "inv.json"), ...f });
  test.each<[string, Partial<FleetFlags>, RegExp]>([
    ["no project", { project: undefined }, /--project DIR is required/],
    ["a project without Pulumi.yaml", { project: "/tmp", shardSize: "1" }, /--project \/tmp: no Pulumi.yaml there/],
    ["both shard flags", { shardBy: "rack", shardSize: "2" }, /give one of --shard-by LABEL or --shard-size N/],
    ["no shard flag", {}, /give one of --shard-by LABEL or --shard-size N/],
    ["a bad size", { shardSize: "two" }, /--shard-size must be a whole number >= 1, got "two"/],
    ["a bad concurrency", { shardSize: "1", concurrency: "0" }, /--concurrency must be a whole number >= 1, got "0"/],
    ["an unknown canary", { shardBy: "rack", canary: "r9" }, /canary shard r9 is not among/],
    ["a missing inventory", { shardSize: "1", inventory: "/nonexistent/inv.json" }, /inventory \/nonexistent\/inv.json: no such file/],
    ["hosts in --config", { shardSize: "1", config: ["hosts=[]"] }, /--config hosts: every shard gets its own hosts/],
  ])("%s is a usage error (exit 2)", (_what, f, message) => {
    let err: unknown;
    try {
      planFromFlags(flags(f));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
  });

  test("good flags give the plan", () => {
    const plan = planFromFlags(flags({ shardBy: "rack", canary: "r2", config: ["canary=false", "vlan=7"] }));
    expect(plan.canary).toBe("r2");
    expect(plan.config).toEqual({ canary: "false", vlan: "7" });
    expect(plan.shardBy).toEqual({ label: "rack" });
  });
});
