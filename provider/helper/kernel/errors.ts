// Errors that carry what the kernel said: the errno name and number, and for netlink
// the extended-ack text, so an operator reads "EINVAL: mtu less than device minimum"
// instead of a bare number. The message says the kernel's text once; `kernelMessage`
// repeats it as a field for code that acts on it, never for printing beside the message.
import { errnoName } from "./internal/errno";

export class KernelError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly kernelMessage?: string;
  /**
   * The whole log behind kernelMessage when that is an excerpt (a verifier log can be
   * megabytes; the message keeps its last lines, like cilium/ebpf's VerifierError).
   */
  readonly log?: string;
  /**
   * The request attribute the kernel pointed at (netlink extended ack), by name when the
   * request's attribute names are known, else by number and offset; the message says it.
   */
  attribute?: string;

  constructor(operation: string, errno: number, kernelMessage?: string, context?: string, log?: string) {
    const code = errnoName(errno);
    const where = context ? ` (${context})` : "";
    const said = kernelMessage ? `: ${kernelMessage}` : "";
    super(`${operation}${where} failed: ${code}${said}`);
    this.name = "KernelError";
    this.errno = errno;
    this.code = code;
    this.kernelMessage = kernelMessage;
    if (log !== undefined && log !== kernelMessage) this.log = log;
  }
}

export class SyscallError extends KernelError {
  constructor(syscall: string, errno: number, context?: string) {
    super(syscall, errno, undefined, context);
    this.name = "SyscallError";
  }
}
