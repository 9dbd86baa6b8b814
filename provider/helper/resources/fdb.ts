// FdbEntry: fdb.apply / fdb.show / fdb.remove, and fdb.apply in batches (one map batch
// update for many entries). The table is an l2fwd attachment's `fdb` map; its `ports`
// devmap must hold every device an entry points at (the redirect target), with the
// device's ingress ACL program when it has one.
import * as fs from "node:fs";
import * as path from "node:path";
import { InputReader } from "../validate/reader";
import { BpfMap, BpfObject, BpfProgram, encodeDevmapValue, decodeDevmapValue, encodeU32Key } from "../kernel/bpf";
import { mkdirpBpffs } from "../kernel/bpf/pin";
import { RtNetlink } from "../kernel/netlink/rtnetlink";
import * as layout from "../bpf-layout";
import { OpError, toErrorBody } from "../rpc/errors";
import { Outcome } from "../rpc/protocol";
import { readRecord } from "../state/registry";
import { withLock } from "../state/lock";
import { builtin } from "../bpf-objects";
import { FdbArgs, readFdbArgs, readFdbArgsFast } from "./fdb-args";
import { Acl } from "./common-args";
import { toLayoutAcl, fromLayoutAcl } from "./acl-convert";
import { XDP_RECORDS, XdpRecord, withRt } from "./xdp";

interface Table {
  pinDir: string;
  netns?: string;
  fdb: BpfMap;
  ports: BpfMap;
  close(): void;
}

/** `<pinDir>/maps/fdb` → the attachment it belongs to. */
function openTable(tablePin: string): Table {
  if (!fs.existsSync(tablePin)) {
    throw new OpError("ENOENT", `table ${tablePin} does not exist: apply the l2fwd XdpProgram first`);
  }
  const mapsDir = path.dirname(tablePin);
  const pinDir = path.dirname(mapsDir);
  const record = readRecord<XdpRecord>(XDP_RECORDS, pinDir);
  const fdb = BpfMap.fromPin(tablePin);
  if (fdb.keySize !== layout.STRUCTS.hvnet_fdb_key.size || fdb.valueSize !== layout.STRUCTS.hvnet_fdb_value.size) {
    fdb.close();
    throw new OpError("EINVAL", `table ${tablePin} is not an l2fwd FDB map (key ${fdb.keySize} B, value ${fdb.valueSize} B)`);
  }
  const portsPin = `${mapsDir}/ports`;
  if (!fs.existsSync(portsPin)) {
    fdb.close();
    throw new OpError("ENOENT", `table ${tablePin} has no ports map beside it (${portsPin})`);
  }
  const ports = BpfMap.fromPin(portsPin);
  return {
    pinDir,
    netns: record?.netns,
    fdb,
    ports,
    close() {
      fdb.close();
      ports.close();
    },
  };
}

/** The vm-ingress-acl program and its rules map, one per table, pinned beside it. */
function ingressAclProgram(table: Table): { prog: BpfProgram; rules: BpfMap } {
  const dir = `${table.pinDir}/ingress-acl`;
  const progPin = `${dir}/prog`;
  const rulesPin = `${dir}/ingress_acl`;
  if (fs.existsSync(progPin) && fs.existsSync(rulesPin)) {
    return { prog: BpfProgram.fromPin(progPin), rules: BpfMap.fromPin(rulesPin) };
  }
  const b = builtin("vm-ingress-acl");
  const obj = BpfObject.open(b.path);
  try {
    obj.load();
    mkdirpBpffs(dir);
    const prog = obj.program(b.program);
    prog.pin(progPin);
    obj.map("ingress_acl").pin(rulesPin);
    const statsPin = `${dir}/stats`;
    if (!fs.existsSync(statsPin)) obj.map("stats").pin(statsPin);
  } finally {
    obj.close();
  }
  return { prog: BpfProgram.fromPin(progPin), rules: BpfMap.fromPin(rulesPin) };
}

function dropIngressAclIfUnused(table: Table): void {
  const dir = `${table.pinDir}/ingress-acl`;
  if (!fs.existsSync(dir)) return;
  const anyProgram = table.ports.entries().some(([, v]) => decodeDevmapValue(v).progId);
  if (anyProgram) return;
  for (const f of fs.readdirSync(dir)) fs.unlinkSync(`${dir}/${f}`);
  fs.rmdirSync(dir);
}

