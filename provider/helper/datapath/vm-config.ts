// One VM's identity for vm-egress (struct hvnet_vm_config): the MAC and addresses it may
// send from, the VLAN pushed toward the uplink, and the uplink or bond legs.
import { formatIPv4, formatIPv6, formatMac, parseIPv4, parseIPv6, writeMac } from "../../common/address";
import { VM_MAX_IPV4, VM_MAX_IPV6 } from "./limits";
import { checkU32, checkVlan, expectSize, STRUCTS } from "./structs";

const VMC = STRUCTS.hvnet_vm_config;

export const VM_F_ENABLED = 0x1;

export interface VmConfig {
  mac: string;
  /** VID pushed toward the uplink; 0 = untagged. */
  vlan: number;
  uplinkIfindex: number;
  /** Bond legs chosen by an L3+L4 hash (0, 1 or 2); empty = uplinkIfindex. */
  bondIfindexes: number[];
  ipv4: string[];
  ipv6: string[];
  /** false writes a config that drops everything (the state of a never-written entry). */
  enabled: boolean;
}

export function encodeVmConfig(c: VmConfig): Buffer {
  checkVlan(c.vlan, "VM vlan");
  checkU32(c.uplinkIfindex, "uplink ifindex");
  if (c.bondIfindexes.length > 2) throw new RangeError(`at most 2 bond legs, got ${c.bondIfindexes.length}`);
  if (c.ipv4.length > VM_MAX_IPV4) throw new RangeError(`at most ${VM_MAX_IPV4} IPv4 addresses per VM, got ${c.ipv4.length}`);
  if (c.ipv6.length > VM_MAX_IPV6) throw new RangeError(`at most ${VM_MAX_IPV6} IPv6 addresses per VM, got ${c.ipv6.length}`);
  const m = VMC.members;
  const b = Buffer.alloc(VMC.size);
  writeMac(c.mac, b, m.mac);
  b.writeUInt16LE(c.vlan, m.vlan);
  b.writeUInt32LE(c.uplinkIfindex, m.uplink_ifindex);
  c.bondIfindexes.forEach((ifi, i) => {
    checkU32(ifi, "bond ifindex");
    b.writeUInt32LE(ifi, m.bond_ifindex + 4 * i);
  });
  b.writeUInt8(c.bondIfindexes.length, m.bond_count);
  b.writeUInt8(c.ipv4.length, m.ipv4_count);
  b.writeUInt8(c.ipv6.length, m.ipv6_count);
  b.writeUInt8(c.enabled ? VM_F_ENABLED : 0, m.flags);
  c.ipv4.forEach((a, i) => parseIPv4(a).copy(b, m.ipv4_be + 4 * i));
  c.ipv6.forEach((a, i) => parseIPv6(a).copy(b, m.ipv6_be + 16 * i));
  return b;
}

export function decodeVmConfig(b: Buffer): VmConfig {
  expectSize(b, VMC.size, "VM config");
  const m = VMC.members;
  const bonds = Math.min(b.readUInt8(m.bond_count), 2);
  const n4 = Math.min(b.readUInt8(m.ipv4_count), VM_MAX_IPV4);
  const n6 = Math.min(b.readUInt8(m.ipv6_count), VM_MAX_IPV6);
  return {
    mac: formatMac(b.subarray(m.mac, m.mac + 6)),
    vlan: b.readUInt16LE(m.vlan),
    uplinkIfindex: b.readUInt32LE(m.uplink_ifindex),
    bondIfindexes: Array.from({ length: bonds }, (_, i) => b.readUInt32LE(m.bond_ifindex + 4 * i)),
    ipv4: Array.from({ length: n4 }, (_, i) => formatIPv4(b.subarray(m.ipv4_be + 4 * i, m.ipv4_be + 4 * i + 4))),
    ipv6: Array.from({ length: n6 }, (_, i) => formatIPv6(b.subarray(m.ipv6_be + 16 * i, m.ipv6_be + 16 * i + 16))),
    enabled: (b.readUInt8(m.flags) & VM_F_ENABLED) !== 0,
  };
}
