// A BPF ELF object (clang -target bpf output) opened and loaded by libbpf: BTF-defined
// maps are created (or reused from pins under pinRoot for maps marked
// LIBBPF_PIN_BY_NAME), relocations applied, programs verified and loaded.
// Failures carry libbpf's log, including the verifier's verdict, trimmed to its tail.
import { errnoNumber } from "../internal/errno";
import { libbpf, ObjectOpenOpts, Ptr } from "./internal/libbpf";
import { libbpfError, withLibbpfLog } from "./internal/log";
import { BpfMap } from "./map";
import { BpfProgram } from "./prog";
import koffi from "koffi";

export interface BpfObjectOpenOptions {
  /** Directory (on bpffs) where maps declared with LIBBPF_PIN_BY_NAME are pinned and reused. */
  pinRoot?: string;
}

export class BpfObject {
  private ptr: Ptr | null;
  private readonly programCache = new Map<string, BpfProgram>();
  private readonly mapCache = new Map<string, BpfMap>();
  private loaded = false;

  private constructor(ptr: Ptr, readonly path: string) {
    this.ptr = ptr;
  }

  /** bpf_object__open_file: parses the ELF; nothing reaches the kernel until load(). */
  static open(path: string, opts: BpfObjectOpenOptions = {}): BpfObject {
    const openOpts = {
      sz: koffi.sizeof(ObjectOpenOpts),
      object_name: null,
      relaxed_maps: false,
      pin_root_path: opts.pinRoot ?? null,
      attach_prog_fd_stub: 0,
      kconfig: null,
      btf_custom_path: null,
      kernel_log_buf: null,
      kernel_log_size: 0,
      kernel_log_level: 0,
    };
    let errno = 0;
    const { result, log } = withLibbpfLog(() => {
      const p = libbpf.object_open_file(path, openOpts) as Ptr;
      if (!p) errno = koffi.errno();
      return p;
    });
    if (!result) {
      throw libbpfError("bpf_object__open_file", errno || errnoNumber("EINVAL"), log, path);
    }
    return new BpfObject(result, path);
  }

  private handle(): Ptr {
    if (this.ptr === null) throw new Error(`BPF object ${this.path} is closed`);
    return this.ptr;
  }

  private readonly isOpen = (): boolean => this.ptr !== null;

  get name(): string {
    return libbpf.object_name(this.handle()) as string;
  }

  /** bpf_object__load: creates maps and loads every program; errors carry libbpf's log. */
  load(): void {
    const obj = this.handle();
    if (this.loaded) throw new Error(`BPF object ${this.path} is already loaded`);
    const { result: ret, log } = withLibbpfLog(() => libbpf.object_load(obj) as number);
    if (ret < 0) throw libbpfError("bpf_object__load", -ret, log, this.path);
    this.loaded = true;
  }

  /** The program whose C function is `name`; the error lists the ones there are. */
  program(name: string): BpfProgram {
    const cached = this.programCache.get(name);
    if (cached) return cached;
    const p = libbpf.object_find_program_by_name(this.handle(), name) as Ptr;
    if (!p) {
      const have = this.programs().map((x) => x.name);
      throw new Error(`BPF object ${this.path} has no program ${JSON.stringify(name)}; it has: ${have.join(", ") || "none"}`);
    }
    const prog = BpfProgram.fromObject(p, this.path, this.isOpen);
    this.programCache.set(name, prog);
    return prog;
  }

  /** The map declared as `name` in the object's .maps section. */
  map(name: string): BpfMap {
    const cached = this.mapCache.get(name);
    if (cached) return cached;
    const m = libbpf.object_find_map_by_name(this.handle(), name) as Ptr;
    if (!m) {
      const have = this.maps().map((x) => x.name);
      throw new Error(`BPF object ${this.path} has no map ${JSON.stringify(name)}; it has: ${have.join(", ") || "none"}`);
    }
    const map = BpfMap.fromObject(m, this.isOpen);
    this.mapCache.set(name, map);
    return map;
  }

  programs(): BpfProgram[] {
    const obj = this.handle();
    const out: BpfProgram[] = [];
    for (let p = libbpf.object_next_program(obj, null) as Ptr; p; p = libbpf.object_next_program(obj, p) as Ptr) {
      const name = libbpf.program_name(p) as string;
      out.push(this.programCache.get(name) ?? this.program(name));
    }
    return out;
  }

  maps(): BpfMap[] {
    const obj = this.handle();
    const out: BpfMap[] = [];
    for (let m = libbpf.object_next_map(obj, null) as Ptr; m; m = libbpf.object_next_map(obj, m) as Ptr) {
      const name = libbpf.map_name(m) as string;
      out.push(this.mapCache.get(name) ?? this.map(name));
    }
    return out;
  }

  /**
   * Closes every program and map fd of the object. Pinned objects and attached links
   * stay in the kernel; handles from program()/map() become unusable.
   */
  close(): void {
    if (this.ptr === null) return;
    libbpf.object_close(this.ptr);
    this.ptr = null;
  }
}