/** Puts the device in the ports devmap, with its ingress ACL program if it has one. */
function setPort(table: Table, ifindex: number, acl: Acl | undefined): void {
  const key = encodeU32Key(ifindex);
  if (!acl) {
    table.ports.update(key, encodeDevmapValue(ifindex));
    const dir = `${table.pinDir}/ingress-acl/ingress_acl`;
    if (fs.existsSync(dir)) {
      const rules = BpfMap.fromPin(dir);
      rules.delete(key);
      rules.close();
    }
    return;
  }
  const { prog, rules } = ingressAclProgram(table);
  try {
    // Rules first: the program fails closed (drops) for a port without rules.
    rules.update(key, layout.encodeAcl(toLayoutAcl(acl)));
    table.ports.update(key, encodeDevmapValue(ifindex, prog.fd));
  } finally {
    prog.close();
    rules.close();
  }
}

/** Removes ports no FDB entry points at any more (and their ACL rules). */
function prunePorts(table: Table): void {
  const used = new Set(table.fdb.entries().map(([, v]) => layout.decodeFdbValue(v).ifindex));
  const rulesPin = `${table.pinDir}/ingress-acl/ingress_acl`;
  const rules = fs.existsSync(rulesPin) ? BpfMap.fromPin(rulesPin) : undefined;
  try {
    for (const [k] of table.ports.entries()) {
      const ifindex = k.readUInt32LE(0);
      if (used.has(ifindex)) continue;
      table.ports.delete(k);
      rules?.delete(k);
    }
  } finally {
    rules?.close();
  }
  dropIngressAclIfUnused(table);
}

function ifindexOf(rt: RtNetlink, device: string, cache: Map<string, number>): number {
  let i = cache.get(device);
  if (i === undefined) {
    const link = rt.findLink(device);
    if (!link) throw new OpError("ENODEV", `device ${device} does not exist`);
    i = link.ifindex;
    cache.set(device, i);
  }
  return i;
}

// From this many entries to check on, one dump of the table into a Map is tried before
// one lookup per entry: a lookup is a bpf(2) round trip through the FFI (~2.5 µs here),
// a dumped entry about half that, so the dump wins while the table holds no more
// entries than the batch checks, and is abandoned as soon as it holds more.
const DUMP_FROM = 1024;

/**
 * The whole table by key (latin1 text of the key bytes) when dumping it is the cheaper way
 * to check `toCheck` entries, else undefined (look each one up).
 */
function dumpTable(fdb: BpfMap, toCheck: number): Map<string, Buffer> | undefined {
  const dump = toCheck >= DUMP_FROM ? fdb.entriesUpTo(toCheck) : undefined;
  if (!dump) return undefined;
  const byKey = new Map<string, Buffer>();
  for (const [k, v] of dump) byKey.set(k.toString("latin1"), v);
  return byKey;
}

function tableLock(tablePin: string): string {
  return `fdb-${tablePin}`;
}

/** Applies many entries of one table: one batch update of the FDB map. */
function applyToTable(tablePin: string, entries: FdbArgs[]): Array<{ ifindex: number }> {
  return withLock(tableLock(tablePin), () => {
    const table = openTable(tablePin);
    try {
      return withRt(table.netns, (rt) => {
        const names = new Map<string, number>();
        const ifindexes = entries.map((e) => ifindexOf(rt, e.device, names));
        const keys = entries.map((e) => layout.encodeFdbKey({ vlan: e.vlan, mac: e.mac }));
        const values = ifindexes.map((ifindex) => layout.encodeFdbValue({ ifindex }));
        // An entry that exists with another target is someone else's unless adopt is set;
        // one that already says exactly this is ours (a retried create). An earlier entry
        // of this same batch counts as existing, as it would if they came one by one.
        const ids = keys.map((k) => k.toString("latin1"));
        const dump = dumpTable(table.fdb, entries.filter((e) => !e.adopt).length);
        // The table as it would stand after each earlier entry of this batch.
        const seen = dump ?? new Map<string, Buffer>();
        entries.forEach((e, i) => {
          let cur = seen.get(ids[i]);
          if (cur === undefined && !dump && !e.adopt) cur = table.fdb.lookup(keys[i]);
          seen.set(ids[i], values[i]);
          if (e.adopt) return;
          if (cur && !cur.equals(values[i])) {
            throw new OpError("EEXIST", `FDB entry vlan ${e.vlan} ${e.mac} already exists in ${tablePin} (to ifindex ${layout.decodeFdbValue(cur).ifindex}); set adopt: true to take it over`);
          }
        });
        // Ports before entries: a frame must never be redirected to a port not yet there.
        const acls = new Map<number, Acl | undefined>();
        entries.forEach((e, i) => acls.set(ifindexes[i], e.ingressAcl));
        for (const [ifindex, acl] of acls) setPort(table, ifindex, acl);
        table.fdb.updateBatch(keys, values);
        if (entries.some((e) => e.adopt)) prunePorts(table);
        return ifindexes.map((ifindex) => ({ ifindex }));
      });
    } finally {
      table.close();
    }
  });
}

