// Hand-encoded `union bpf_attr` arms for the bpf(2) commands we issue ourselves.
//
// Why by hand: libbpf 1.1.2 (Debian bookworm) predates netkit, so its bpf_link_create()
// cannot express the mprog fields (relative_fd/id, expected_revision) netkit needs.
// Keeping every link command on this one encoder means the bytes the unit tests compare
// are the bytes the kernel receives. Everything is little-endian x86_64/arm64 layout.
//
// Line numbers "bpf.h:N" refer to /usr/include/linux/bpf.h of linux-libc-dev 6.1
// (bookworm); fields newer than 6.1 cite upstream include/uapi/linux/bpf.h by name.

/** enum bpf_cmd (bpf.h:882). */
export const BpfCmd = {
  MAP_CREATE: 0,
  OBJ_GET_INFO_BY_FD: 15,
  LINK_CREATE: 28,
  LINK_UPDATE: 29,
  LINK_DETACH: 34,
} as const;

/** enum bpf_attach_type (bpf.h:1000); NETKIT_* from upstream (Linux 6.7). */
export const AttachType = {
  XDP_DEVMAP: 33,
  XDP: 37,
  NETKIT_PRIMARY: 54,
  NETKIT_PEER: 55,
} as const;

/** enum bpf_link_type (bpf.h:1051); NETKIT = 13 from upstream (Linux 6.7). */
export const LinkType = {
  XDP: 6,
  NETKIT: 13,
} as const;

/** enum bpf_prog_type (bpf.h:969, :972). */
export const ProgType = {
  SCHED_CLS: 3,
  XDP: 6,
} as const;

/** enum bpf_map_type (bpf.h:928-948). */
export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_PERCPU_HASH: 10,
  DEVMAP: 14,
  PERCPU_CGROUP_STORAGE: 21,
  XSKMAP: 17,
  DEVMAP_HASH: 25,
} as const;

/** What BPF_MAP_CREATE needs for a map without BTF. */
export interface MapCreateSpec {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** BPF_OBJ_NAME_LEN is 16 with the NUL: at most 15 characters. */
  name: string;
}

/**
 * union bpf_attr, map_create arm (bpf.h:1376): map_type, key_size, value_size,
 * max_entries, map_flags, inner_map_fd, numa_node at 0..24, map_name[16] at 28.
 */
export function encodeMapCreate(spec: MapCreateSpec): Buffer {
  if (spec.name.length > 15) throw new RangeError(`BPF map name "${spec.name}" is longer than 15 characters`);
  const attr = Buffer.alloc(64);
  attr.writeUInt32LE(spec.type, 0);
  attr.writeUInt32LE(spec.keySize, 4);
  attr.writeUInt32LE(spec.valueSize, 8);
  attr.writeUInt32LE(spec.maxEntries, 12);
  attr.write(spec.name, 28, "latin1");
  return attr;
}

/** XDP_FLAGS_* (linux/if_link.h:1286-1290), the link_create.flags of an XDP link. */
export const XdpFlags = {
  UPDATE_IF_NOEXIST: 1 << 0,
  SKB_MODE: 1 << 1,
  DRV_MODE: 1 << 2,
  HW_MODE: 1 << 3,
  REPLACE: 1 << 4,
} as const;

/**
 * Generic attach flags. REPLACE is bpf.h:1111; BEFORE/AFTER/ID/LINK are the bpf_mprog
 * flags of upstream bpf.h (Linux 6.6: "Generic attachment flags"): BEFORE 1<<3, AFTER 1<<4,
 * ID 1<<5, LINK 1<<13.
 */
export const AttachFlags = {
  REPLACE: 1 << 2,
  BEFORE: 1 << 3,
  AFTER: 1 << 4,
  ID: 1 << 5,
  LINK: 1 << 13,
} as const;

/** BPF_F_TEST_XDP_LIVE_FRAMES (bpf.h:1288). */
export const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;

/** Map update flags (bpf.h:1229-1231). */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

