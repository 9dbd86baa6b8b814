// A BPF map: one of a loaded object's maps (libbpf owns the fd) or a map opened by id or
// pin (we own the fd). Keys and values are raw bytes in the map's own layout; callers
// encode their structs (see devmap.ts for struct bpf_devmap_val).
import { KernelError } from "../errors";
import { errnoNumber } from "../internal/errno";
import { BPF_ANY, BPF_EXIST, BPF_NOEXIST, BpfCmd, MapType, encodeMapCreate, type MapCreateSpec } from "./internal/attr";
import { bpfCall } from "./internal/syscall";
import { checkLibbpf, closeFd, expectKind } from "./internal/fd";
import { MapInfo, mapInfo } from "./internal/info";
import { batchOpts, libbpf, Ptr } from "./internal/libbpf";
import { openPin, pinFd } from "./pin";

export { BPF_ANY, BPF_NOEXIST, BPF_EXIST, MapType };
export type { MapCreateSpec };

const ENOENT = errnoNumber("ENOENT");
const ENOSPC = errnoNumber("ENOSPC");
// The kernel answers a batch command on a map type without batch ops with ENOTSUPP (524,
// kernel-internal, BPF_DO_BATCH in kernel/bpf/syscall.c); EOPNOTSUPP is accepted too.
// EINVAL is deliberately not a fallback trigger: generic_map_update_batch also returns it
// for a bad element after applying the ones before it, and retrying would hide that.
const BATCH_UNSUPPORTED = new Set([errnoNumber("ENOTSUPP"), errnoNumber("EOPNOTSUPP")]);
const BATCH_REFUSED = Symbol("batch lookup unsupported");

const PERCPU_TYPES: ReadonlySet<number> = new Set([
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_PERCPU_HASH,
  MapType.PERCPU_CGROUP_STORAGE,
]);

let cpus: number | undefined;

/** Possible CPUs (/sys/devices/system/cpu/possible): the per-CPU value stride count. */
export function possibleCpus(): number {
  if (cpus === undefined) cpus = checkLibbpf(libbpf.num_possible_cpus() as number, "libbpf_num_possible_cpus");
  return cpus;
}

export function isPerCpuMapType(type: number): boolean {
  return PERCPU_TYPES.has(type);
}

function roundup8(n: number): number {
  return (n + 7) & ~7;
}

function valueBufferSize(type: number, valueSize: number): number {
  return isPerCpuMapType(type) ? possibleCpus() * roundup8(valueSize) : valueSize;
}

interface Meta {
  fd: number;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  valueBufferSize: number;
}

function makeMeta(fd: number, type: number, keySize: number, valueSize: number, maxEntries: number): Meta {
  return { fd, type, keySize, valueSize, maxEntries, valueBufferSize: valueBufferSize(type, valueSize) };
}

type Source =
  | { kind: "object"; ptr: Ptr; name: string; isOpen: () => boolean }
  | { kind: "fd"; fd: number; info: MapInfo };

export class BpfMap {
  private closed = false;
  private batchUnsupported = false;
  private cached?: Meta;

  /** @internal use BpfObject.map(), fromId() or fromPin(). */
  constructor(private readonly source: Source) {}

  /** @internal wraps one of a libbpf object's maps. */
  static fromObject(ptr: Ptr, isOpen: () => boolean): BpfMap {
    // The name is read now: after the object closes, ptr must never be touched again.
    return new BpfMap({ kind: "object", ptr, name: libbpf.map_name(ptr) as string, isOpen });
  }

  /** Opens a pinned map; ENOENT when the pin is gone, EINVAL when it is not a map. */
  static fromPin(path: string): BpfMap {
    return BpfMap.fromFd(expectKind(openPin(path), "map", path));
  }

  /** Opens a map by kernel id (BPF_MAP_GET_FD_BY_ID). */
  static fromId(id: number): BpfMap {
    return BpfMap.fromFd(checkLibbpf(libbpf.map_get_fd_by_id(id), "bpf_map_get_fd_by_id", `id ${id}`));
  }

