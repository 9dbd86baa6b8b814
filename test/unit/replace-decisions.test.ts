// Every replace/update decision, for every resource kind and every property of its schema:
// what changing that one property does. The table was taken from the hand-written kind
// descriptors before schema.json became their source, so any declaration that would change
// a decision fails here, naming the kind and the property.
import { KINDS } from "../../provider/kinds";
import { diffInputs } from "../../provider/runtime/diff";

const schema = require("../../schema.json");
const HOST = { address: "198.18.0.10", port: 22, user: "root", hostKey: "SHA256:abc", privateKey: "secret" };

type Decision = "replace" | "replace, delete first" | "update" | "none";

const DECISIONS: Record<string, Record<string, Decision>> = {
  RssContext: {
    device: "replace", queues: "update", flows: "update", hashKey: "update", hashFunction: "update", shrinkDefault: "update",
    contextId: "none", adopt: "none", ruleIds: "none", indirectionTable: "none",
  },
  NetkitLower: {
    name: "replace, delete first", lowerDevice: "replace, delete first", queues: "replace, delete first", mode: "replace, delete first",
    netns: "replace, delete first", policy: "update", headroom: "replace, delete first", tailroom: "replace, delete first",
    api: "none", adopt: "none", ifindex: "none", leases: "none", qemuNetdev: "none",
  },
  XdpProgram: {
    device: "replace, delete first", program: "update", mode: "replace, delete first", netns: "replace, delete first",
    pinDir: "replace, delete first", adopt: "none", programId: "none", programTag: "none", linkId: "none", linkPin: "none",
    maps: "none", attachMode: "none",
  },
  FdbEntry: { table: "replace", vlan: "replace", mac: "replace", device: "update", ingressAcl: "update", adopt: "none", ifindex: "none" },
  FdbTable: { table: "replace", entries: "update", adopt: "none", count: "none" },
  VmInterface: {
    name: "replace, delete first", vcpus: "update", queues: "replace, delete first", mac: "update", vlan: "update",
    addresses: "update", owner: "update", mtu: "update", offloads: "update", uplink: "update", egress: "update",
    netns: "replace, delete first", adopt: "none", ifindex: "none", qemuArgs: "none", libvirtXml: "none",
  },
};

function decide(typeName: string, name: string): Decision {
  const r = schema.resources[`hvnet:index:${typeName}`];
  const olds: Record<string, unknown> = { host: HOST };
  for (const n of [...Object.keys(r.inputProperties), ...Object.keys(r.properties)]) if (n !== "host") olds[n] = `old-${n}`;
  const d = diffInputs(KINDS[typeName], olds, { ...olds, [name]: `new-${name}` });
  if (!d.changes) return "none";
  if (d.replaces.length === 0) return "update";
  return d.deleteBeforeReplace ? "replace, delete first" : "replace";
}

test("the table covers every kind and every property of its schema", () => {
  expect(Object.keys(DECISIONS).sort()).toEqual(Object.keys(KINDS).sort());
  for (const typeName of Object.keys(KINDS)) {
    const r = schema.resources[`hvnet:index:${typeName}`];
    const names = new Set([...Object.keys(r.inputProperties), ...Object.keys(r.properties)].filter((n) => n !== "host"));
    expect(Object.keys(DECISIONS[typeName]).sort()).toEqual([...names].sort());
  }
});

describe.each(Object.keys(DECISIONS))("%s", (typeName) => {
  test.each(Object.entries(DECISIONS[typeName]))("changing %s: %s", (name, expected) => {
    expect(decide(typeName, name)).toBe(expected);
  });
});
