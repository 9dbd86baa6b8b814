// BPF_OBJ_GET_INFO_BY_FD and the decoders of what it returns. libbpf 1.1 only has the
// untyped bpf_obj_get_info_by_fd(), so the structs would be decoded by hand either way;
// issuing the command ourselves keeps one code path for programs, maps and links.
import koffi from "koffi";
import { BpfCmd, BPF_OBJ_NAME_LEN, BPF_TAG_SIZE, LinkType, encodeObjGetInfo } from "./attr";
import { bpfCall } from "./syscall";

/** Sizes of the 6.1 structs (checked with offsetof against bpf.h); the kernel accepts any size. */
const PROG_INFO_SIZE = 232; // struct bpf_prog_info, bpf.h:6202
const MAP_INFO_SIZE = 88; // struct bpf_map_info, bpf.h:6245
const LINK_INFO_SIZE = 48; // struct bpf_link_info, bpf.h:6273

/**
 * Fetches the raw info struct. The kernel writes through a user pointer, so the buffer
 * lives in native memory (koffi.alloc): a JS Buffer's address is not ours to pin.
 */
function objInfo(fd: number, size: number, what: string): Buffer {
  const mem = koffi.alloc("uint8_t", size);
  try {
    const view = Buffer.from(koffi.view(mem, size));
    view.fill(0);
    const attr = encodeObjGetInfo(fd, size, koffi.address(mem));
    bpfCall(BpfCmd.OBJ_GET_INFO_BY_FD, attr, "BPF_OBJ_GET_INFO_BY_FD", what);
    // info_len comes back as the number of bytes the kernel filled in.
    const written = Math.min(attr.readUInt32LE(4), size);
    const out = Buffer.alloc(size);
    view.copy(out, 0, 0, written);
    return out;
  } finally {
    koffi.free(mem);
  }
}

function cString(buf: Buffer, offset: number, len: number): string {
  const raw = buf.subarray(offset, offset + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? len : nul).toString("utf8");
}

export interface ProgInfo {
  id: number;
  /** The 8-byte program tag as lower-case hex, as bpftool prints it. */
  tag: string;
  type: number;
  /** Kernel-side name: the function name cut to 15 characters. */
  name: string;
}

/** struct bpf_prog_info: type @0, id @4, tag[8] @8, name[16] @64 (bpf.h:6202-6214). */
export function decodeProgInfo(b: Buffer): ProgInfo {
  return {
    type: b.readUInt32LE(0),
    id: b.readUInt32LE(4),
    tag: b.subarray(8, 8 + BPF_TAG_SIZE).toString("hex"),
    name: cString(b, 64, BPF_OBJ_NAME_LEN),
  };
}

export interface MapInfo {
  id: number;
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

/**
 * struct bpf_map_info: type @0, id @4, key_size @8, value_size @12, max_entries @16,
 * map_flags @20, name[16] @24 (bpf.h:6245-6252).
 */
export function decodeMapInfo(b: Buffer): MapInfo {
  return {
    type: b.readUInt32LE(0),
    id: b.readUInt32LE(4),
    keySize: b.readUInt32LE(8),
    valueSize: b.readUInt32LE(12),
    maxEntries: b.readUInt32LE(16),
    flags: b.readUInt32LE(20),
    name: cString(b, 24, BPF_OBJ_NAME_LEN),
  };
}

export interface LinkInfo {
  id: number;
  type: number;
  progId: number;
  xdp?: { ifindex: number };
  netkit?: { ifindex: number; attachType: number };
}

/**
 * struct bpf_link_info: type @0, id @4, prog_id @8, then a union at @16 (8-aligned: some
 * arms hold __aligned_u64). xdp = { __u32 ifindex } (bpf.h:6321); netkit (upstream, 6.7) =
 * { __u32 ifindex; __u32 attach_type }.
 */
export function decodeLinkInfo(b: Buffer): LinkInfo {
  const info: LinkInfo = { type: b.readUInt32LE(0), id: b.readUInt32LE(4), progId: b.readUInt32LE(8) };
  if (info.type === LinkType.XDP) info.xdp = { ifindex: b.readUInt32LE(16) };
  if (info.type === LinkType.NETKIT) info.netkit = { ifindex: b.readUInt32LE(16), attachType: b.readUInt32LE(20) };
  return info;
}

export function progInfo(fd: number, context?: string): ProgInfo {
  return decodeProgInfo(objInfo(fd, PROG_INFO_SIZE, context ?? `program fd ${fd}`));
}
export function mapInfo(fd: number, context?: string): MapInfo {
  return decodeMapInfo(objInfo(fd, MAP_INFO_SIZE, context ?? `map fd ${fd}`));
}
export function linkInfo(fd: number, context?: string): LinkInfo {
  return decodeLinkInfo(objInfo(fd, LINK_INFO_SIZE, context ?? `link fd ${fd}`));
}