  /** Takes ownership of a map fd. */
  static fromFd(fd: number): BpfMap {
    try {
      return new BpfMap({ kind: "fd", fd, info: mapInfo(fd) });
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }

  private live(): void {
    if (this.closed || (this.source.kind === "object" && !this.source.isOpen())) {
      throw new Error(`BPF map ${this.name} is closed`);
    }
  }

  /**
   * Once an object's map exists its fd and shape are fixed, so they are read from libbpf
   * once: every element op would otherwise pay four extra FFI calls.
   */
  private meta(): Meta | undefined {
    if (this.cached) return this.cached;
    if (this.source.kind === "fd") {
      const i = this.source.info;
      this.cached = makeMeta(this.source.fd, i.type, i.keySize, i.valueSize, i.maxEntries);
      return this.cached;
    }
    const p = this.objectPtr();
    const fd = libbpf.map_fd(p) as number;
    if (fd < 0) return undefined;
    this.cached = makeMeta(
      fd,
      libbpf.map_type(p) as number,
      libbpf.map_key_size(p) as number,
      libbpf.map_value_size(p) as number,
      libbpf.map_max_entries(p) as number,
    );
    return this.cached;
  }

  get fd(): number {
    this.live();
    const m = this.meta();
    if (!m) throw new Error(`BPF map ${this.name} is not created yet (load the object first)`);
    return m.fd;
  }
  get name(): string {
    return this.source.kind === "object" ? this.source.name : this.source.info.name;
  }
  get type(): number {
    return this.meta()?.type ?? (libbpf.map_type(this.objectPtr()) as number);
  }
  get keySize(): number {
    return this.meta()?.keySize ?? (libbpf.map_key_size(this.objectPtr()) as number);
  }
  get valueSize(): number {
    return this.meta()?.valueSize ?? (libbpf.map_value_size(this.objectPtr()) as number);
  }
  get maxEntries(): number {
    return this.meta()?.maxEntries ?? (libbpf.map_max_entries(this.objectPtr()) as number);
  }

  /** Bytes of one value as user space sees it: per-CPU maps hold one 8-aligned slot per possible CPU. */
  get valueBufferSize(): number {
    return this.meta()?.valueBufferSize ?? valueBufferSize(this.type, this.valueSize);
  }

  /** The libbpf handle, only while the object is open (a closed object's pointers are freed). */
  private objectPtr(): Ptr {
    if (this.source.kind !== "object") throw new Error("unreachable: fd maps always have metadata");
    this.live();
    return this.source.ptr;
  }

  /** Before load only (libbpf refuses afterwards). */
  setMaxEntries(n: number): void {
    if (this.source.kind !== "object") throw new Error(`BPF map ${this.name}: max_entries is fixed once created`);
    checkLibbpf(libbpf.map_set_max_entries(this.objectPtr(), n), "bpf_map__set_max_entries", this.name);
  }

  /**
   * Before load only: use an existing kernel map (e.g. one opened from its pin) instead of
   * creating a new one, so a replaced program keeps its tables. libbpf checks the map's
   * type and sizes match and dups the fd.
   */
  reuse(existing: BpfMap): void {
    if (this.source.kind !== "object") throw new Error(`BPF map ${this.name}: only a map of an unloaded object can reuse another`);
    checkLibbpf(libbpf.map_reuse_fd(this.objectPtr(), existing.fd), "bpf_map__reuse_fd", this.name);
  }

  info(): MapInfo {
    return mapInfo(this.fd, `map ${this.name}`);
  }

  private checkKey(key: Buffer): Buffer {
    if (key.length !== this.keySize) throw new RangeError(`map ${this.name}: key is ${key.length} bytes, expected ${this.keySize}`);
    return key;
  }
  private checkValue(value: Buffer): Buffer {
    const want = this.valueBufferSize;
    if (value.length !== want) throw new RangeError(`map ${this.name}: value is ${value.length} bytes, expected ${want}`);
    return value;
  }

  /** flags: BPF_ANY, BPF_NOEXIST (EEXIST if present), BPF_EXIST (ENOENT if absent). A full hash map says E2BIG. */
  update(key: Buffer, value: Buffer, flags = BPF_ANY): void {
    const ret = libbpf.map_update_elem(this.fd, this.checkKey(key), this.checkValue(value), flags) as number;
    checkLibbpf(ret, "bpf_map_update_elem", `map ${this.name}`);
  }

  /** The value, or undefined when the key is absent. Per-CPU maps: possibleCpus() slots. */
  lookup(key: Buffer): Buffer | undefined {
    const value = Buffer.alloc(this.valueBufferSize);
    const ret = libbpf.map_lookup_elem(this.fd, this.checkKey(key), value) as number;
    if (ret === -ENOENT) return undefined;
    checkLibbpf(ret, "bpf_map_lookup_elem", `map ${this.name}`);
    return value;
  }

  /** False when the key was absent. */
  delete(key: Buffer): boolean {
    const ret = libbpf.map_delete_elem(this.fd, this.checkKey(key)) as number;
    if (ret === -ENOENT) return false;
    checkLibbpf(ret, "bpf_map_delete_elem", `map ${this.name}`);
    return true;
  }

  /**
   * All entries in one BPF_MAP_UPDATE_BATCH. Map types without batch ops (devmaps) fall
   * back to one update per entry. On failure the error says how many were applied.
   */
  updateBatch(keys: Buffer[], values: Buffer[], flags = BPF_ANY): void {
    if (keys.length !== values.length) {
      throw new RangeError(`map ${this.name}: ${keys.length} keys but ${values.length} values`);
    }
    if (keys.length === 0) return;
    keys.forEach((k) => this.checkKey(k));
    values.forEach((v) => this.checkValue(v));
    if (!this.batchUnsupported) {
      const count = [keys.length];
      const ret = libbpf.map_update_batch(
        this.fd,
        Buffer.concat(keys),
        Buffer.concat(values),
        count,
        batchOpts(flags),
      ) as number;
      if (ret === 0) return;
      if (!BATCH_UNSUPPORTED.has(-ret)) {
        throw new KernelError("bpf_map_update_batch", -ret, undefined, `map ${this.name}: ${count[0]} of ${keys.length} applied`);
      }
      this.batchUnsupported = true;
    }
    keys.forEach((k, i) => {
      try {
        this.update(k, values[i], flags);
      } catch (e) {
        if (e instanceof KernelError) {
          throw new KernelError("bpf_map_update_elem", e.errno, undefined, `map ${this.name}: ${i} of ${keys.length} applied`);
        }
        throw e;
      }
    });
  }

  /** Deletes the keys (BPF_MAP_DELETE_BATCH); absent keys are skipped. Returns how many were deleted. */
  deleteBatch(keys: Buffer[]): number {
    keys.forEach((k) => this.checkKey(k));
    let deleted = 0;
    let rest = keys;
    while (rest.length > 0 && !this.batchUnsupported) {
      const count = [rest.length];
      const ret = libbpf.map_delete_batch(this.fd, Buffer.concat(rest), count, batchOpts(0)) as number;
      if (ret === 0) return deleted + rest.length;
      if (ret === -ENOENT) {
        // The kernel stops at the first absent key; count says how many went before it.
        deleted += count[0];
        rest = rest.slice(count[0] + 1);
        continue;
      }
      if (!BATCH_UNSUPPORTED.has(-ret)) {
        throw new KernelError("bpf_map_delete_batch", -ret, undefined, `map ${this.name}: ${deleted + count[0]} deleted`);
      }
      this.batchUnsupported = true;
    }
    for (const k of rest) if (this.delete(k)) deleted++;
    return deleted;
  }

  /** Every entry: BPF_MAP_LOOKUP_BATCH where the map type has it, else get_next_key + lookup. */
  entries(): Array<[Buffer, Buffer]> {
    return this.entriesUpTo(Infinity)!;
  }

  /**
   * Like entries(), but gives up (undefined) as soon as the map turns out to hold more
   * than `limit` entries: for callers that dump only while a dump is the cheaper way.
   */
  entriesUpTo(limit: number): Array<[Buffer, Buffer]> | undefined {
    if (!this.batchUnsupported) {
      const viaBatch = this.entriesBatch(limit);
      if (viaBatch !== BATCH_REFUSED) return viaBatch;
      this.batchUnsupported = true;
    }
    return this.entriesIterate(limit);
  }

  private entriesBatch(limit: number): Array<[Buffer, Buffer]> | undefined | typeof BATCH_REFUSED {
    const keySize = this.keySize;
    const valueSize = this.valueBufferSize;
    // The resume token is a bucket index (u32) for hash maps and a key for arrays.
    const tokenSize = Math.max(8, keySize);
    const out: Array<[Buffer, Buffer]> = [];
    let chunk = Math.max(1, Math.min(this.maxEntries, 1024));
    let inBatch: Buffer | null = null;
    for (;;) {
      const outBatch = Buffer.alloc(tokenSize);
      const keys = Buffer.alloc(chunk * keySize);
      const values = Buffer.alloc(chunk * valueSize);
      const count = [chunk];
      const ret = libbpf.map_lookup_batch(this.fd, inBatch, outBatch, keys, values, count, null) as number;
      if (ret < 0 && ret !== -ENOENT) {
        if (BATCH_UNSUPPORTED.has(-ret) && out.length === 0 && inBatch === null) return BATCH_REFUSED;
        if (ret === -ENOSPC) {
          // One hash bucket holds more entries than fit: retry the same position bigger.
          chunk *= 2;
          continue;
        }
        checkLibbpf(ret, "bpf_map_lookup_batch", `map ${this.name}`);
      }
      for (let i = 0; i < count[0]; i++) {
        out.push([
          Buffer.from(keys.subarray(i * keySize, (i + 1) * keySize)),
          Buffer.from(values.subarray(i * valueSize, (i + 1) * valueSize)),
        ]);
      }
      if (ret === -ENOENT) return out;
      if (out.length > limit) return undefined;
      inBatch = outBatch;
    }
  }

  private entriesIterate(limit: number): Array<[Buffer, Buffer]> | undefined {
    const out: Array<[Buffer, Buffer]> = [];
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(this.keySize);
      const ret = libbpf.map_get_next_key(this.fd, prev, next) as number;
      if (ret === -ENOENT) return out;
      checkLibbpf(ret, "bpf_map_get_next_key", `map ${this.name}`);
      // Array-like maps (devmaps) iterate over every slot; empty slots do not look up.
      const value = this.lookup(next);
      if (value !== undefined) out.push([next, value]);
      if (out.length > limit) return undefined;
      prev = next;
    }
  }

  /** Pins the map (parent directories are created inside bpffs). */
  pin(path: string): void {
    pinFd(this.fd, path);
  }

  /** Releases an fd we own; for an object's map only invalidates the handle. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.source.kind === "fd") closeFd(this.source.fd);
  }
}

/**
 * Creates a map that no loaded object owns and pins it at `path` (an XSKMAP a QEMU
 * AF_XDP backend opens by path); the pin keeps it alive after our fd is closed.
 */
export function createPinnedMap(spec: MapCreateSpec, path: string): void {
  const fd = bpfCall(BpfCmd.MAP_CREATE, encodeMapCreate(spec), `bpf BPF_MAP_CREATE ${spec.name}`, path);
  try {
    pinFd(fd, path);
  } finally {
    closeFd(fd);
  }
}
