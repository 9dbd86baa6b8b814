// Values of BPF_MAP_TYPE_DEVMAP / DEVMAP_HASH maps with 8-byte values:
// struct bpf_devmap_val { __u32 ifindex; union { int fd; __u32 id; } bpf_prog; }
// (linux/bpf.h:6116). Written with a program fd (a program loaded with expected attach
// type BPF_XDP_DEVMAP, which then runs on frames redirected to that device); read back,
// the same slot holds the program's id. 0 means "no program".

export const DEVMAP_VALUE_SIZE = 8;

export function encodeDevmapValue(ifindex: number, progFd?: number): Buffer {
  const b = Buffer.alloc(DEVMAP_VALUE_SIZE);
  b.writeUInt32LE(ifindex, 0);
  b.writeInt32LE(progFd ?? 0, 4);
  return b;
}

export interface DevmapValue {
  ifindex: number;
  /** Id of the devmap program, undefined when the entry has none. */
  progId?: number;
}

export function decodeDevmapValue(buf: Buffer): DevmapValue {
  if (buf.length < 4) throw new RangeError(`devmap value is ${buf.length} bytes, expected 4 or 8`);
  const ifindex = buf.readUInt32LE(0);
  const progId = buf.length >= 8 ? buf.readUInt32LE(4) : 0;
  return progId === 0 ? { ifindex } : { ifindex, progId };
}

/** Key of a DEVMAP_HASH keyed by ifindex (the l2fwd ports map): a host-order u32. */
export function encodeU32Key(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
}
