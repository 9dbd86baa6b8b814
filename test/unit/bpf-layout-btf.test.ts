// The TypeScript mirror (provider/helper/datapath/) against the BTF clang wrote into
// the datapath objects: every struct's size, member names and offsets, the maps' key and
// value types and capacities, and the built-in program names. A field added, moved or
// resized on one side only fails here; so does a counter renamed in hvnet.h only.
// Needs clang and bpftool, not root.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { COUNTERS } from "../../provider/common/counters";
import { FDB_MAX_ENTRIES, INGRESS_ACL_MAX_ENTRIES, PORTS_MAX_ENTRIES } from "../../provider/helper/datapath/limits";
import { STRUCTS, StructName } from "../../provider/helper/datapath/structs";
import { PROGRAM_OBJECTS } from "../../provider/helper/datapath/programs";
import { counterEnumName } from "../../provider/helper/datapath/counters";
import { requireCommand } from "../support/require-root";
import { buildDatapath } from "../datapath/support/build";

interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  linkage?: string;
  members?: Array<{ name: string; type_id: number; bits_offset: number }>;
  values?: Array<{ name: string; val: number }>;
  vars?: Array<{ type_id: number }>;
}

class Btf {
  readonly byId = new Map<number, BtfType>();
  constructor(readonly types: BtfType[]) {
    for (const t of types) this.byId.set(t.id, t);
  }
  named(kind: string, name: string): BtfType | undefined {
    return this.types.find((t) => t.kind === kind && t.name === name);
  }
  /** Follows typedefs and qualifiers to the underlying type. */
  resolve(id: number): BtfType {
    let t = this.byId.get(id)!;
    while (["TYPEDEF", "VOLATILE", "CONST", "RESTRICT", "TYPE_TAG"].includes(t.kind)) t = this.byId.get(t.type_id!)!;
    return t;
  }
  /** The .maps variables: name → {type, max_entries, key, value} as BTF types. */
  maps(): Map<string, { type: number; maxEntries: number; key?: BtfType; value?: BtfType }> {
    const out = new Map<string, { type: number; maxEntries: number; key?: BtfType; value?: BtfType }>();
    const sec = this.named("DATASEC", ".maps");
    for (const v of sec?.vars ?? []) {
      const variable = this.byId.get(v.type_id)!;
      const def = this.resolve(variable.type_id!);
      const member = (n: string): BtfType | undefined => {
        const m = def.members!.find((x) => x.name === n);
        return m ? this.resolve(m.type_id) : undefined;
      };
      // __uint(name, N) is "int (*name)[N]" and __type(name, T) is "T *name" (bpf_helpers.h).
      const num = (n: string): number => this.resolve(member(n)!.type_id!).nr_elems!;
      const pointee = (n: string): BtfType | undefined => {
        const p = member(n);
        return p ? this.resolve(p.type_id!) : undefined;
      };
      out.set(variable.name, { type: num("type"), maxEntries: num("max_entries"), key: pointee("key"), value: pointee("value") });
    }
    return out;
  }
}

const OBJECTS = ["l2fwd.o", "vm_egress.o", "vm_ingress_acl.o", "pass.o", "xdp_drop.o", "classic_fwd.o"];
const btfs = new Map<string, Btf>();

beforeAll(() => {
  requireCommand("bpftool");
  const dir = buildDatapath();
  for (const o of OBJECTS) {
    const out = execFileSync("bpftool", ["-j", "btf", "dump", "file", join(dir, o)], { encoding: "utf8" });
    btfs.set(o, new Btf((JSON.parse(out) as { types: BtfType[] }).types));
  }
});

describe("provider/helper/datapath mirrors the BTF of the built objects", () => {
  test.each(Object.keys(STRUCTS) as StructName[])("struct %s: size, member names and offsets", (name) => {
    const found = [...btfs.entries()].filter(([, b]) => b.named("STRUCT", name));
    expect(found.length).toBeGreaterThan(0);
    for (const [, btf] of found) {
      const t = btf.named("STRUCT", name)!;
      const members = Object.fromEntries(t.members!.map((m) => [m.name, m.bits_offset / 8]));
      expect({ size: t.size, members }).toEqual(STRUCTS[name]);
    }
  });

  test("counter names and values equal enum hvnet_counter_index of hvnet.h", () => {
    // The enum never reaches the BTF (no map or variable has it as its type: array maps
    // must have INT keys), so the header itself is the witness here.
    const header = readFileSync(join(__dirname, "..", "..", "bpf", "include", "hvnet.h"), "utf8");
    const body = /enum hvnet_counter_index \{([^}]*)\}/.exec(header)?.[1] ?? "";
    const values = [...body.matchAll(/(HVNET_CNT_[A-Z0-9_]+)\s*=\s*(\d+)/g)].map((m) => ({ name: m[1], val: Number(m[2]) }));
    const expected = [...COUNTERS.map((n, i) => ({ name: counterEnumName(n), val: i })), { name: "HVNET_CNT_MAX", val: COUNTERS.length }];
    expect(values).toEqual(expected);
  });

  test("maps: key and value types, sizes and capacities", () => {
    const MAP = { HASH: 1, ARRAY: 2, PERCPU_ARRAY: 6, DEVMAP_HASH: 25 };
    const l2 = btfs.get("l2fwd.o")!.maps();
    expect(l2.get("fdb")).toMatchObject({ type: MAP.HASH, maxEntries: FDB_MAX_ENTRIES });
    expect(l2.get("fdb")!.key!.name).toBe("hvnet_fdb_key");
    expect(l2.get("fdb")!.value!.name).toBe("hvnet_fdb_value");
    expect(l2.get("ports")).toMatchObject({ type: MAP.DEVMAP_HASH, maxEntries: PORTS_MAX_ENTRIES });
    expect(l2.get("ports")!.value).toMatchObject({ name: "bpf_devmap_val", size: 8 });
    expect(l2.get("stats")).toMatchObject({ type: MAP.PERCPU_ARRAY, maxEntries: COUNTERS.length });
    expect(l2.get("stats")!.value!.name).toBe("hvnet_counter");

    const eg = btfs.get("vm_egress.o")!.maps();
    expect(eg.get("vm_config")).toMatchObject({ type: MAP.ARRAY, maxEntries: 1 });
    expect(eg.get("vm_config")!.value).toMatchObject({ name: "hvnet_vm_config", size: STRUCTS.hvnet_vm_config.size });
    expect(eg.get("acl")!.value).toMatchObject({ name: "hvnet_acl", size: STRUCTS.hvnet_acl.size });

    const ing = btfs.get("vm_ingress_acl.o")!.maps();
    expect(ing.get("ingress_acl")).toMatchObject({ type: MAP.HASH, maxEntries: INGRESS_ACL_MAX_ENTRIES });
    expect(ing.get("ingress_acl")!.value!.name).toBe("hvnet_acl");

    // The benchmark's yardstick uses the same FDB layout, so one encoder fills both.
    const classic = btfs.get("classic_fwd.o")!.maps();
    expect(classic.get("fdb")!.key!.name).toBe("hvnet_fdb_key");
  });

  test("built-in programs: object, function and declared maps exist", () => {
    for (const [builtin, b] of Object.entries(PROGRAM_OBJECTS)) {
      const btf = btfs.get(b.object);
      expect({ builtin, hasObject: btf !== undefined }).toEqual({ builtin, hasObject: true });
      const fn = btf!.named("FUNC", b.program);
      expect({ builtin, linkage: fn?.linkage }).toEqual({ builtin, linkage: "global" });
      expect([...btf!.maps().keys()].sort()).toEqual([...b.maps].sort());
    }
  });
});
