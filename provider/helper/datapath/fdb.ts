// The l2fwd forwarding table's entries: struct hvnet_fdb_key and hvnet_fdb_value.
import { formatMac, writeMac } from "../../common/address";
import { checkU32, checkVlan, expectSize, STRUCTS } from "./structs";

const FDB_KEY = STRUCTS.hvnet_fdb_key;
const FDB_VALUE = STRUCTS.hvnet_fdb_value;

export const FDB_F_KEEP_TAG = 0x1;

export interface FdbKey {
  /** 0 = untagged (or priority-tagged), 1..4094 */
  vlan: number;
  mac: string;
}

export interface FdbValue {
  ifindex: number;
  /** Deliver with the 802.1Q tag kept instead of popped (a trunk port). */
  keepTag?: boolean;
}

export function encodeFdbKey(k: FdbKey): Buffer {
  checkVlan(k.vlan, "FDB vlan");
  // Every byte is written below (2 + 6 = 8): the pooled, unzeroed allocation is safe and
  // much cheaper across a 10,000-entry batch.
  const b = Buffer.allocUnsafe(FDB_KEY.size);
  b.writeUInt16LE(k.vlan, FDB_KEY.members.vlan);
  writeMac(k.mac, b, FDB_KEY.members.mac);
  return b;
}

export function decodeFdbKey(b: Buffer): FdbKey {
  expectSize(b, FDB_KEY.size, "FDB key");
  return {
    vlan: b.readUInt16LE(FDB_KEY.members.vlan),
    mac: formatMac(b.subarray(FDB_KEY.members.mac, FDB_KEY.members.mac + 6)),
  };
}

export function encodeFdbValue(v: FdbValue): Buffer {
  checkU32(v.ifindex, "FDB ifindex");
  const b = Buffer.allocUnsafe(FDB_VALUE.size); // 4 + 4 bytes, all written below
  b.writeUInt32LE(v.ifindex, FDB_VALUE.members.ifindex);
  b.writeUInt32LE(v.keepTag ? FDB_F_KEEP_TAG : 0, FDB_VALUE.members.flags);
  return b;
}

export function decodeFdbValue(b: Buffer): FdbValue {
  expectSize(b, FDB_VALUE.size, "FDB value");
  const flags = b.readUInt32LE(FDB_VALUE.members.flags);
  const v: FdbValue = { ifindex: b.readUInt32LE(FDB_VALUE.members.ifindex) };
  if (flags & FDB_F_KEEP_TAG) v.keepTag = true;
  return v;
}
