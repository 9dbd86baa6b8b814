// The SDK's wire forms (sdk/wire-forms.ts): FdbTable entries a program gives as a plain list
// go keyed, exactly as check keys them, and check returns the same for either form; a list
// check refuses, or one holding Outputs, goes as given; schema.json and the SDK name the same forms.
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { KINDS } from "../../provider/kinds";
import { checkInputs, forgetCheckedHosts } from "../../provider/runtime/check";
import { WIRE_FORMS, wireForm } from "../../sdk/wire-forms";
import { ed25519PrivateKey } from "../support/keys";

const HOST = { address: "198.18.0.10", hostKey: "SHA256:" + "A".repeat(43), privateKey: ed25519PrivateKey() };
const TABLE = "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb";
const ACL = { rules: [{ action: "allow", protocol: "tcp", dstPorts: { from: 22, to: 22 } }], defaultAction: "deny" };
const check = (entries: unknown) => checkInputs(KINDS.FdbTable, { host: HOST, table: TABLE, entries });

beforeEach(() => forgetCheckedHosts());

test("a plain list goes keyed as check keys it, and check returns the same for both forms", () => {
  const list = [
    { vlan: 200, mac: "52:54:00:00:00:01", device: "tap2" },
    { mac: "52-54-00-00-00-0A", device: "tap0" },
    { vlan: 100, mac: "52:54:00:00:00:02", device: "tap1", ingressAcl: ACL },
  ];
  const sent = wireForm("FdbTable", "entries", list);
  const fromList = check(list);
  expect(fromList.failures).toEqual([]);
  expect(sent).toEqual(fromList.inputs.entries);
  expect(Object.keys(sent as object)).toEqual(Object.keys(fromList.inputs.entries as object));
  const fromSent = check(sent);
  expect(fromSent.failures).toEqual([]);
  expect(fromSent.inputs).toEqual(fromList.inputs);
});

test("a list check refuses goes as given, so check names entries[i]", () => {
  const repeated = [
    { vlan: 7, mac: "02:00:00:00:00:01", device: "a" },
    { vlan: 7, mac: "02:00:00:00:00:01", device: "b" },
  ];
  expect(wireForm("FdbTable", "entries", repeated)).toBe(repeated);
  expect(check(repeated).failures.map((f) => f.property)).toEqual(["entries[1]"]);
  const bad = [{ vlan: 7, mac: "not-a-mac", device: "a" }];
  expect(wireForm("FdbTable", "entries", bad)).toBe(bad);
  expect(check(bad).failures.map((f) => f.property)).toEqual(["entries[0].mac"]);
});

test("a list holding an Output or a promise, and anything not a list, go as given", () => {
  const withOutput = [{ vlan: 1, mac: "02:00:00:00:00:01", device: pulumi.output("tap0") }];
  const withPromise = [{ vlan: 1, mac: "02:00:00:00:00:01", device: Promise.resolve("tap0") }];
  for (const v of [withOutput, withPromise, pulumi.output([]), undefined, { "1/02:00:00:00:00:01": "tap0" }]) {
    expect(wireForm("FdbTable", "entries", v)).toBe(v);
  }
});

test("schema.json's sdkWireForms and the SDK's forms are the same set", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { schemaFacts } = require(path.join(__dirname, "..", "..", "scripts", "schema-facts.js"));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const schema = require(path.join(__dirname, "..", "..", "schema.json"));
  const declared = Object.entries(schemaFacts(schema) as Record<string, { sdkWireForms: string[] }>).flatMap(([type, f]) => f.sdkWireForms.map((k) => `${type}.${k}`));
  expect([...declared].sort()).toEqual([...WIRE_FORMS].sort());
  expect(() => wireForm("FdbTable", "table", "x")).toThrow("does not have");
});
