// bpf(2) for the commands libbpf 1.1 cannot express (see attr.ts). glibc has no bpf()
// wrapper, so this goes through syscall(2) with the number of the host's architecture
// (the deploy check accepts x86_64 and aarch64 hosts; union bpf_attr is laid out the
// same on both: little-endian, 64-bit aligned).
//
// The implementation is swappable so the kernel interface can be replaced by a test double
// where this kernel lacks the feature (netkit): the double sees exactly the command and
// attr bytes the real call would pass.
import koffi from "koffi";
import { KernelError } from "../../errors";

/**
 * __NR_bpf per Node architecture name: x86_64 from arch/x86/entry/syscalls/syscall_64.tbl,
 * arm64 from include/uapi/asm-generic/unistd.h (arm64 uses the generic table).
 */
const BPF_SYSCALL_NUMBERS: Readonly<Record<string, number>> = { x64: 321, arm64: 280 };

/** bpf(2)'s number on `arch`; throws for an architecture the helper does not support. */
export function bpfSyscallNumber(arch: string = process.arch): number {
  const nr = BPF_SYSCALL_NUMBERS[arch];
  if (nr === undefined) throw new Error(`bpf(2): architecture ${arch} is not supported (x64 and arm64 are)`);
  return nr;
}

/** Returns the syscall's non-negative result, or -errno. */
export type BpfSyscall = (cmd: number, attr: Buffer) => number;

const libc = koffi.load("libc.so.6");
const rawSyscall = libc.func("syscall", "long", ["long", "long", "void *", "uint32_t"]);

const kernelSyscall: BpfSyscall = (cmd, attr) => {
  const ret = Number(rawSyscall(bpfSyscallNumber(), cmd, attr, attr.length));
  return ret < 0 ? -koffi.errno() : ret;
};

let current: BpfSyscall = kernelSyscall;

/** Issues bpf(cmd, attr); throws KernelError naming `operation` on failure. */
export function bpfCall(cmd: number, attr: Buffer, operation: string, context?: string): number {
  const ret = current(cmd, attr);
  if (ret < 0) throw new KernelError(operation, -ret, undefined, context);
  return ret;
}

/** Replaces the kernel with `fake` until the returned restore function is called (tests). */
export function useBpfSyscall(fake: BpfSyscall): () => void {
  const previous = current;
  current = fake;
  return () => {
    current = previous;
  };
}
