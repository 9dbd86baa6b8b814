// Errors that carry what the kernel said: the errno name and number, and for netlink
// the extended-ack text, so an operator reads "EINVAL: mtu less than device minimum"
// instead of a bare number.
import { errnoName } from "./errno";

export class KernelError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly kernelMessage?: string;

  constructor(operation: string, errno: number, kernelMessage?: string, context?: string) {
    const code = errnoName(errno);
    const where = context ? ` (${context})` : "";
    const said = kernelMessage ? `: ${kernelMessage}` : "";
    super(`${operation}${where} failed: ${code}${said}`);
    this.name = "KernelError";
    this.errno = errno;
    this.code = code;
    this.kernelMessage = kernelMessage;
  }
}

export class SyscallError extends KernelError {
  constructor(syscall: string, errno: number, context?: string) {
    super(syscall, errno, undefined, context);
    this.name = "SyscallError";
  }
}