/** BPF_OBJ_NAME_LEN (bpf.h:1317) and BPF_TAG_SIZE (bpf.h:6200). */
export const BPF_OBJ_NAME_LEN = 16;
export const BPF_TAG_SIZE = 8;

function u32(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${name} must be a u32, got ${v}`);
  return v;
}

export interface LinkCreateFields {
  progFd: number;
  targetIfindex: number;
  attachType: number;
  flags?: number;
  /**
   * The link_create.netkit arm (upstream bpf.h, Linux 6.7; same shape as the tcx arm):
   * union { __u32 relative_fd; __u32 relative_id; } at offset 16, then
   * __u64 expected_revision at offset 24 (8-aligned).
   */
  mprog?: { relative?: number; expectedRevision?: bigint | number };
}

/**
 * BPF_LINK_CREATE: `struct link_create` of union bpf_attr (bpf.h:1515):
 *   0  __u32 prog_fd
 *   4  __u32 target_fd / target_ifindex (union)
 *   8  __u32 attach_type
 *  12  __u32 flags
 *  16  union { target_btf_id; iter_info; perf_event; ...; tcx; netkit {relative_fd|id @16,
 *      expected_revision @24} }
 * The buffer ends at the last field the command uses (16 bytes for XDP, 32 with the mprog
 * arm), as libbpf does with offsetofend(): the kernel zero-fills the rest of its attr.
 */
export function encodeLinkCreate(f: LinkCreateFields): Buffer {
  const attr = Buffer.alloc(f.mprog ? 32 : 16);
  attr.writeUInt32LE(u32("prog_fd", f.progFd), 0);
  attr.writeUInt32LE(u32("target_ifindex", f.targetIfindex), 4);
  attr.writeUInt32LE(u32("attach_type", f.attachType), 8);
  attr.writeUInt32LE(u32("flags", f.flags ?? 0), 12);
  if (f.mprog) {
    attr.writeUInt32LE(u32("relative_fd/id", f.mprog.relative ?? 0), 16);
    attr.writeBigUInt64LE(BigInt(f.mprog.expectedRevision ?? 0), 24);
  }
  return attr;
}

/**
 * BPF_LINK_UPDATE: `struct link_update` (bpf.h:1555):
 *   0 __u32 link_fd, 4 __u32 new_prog_fd, 8 __u32 flags, 12 __u32 old_prog_fd
 * old_prog_fd is only read by the kernel when flags has BPF_F_REPLACE.
 */
export function encodeLinkUpdate(linkFd: number, newProgFd: number, oldProgFd?: number): Buffer {
  const attr = Buffer.alloc(16);
  attr.writeUInt32LE(u32("link_fd", linkFd), 0);
  attr.writeUInt32LE(u32("new_prog_fd", newProgFd), 4);
  if (oldProgFd !== undefined) {
    attr.writeUInt32LE(AttachFlags.REPLACE, 8);
    attr.writeUInt32LE(u32("old_prog_fd", oldProgFd), 12);
  }
  return attr;
}

/** BPF_LINK_DETACH: `struct link_detach { __u32 link_fd; }` (bpf.h:1565). */
export function encodeLinkDetach(linkFd: number): Buffer {
  const attr = Buffer.alloc(4);
  attr.writeUInt32LE(u32("link_fd", linkFd), 0);
  return attr;
}

/**
 * BPF_OBJ_GET_INFO_BY_FD: `struct info` (bpf.h:1467):
 *   0 __u32 bpf_fd, 4 __u32 info_len (in: buffer size, out: bytes the kernel wrote),
 *   8 __aligned_u64 info (user pointer)
 */
export function encodeObjGetInfo(fd: number, infoLen: number, infoAddr: bigint): Buffer {
  const attr = Buffer.alloc(16);
  attr.writeUInt32LE(u32("bpf_fd", fd), 0);
  attr.writeUInt32LE(u32("info_len", infoLen), 4);
  attr.writeBigUInt64LE(infoAddr, 8);
  return attr;
}
