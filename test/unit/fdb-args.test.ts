// FDB entry arguments: owner and op (who asks) on fdb.apply and fdb.remove, read the same
// way by the general reader and by the fast path an FDB batch takes for plain entries.
import { readFdbArgs, readFdbArgsFast, readFdbKeyArgs } from "../../provider/common/args/fdb";
import { InputReader } from "../../provider/common/validate/reader";
import { RESOURCE_FACTS } from "../../provider/common/schema-facts";
import { OWNERSHIP_FIELD } from "../../provider/common/args/common";

const base = { table: "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb", vlan: 100, mac: "52:54:00:AB:CD:EF", device: "tap0" };

function outcome(fn: () => unknown): { ok: unknown } | { err: string } {
  try {
    return { ok: fn() };
  } catch (e) {
    return { err: (e as Error).message };
  }
}

describe("owner and op: the fast path agrees with the general reader", () => {
  const inputs: unknown[] = [
    { ...base, ownership: { owner: "proj/dev/FdbEntry/vm1-fdb" } },
    { ...base, ownership: { owner: "proj/dev/FdbEntry/vm1-fdb", op: "0f8e2c1a-4b6d-4e2f-9a3b-1c2d3e4f5a6b" } },
    { ...base, ownership: { op: "abcdefgh" } },
    { ...base, ownership: { owner: "proj/dev/FdbEntry/ünïcode ok" } },
    { ...base, ownership: { owner: "x".repeat(512) } },
    { ...base, ownership: { owner: "x".repeat(513) } },
    { ...base, ownership: { owner: "" } },
    { ...base, ownership: { owner: 'a"b' } },
    { ...base, ownership: { owner: "a\\b" } },
    { ...base, ownership: { owner: "a'b" } },
    { ...base, ownership: { owner: "a\nb" } },
    { ...base, ownership: { owner: "a\u007fb" } },
    { ...base, ownership: { owner: 7 } },
    { ...base, ownership: { owner: null } },
    { ...base, ownership: { op: "short" } },
    { ...base, ownership: { op: "has space in it" } },
    { ...base, ownership: { op: "x".repeat(65) } },
    { ...base, ownership: { op: 12345678 } },
    { ...base, ownership: { owner: "p/s/T/n" }, adopt: true },
    { ...base, ownership: null },
    { ...base, ownership: {} },
    { ...base, ownership: "p/s/T/n" },
    { ...base, ownership: ["p/s/T/n"] },
    { ...base, ownership: { owner: "p/s/T/n", extra: 1 } },
  ];
  test.each(inputs.map((i) => [JSON.stringify(i), i]))("%s", (_t, input) => {
    const slow = outcome(() => readFdbArgs(InputReader.of(input)));
    const fast = outcome(() => readFdbArgsFast(input));
    expect(fast).toEqual(slow);
  });

  test("owner and op come through; a bad one names its field", () => {
    expect(readFdbArgsFast({ ...base, ownership: { owner: "p/s/FdbEntry/a", op: "op-12345678" } })).toMatchObject({ owner: "p/s/FdbEntry/a", op: "op-12345678", mac: "52:54:00:ab:cd:ef" });
    expect(readFdbArgsFast(base)).not.toHaveProperty("owner");
    expect(outcome(() => readFdbArgsFast({ ...base, ownership: { owner: 'a"b' } }))).toEqual({ err: expect.stringMatching(/owner/) });
    expect(outcome(() => readFdbArgsFast({ ...base, ownership: { op: "no" } }))).toEqual({ err: expect.stringMatching(/op/) });
  });
});

test("the fast path reads every field it takes for plain (schema.json's plain FdbEntry inputs, ownership: {owner, op})", () => {
  // A plain input added to the schema reaches the fast path's field list by itself: this
  // entry must then give it, and the fast path must keep it as the general reader does.
  const every = { ...base, adopt: true, ownership: { owner: "p/s/FdbEntry/a", op: "op-12345678" } };
  expect(Object.keys(every).sort()).toEqual([...RESOURCE_FACTS.FdbEntry.plainInputs, OWNERSHIP_FIELD].sort());
  expect(readFdbArgsFast(every)).toEqual(readFdbArgs(InputReader.of(every)));
});

describe("fdb.remove arguments", () => {
  test("identity with an optional owner and op", () => {
    expect(readFdbKeyArgs({ table: base.table, mac: base.mac })).toEqual({ table: base.table, vlan: 0, mac: "52:54:00:ab:cd:ef" });
    expect(readFdbKeyArgs({ table: base.table, vlan: 7, mac: base.mac, ownership: { owner: "p/s/FdbEntry/a" } })).toEqual({ table: base.table, vlan: 7, mac: "52:54:00:ab:cd:ef", owner: "p/s/FdbEntry/a" });
  });

  test("a bad owner or an unknown field is refused, naming it", () => {
    expect(outcome(() => readFdbKeyArgs({ table: base.table, mac: base.mac, ownership: { owner: "a\u0000" } }))).toEqual({ err: expect.stringMatching(/owner/) });
    expect(outcome(() => readFdbKeyArgs({ table: base.table, mac: base.mac, device: "tap0" }))).toEqual({ err: expect.stringMatching(/device/) });
  });
});
