// Small fd helpers shared by the object modules: turning libbpf's -errno returns into
// KernelErrors, and telling what kind of BPF object an fd (e.g. from a pin) refers to.
import { readFileSync } from "node:fs";
import { KernelError } from "../../errors";
import { errnoNumber } from "../../internal/errno";
import * as libc from "../../internal/libc";

/** libbpf 1.x returns -errno on failure; returns the non-negative result or throws. */
export function checkLibbpf(ret: number, operation: string, context?: string, kernelMessage?: string): number {
  if (ret < 0) throw new KernelError(operation, -ret, kernelMessage, context);
  return ret;
}

export type BpfFdKind = "prog" | "map" | "link" | "other";

/**
 * What a BPF fd refers to. The kernel's fdinfo starts prog/map/link entries with
 * prog_type / map_type / link_type lines (kernel/bpf/syscall.c *_show_fdinfo), which is
 * cheaper and less ambiguous than probing with BPF_OBJ_GET_INFO_BY_FD.
 */
function fdKind(fd: number): BpfFdKind {
  let text: string;
  try {
    text = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
  } catch {
    return "other";
  }
  if (/^prog_type:/m.test(text)) return "prog";
  if (/^map_type:/m.test(text)) return "map";
  if (/^link_type:/m.test(text)) return "link";
  return "other";
}

/** Checks that fd (just opened from `what`) is a `want`; closes it and throws if not. */
export function expectKind(fd: number, want: BpfFdKind, what: string): number {
  const got = fdKind(fd);
  if (got === want) return fd;
  libc.close(fd);
  throw new KernelError("bpf_obj_get", errnoNumber("EINVAL"), `${what} holds a BPF ${got}, not a ${want}`);
}

export function closeFd(fd: number): void {
  if (fd >= 0) libc.close(fd);
}
