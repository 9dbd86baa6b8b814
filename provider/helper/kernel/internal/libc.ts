// The few libc entry points the kernel layer needs, bound once through koffi.
// Every wrapper throws a SyscallError (errno name + number) instead of returning -1,
// so callers never forget to check a return code.
import koffi from "koffi";
import { SyscallError } from "../errors";

const lib = koffi.load("libc.so.6");

const raw = {
  socket: lib.func("int socket(int domain, int type, int protocol)"),
  bind: lib.func("int bind(int fd, const void *addr, uint32_t len)"),
  send: lib.func("intptr_t send(int fd, const void *buf, uintptr_t len, int flags)"),
  recv: lib.func("intptr_t recv(int fd, _Out_ void *buf, uintptr_t len, int flags)"),
  setsockopt: lib.func("int setsockopt(int fd, int level, int name, const void *val, uint32_t len)"),
  getsockname: lib.func("int getsockname(int fd, _Out_ void *addr, _Inout_ uint32_t *len)"),
  ioctlPtr: lib.func("ioctl", "int", ["int", "unsigned long", "void *"]),
  ioctlInt: lib.func("ioctl", "int", ["int", "unsigned long", "long"]),
  open: lib.func("int open(const char *path, int flags, int mode)"),
  close: lib.func("int close(int fd)"),
  setns: lib.func("int setns(int fd, int nstype)"),
  flock: lib.func("int flock(int fd, int op)"),
  mount: lib.func("int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const void *data)"),
};

function check(name: string, ret: number | bigint, context?: string): number {
  const n = Number(ret);
  if (n < 0) throw new SyscallError(name, koffi.errno(), context);
  return n;
}

export const AF_NETLINK = 16;
export const AF_INET = 2;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
export const SOL_NETLINK = 270;
export const O_RDONLY = 0;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_CLOEXEC = 0o2000000;
export const CLONE_NEWNET = 0x40000000;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const MSG_TRUNC = 0x20;
export const MSG_PEEK = 0x2;

export function socket(domain: number, type: number, protocol: number): number {
  return check("socket", raw.socket(domain, type | SOCK_CLOEXEC, protocol));
}
export function bind(fd: number, addr: Buffer): void {
  check("bind", raw.bind(fd, addr, addr.length));
}
export function send(fd: number, buf: Buffer): number {
  return check("send", raw.send(fd, buf, buf.length, 0));
}
/** Returns the datagram's full length (MSG_TRUNC), which may exceed buf.length. */
export function recv(fd: number, buf: Buffer, flags = 0): number {
  return check("recv", raw.recv(fd, buf, buf.length, flags | MSG_TRUNC));
}
export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  const v = Buffer.alloc(4);
  v.writeInt32LE(value, 0);
  check("setsockopt", raw.setsockopt(fd, level, name, v, 4));
}
export function getsockname(fd: number, size: number): Buffer {
  const addr = Buffer.alloc(size);
  const len = [size];
  check("getsockname", raw.getsockname(fd, addr, len));
  return addr;
}
export function ioctl(fd: number, request: number, arg: Buffer, context?: string): number {
  return check("ioctl", raw.ioctlPtr(fd, request, arg), context);
}
export function ioctlValue(fd: number, request: number, value: number, context?: string): number {
  return check("ioctl", raw.ioctlInt(fd, request, value), context);
}
export function open(path: string, flags: number, mode = 0): number {
  return check("open", raw.open(path, flags | O_CLOEXEC, mode), path);
}
export function close(fd: number): void {
  check("close", raw.close(fd));
}
export function setns(fd: number, nstype: number): void {
  check("setns", raw.setns(fd, nstype));
}
export function flock(fd: number, op: number, context?: string): void {
  check("flock", raw.flock(fd, op), context);
}
export function mount(source: string, target: string, fstype: string, flags = 0): void {
  check("mount", raw.mount(source, target, fstype, flags, null), target);
}
/** setsockopt with a caller-built value (e.g. struct timeval for SO_RCVTIMEO). */
export function setsockoptBytes(fd: number, level: number, name: number, value: Buffer): void {
  check("setsockopt", raw.setsockopt(fd, level, name, value, value.length));
}
