// A BPF program: either one of a loaded object's programs (libbpf owns its fd; the
// object's close() releases it) or a program opened by id or pin (we own the fd).
import koffi from "koffi";
import { KernelError } from "../errors";
import { AttachType, BPF_F_TEST_XDP_LIVE_FRAMES, ProgType } from "./internal/attr";
import { checkLibbpf, closeFd, expectKind } from "./internal/fd";
import { ProgInfo, progInfo } from "./internal/info";
import { libbpf, Ptr, TestRunOpts, TestRunOptsValue } from "./internal/libbpf";
import { openPin, pinFd } from "./pin";

export { AttachType, ProgType, BPF_F_TEST_XDP_LIVE_FRAMES };

export interface TestRunOptions {
  /** The packet (for XDP: starting at the Ethernet header). */
  data: Buffer;
  /** Runs (live frames: frames sent). Default 1. */
  repeat?: number;
  /** BPF_F_TEST_XDP_LIVE_FRAMES = 2 executes XDP_TX/REDIRECT for real. */
  flags?: number;
  /** Room for the output packet; default data.length + 256 (XDP may grow the frame). */
  dataSizeOut?: number;
  /** Context, e.g. struct xdp_md from xdpMd(). */
  ctxIn?: Buffer;
  /** Live-frames batch size (kernel default 64, max 256). */
  batchSize?: number;
}

export interface TestRunResult {
  retval: number;
  /** Output packet; empty in live-frames mode (the kernel refuses data_out there). */
  data: Buffer;
  /** Average run time per repetition as the kernel measured it. */
  durationNs: number;
}

/** struct bpf_test_run_opts is 80 bytes in libbpf 1.1 (bpf.h:431-452); libbpf checks sz. */
const TEST_RUN_OPTS_SIZE = koffi.sizeof(TestRunOpts);

/**
 * struct xdp_md (linux/bpf.h:6100) for test runs: data/data_end/data_meta stay 0 (the kernel
 * fills them), ingress_ifindex @12 and rx_queue_index @16 pick the receiving device and
 * queue (resolved in the calling thread's netns), egress_ifindex @20 must be 0.
 */
export function xdpMd(ingressIfindex: number, rxQueueIndex = 0): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(ingressIfindex, 12);
  b.writeUInt32LE(rxQueueIndex, 16);
  return b;
}

type Source =
  | { kind: "object"; ptr: Ptr; objectName: string; name: string; section: string; isOpen: () => boolean }
  | { kind: "fd"; fd: number; name: string };

export class BpfProgram {
  private closed = false;
  private loadedFd?: number;

  /** @internal use BpfObject.program(), fromId() or fromPin(). */
  constructor(private readonly source: Source) {}

  /** @internal wraps one of a libbpf object's programs. */
  static fromObject(ptr: Ptr, objectName: string, isOpen: () => boolean): BpfProgram {
    // Names are read now: after the object closes, ptr must never be touched again.
    const name = libbpf.program_name(ptr) as string;
    const section = libbpf.program_section_name(ptr) as string;
    return new BpfProgram({ kind: "object", ptr, objectName, name, section, isOpen });
  }

  /** Opens a loaded program by kernel id (BPF_PROG_GET_FD_BY_ID). */
  static fromId(id: number): BpfProgram {
    const fd = checkLibbpf(libbpf.prog_get_fd_by_id(id), "bpf_prog_get_fd_by_id", `id ${id}`);
    return BpfProgram.fromFd(fd);
  }

  /** Opens a pinned program; ENOENT when the pin is gone, EINVAL when it is not a program. */
  static fromPin(path: string): BpfProgram {
    const fd = expectKind(openPin(path), "prog", path);
    return BpfProgram.fromFd(fd);
  }

