// bpf(2) for the commands libbpf 1.1 cannot express (see attr.ts). glibc has no bpf()
// wrapper, so this goes through syscall(2) with the x86_64 number.
//
// The implementation is swappable so the kernel interface can be replaced by a test double
// where this kernel lacks the feature (netkit): the double sees exactly the command and
// attr bytes the real call would pass.
import koffi from "koffi";
import { KernelError } from "../../internal/errors";

/** __NR_bpf on x86_64 (arch/x86/entry/syscalls/syscall_64.tbl). */
const NR_BPF = 321;

/** Returns the syscall's non-negative result, or -errno. */
export type BpfSyscall = (cmd: number, attr: Buffer) => number;

const libc = koffi.load("libc.so.6");
const rawSyscall = libc.func("syscall", "long", ["long", "long", "void *", "uint32_t"]);

const kernelSyscall: BpfSyscall = (cmd, attr) => {
  const ret = Number(rawSyscall(NR_BPF, cmd, attr, attr.length));
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
