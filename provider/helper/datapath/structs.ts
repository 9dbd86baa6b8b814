// Member offsets and sizes of every struct in bpf/include/hvnet.h, the one table the
// encoders of this folder write by. test/unit/bpf-layout-btf checks each against the BTF
// of the built objects, so the C header and this file cannot drift apart silently.
// Integers are little endian (host order of every hypervisor we target) unless the C
// field says "_be".

export const STRUCTS = {
  hvnet_fdb_key: { size: 8, members: { vlan: 0, mac: 2 } },
  hvnet_fdb_value: { size: 8, members: { ifindex: 0, flags: 4 } },
  hvnet_vm_config: {
    size: 184,
    members: {
      mac: 0,
      vlan: 6,
      uplink_ifindex: 8,
      bond_ifindex: 12,
      bond_count: 20,
      ipv4_count: 21,
      ipv6_count: 22,
      flags: 23,
      ipv4_be: 24,
      ipv6_be: 56,
    },
  },
  hvnet_acl_rule: {
    size: 48,
    members: {
      family: 0,
      proto: 1,
      action: 2,
      src_len: 3,
      dst_len: 4,
      pad: 5,
      sport_lo: 8,
      sport_hi: 10,
      dport_lo: 12,
      dport_hi: 14,
      src: 16,
      dst: 32,
    },
  },
  hvnet_acl_field4: { size: 3072, members: { bound: 0, bits: 1024 } },
  hvnet_acl_field6: { size: 6144, members: { bound_hi: 0, bound_lo: 2048, bits: 4096 } },
  hvnet_acl_field16: { size: 2560, members: { bound: 0, bits: 512 } },
  hvnet_acl: {
    size: 28696,
    members: {
      rule_count: 0,
      default_action: 4,
      pad: 5,
      pass_bits: 8,
      portless_bits: 16,
      proto_bits: 24,
      src4: 2072,
      dst4: 5144,
      src6: 8216,
      dst6: 14360,
      sport: 20504,
      dport: 23064,
      rules: 25624,
    },
  },
  hvnet_counter: { size: 16, members: { packets: 0, bytes: 8 } },
} as const;

export type StructName = keyof typeof STRUCTS;

/** A map value read back must be exactly its struct: anything else is another map. */
export function expectSize(b: Buffer, size: number, what: string): void {
  if (b.length !== size) throw new RangeError(`${what} is ${b.length} bytes, expected ${size}`);
}

export function checkVlan(vlan: number, what: string): void {
  if (!Number.isInteger(vlan) || vlan < 0 || vlan > 4094) throw new RangeError(`${what} must be 0..4094, got ${vlan}`);
}

export function checkU32(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${what} must be a u32, got ${n}`);
}