  /** Takes ownership of a program fd. */
  static fromFd(fd: number): BpfProgram {
    let name: string;
    try {
      name = progInfo(fd).name;
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    return new BpfProgram({ kind: "fd", fd, name });
  }

  private live(): void {
    if (this.closed || (this.source.kind === "object" && !this.source.isOpen())) {
      throw new Error(`BPF program ${this.name} is closed`);
    }
  }

  /** The libbpf handle, only while the object is open (a closed object's pointers are freed). */
  private objectPtr(): Ptr {
    if (this.source.kind !== "object") throw new Error(`BPF program ${this.name} was not opened from an object`);
    this.live();
    return this.source.ptr;
  }

  get fd(): number {
    this.live();
    if (this.source.kind === "fd") return this.source.fd;
    if (this.loadedFd !== undefined) return this.loadedFd;
    const fd = libbpf.program_fd(this.objectPtr()) as number;
    if (fd < 0) throw new Error(`BPF program ${this.name} of ${this.source.objectName} is not loaded (call load() first)`);
    // Fixed from load until the object closes (live() guards that).
    this.loadedFd = fd;
    return fd;
  }

  /** Function name for object programs; the kernel's (15-character) name otherwise. */
  get name(): string {
    return this.source.name;
  }

  /** ELF section, e.g. "xdp" or "xdp/devmap"; "" for programs opened from the kernel. */
  get section(): string {
    return this.source.kind === "object" ? this.source.section : "";
  }

  /** enum bpf_prog_type as libbpf will load it (objects) or as the kernel reports it. */
  get type(): number {
    if (this.source.kind === "object") return libbpf.program_type(this.objectPtr()) as number;
    return this.info().type;
  }

  /** libbpf's expected_attach_type (objects only: the kernel does not report it). */
  get expectedAttachType(): number {
    return libbpf.program_expected_attach_type(this.objectPtr()) as number;
  }

  /** Before load: overrides the type libbpf derived from the section. */
  setType(type: number): void {
    checkLibbpf(libbpf.program_set_type(this.objectPtr(), type), "bpf_program__set_type", this.name);
  }

  /**
   * Before load: overrides the expected attach type. libbpf 1.1 already sets
   * BPF_XDP_DEVMAP (33) for SEC("xdp/devmap") and BPF_XDP (37) for SEC("xdp").
   */
  setExpectedAttachType(attachType: number): void {
    checkLibbpf(
      libbpf.program_set_expected_attach_type(this.objectPtr(), attachType),
      "bpf_program__set_expected_attach_type",
      this.name,
    );
  }

  info(): ProgInfo {
    return progInfo(this.fd, `program ${this.name}`);
  }

  /**
   * BPF_PROG_TEST_RUN through bpf_prog_test_run_opts. In live-frames mode the kernel
   * builds real frames from `data` and executes XDP_TX/XDP_REDIRECT; `repeat` is then the
   * number of frames.
   */
  testRun(opts: TestRunOptions): TestRunResult {
    const live = ((opts.flags ?? 0) & BPF_F_TEST_XDP_LIVE_FRAMES) !== 0;
    const out = live ? null : Buffer.alloc(opts.dataSizeOut ?? opts.data.length + 256);
    const run: TestRunOptsValue = {
      sz: TEST_RUN_OPTS_SIZE,
      data_in: opts.data,
      data_out: out,
      data_size_in: opts.data.length,
      data_size_out: out ? out.length : 0,
      ctx_in: opts.ctxIn ?? null,
      ctx_out: null,
      ctx_size_in: opts.ctxIn ? opts.ctxIn.length : 0,
      ctx_size_out: 0,
      retval: 0,
      repeat: opts.repeat ?? 1,
      duration: 0,
      flags: opts.flags ?? 0,
      cpu: 0,
      batch_size: opts.batchSize ?? 0,
    };
    const ret = libbpf.prog_test_run_opts(this.fd, run) as number;
    if (ret < 0) throw new KernelError("bpf_prog_test_run_opts", -ret, undefined, `program ${this.name}`);
    const size = Math.min(run.data_size_out, out ? out.length : 0);
    return {
      retval: run.retval,
      data: out ? Buffer.from(out.subarray(0, size)) : Buffer.alloc(0),
      durationNs: run.duration,
    };
  }

  /** Pins the program (parent directories are created inside bpffs). */
  pin(path: string): void {
    pinFd(this.fd, path);
  }

  /**
   * Releases an fd we own. For an object's program this only invalidates the handle:
   * the object owns the fd and releases it in its own close().
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.source.kind === "fd") closeFd(this.source.fd);
  }
}