export function applyFdb(raw: unknown) {
  const args = readFdbArgs(InputReader.of(raw));
  return applyToTable(args.table, [args])[0];
}

/** Many fdb.apply requests at once: validated one by one, applied per table in one batch. */
export function applyFdbMany(raws: unknown[]): Outcome[] {
  const out: Outcome[] = new Array(raws.length);
  const byTable = new Map<string, { index: number; args: FdbArgs }[]>();
  raws.forEach((raw, index) => {
    try {
      const args = readFdbArgsFast(raw);
      const list = byTable.get(args.table) ?? [];
      list.push({ index, args });
      byTable.set(args.table, list);
    } catch (err) {
      out[index] = { ok: false, error: toErrorBody(err) };
    }
  });
  for (const [tablePin, list] of byTable) {
    try {
      const results = applyToTable(tablePin, list.map((l) => l.args));
      list.forEach((l, i) => (out[l.index] = { ok: true, result: results[i] }));
    } catch (err) {
      // The batch is all or nothing per table: report the failure on each of its entries.
      const body = toErrorBody(err);
      for (const l of list) out[l.index] = { ok: false, error: body };
    }
  }
  return out;
}

function readKey(raw: unknown): { table: string; vlan: number; mac: string } {
  const r = InputReader.of(raw);
  const table = r.bpffsPath("table")!;
  const vlan = r.vlan("vlan", { default: 0 })!;
  const mac = r.mac("mac")!;
  r.finish();
  return { table, vlan, mac };
}

export function showFdb(raw: unknown) {
  const key = readKey(raw);
  if (!fs.existsSync(key.table)) return null;
  const table = openTable(key.table);
  try {
    const v = table.fdb.lookup(layout.encodeFdbKey(key));
    if (!v) return null;
    const { ifindex } = layout.decodeFdbValue(v);
    const device = withRt(table.netns, (rt) => rt.findLink(ifindex)?.name);
    const out: Record<string, unknown> = { ...key, ifindex, device: device ?? `ifindex:${ifindex}` };
    const port = table.ports.lookup(encodeU32Key(ifindex));
    const rulesPin = `${table.pinDir}/ingress-acl/ingress_acl`;
    if (port && decodeDevmapValue(port).progId && fs.existsSync(rulesPin)) {
      const rules = BpfMap.fromPin(rulesPin);
      const acl = rules.lookup(encodeU32Key(ifindex));
      rules.close();
      if (acl) out.ingressAcl = fromLayoutAcl(layout.decodeAcl(acl));
    }
    return out;
  } finally {
    table.close();
  }
}

/** Deletes entries of one table and prunes the ports they left unused, once. */
function removeFromTable(tablePin: string, keys: Array<{ vlan: number; mac: string }>): boolean[] {
  if (!fs.existsSync(tablePin)) return keys.map(() => false);
  return withLock(tableLock(tablePin), () => {
    const table = openTable(tablePin);
    try {
      const removed = keys.map((k) => table.fdb.delete(layout.encodeFdbKey(k)));
      // One scan of the table per request, not per entry: a destroy removes thousands.
      prunePorts(table);
      return removed;
    } finally {
      table.close();
    }
  });
}

export function removeFdb(raw: unknown) {
  const key = readKey(raw);
  return { removed: removeFromTable(key.table, [key])[0] };
}

/** Many fdb.remove requests at once (a destroy): grouped per table. */
export function removeFdbMany(raws: unknown[]): Outcome[] {
  const out: Outcome[] = new Array(raws.length);
  const byTable = new Map<string, { index: number; key: { vlan: number; mac: string } }[]>();
  raws.forEach((raw, index) => {
    try {
      const key = readKey(raw);
      const list = byTable.get(key.table) ?? [];
      list.push({ index, key });
      byTable.set(key.table, list);
    } catch (err) {
      out[index] = { ok: false, error: toErrorBody(err) };
    }
  });
  for (const [tablePin, list] of byTable) {
    try {
      const removed = removeFromTable(tablePin, list.map((l) => l.key));
      list.forEach((l, i) => (out[l.index] = { ok: true, result: { removed: removed[i] } }));
    } catch (err) {
      const body = toErrorBody(err);
      for (const l of list) out[l.index] = { ok: false, error: body };
    }
  }
  return out;
}
