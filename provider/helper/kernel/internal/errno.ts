// errno numbers of Linux x86_64/generic (include/uapi/asm-generic/errno-base.h, errno.h).
const NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 8: "ENOEXEC",
  9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY",
  17: "EEXIST", 18: "EXDEV", 19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 23: "ENFILE",
  24: "EMFILE", 25: "ENOTTY", 28: "ENOSPC", 30: "EROFS", 31: "EMLINK", 32: "EPIPE", 34: "ERANGE",
  36: "ENAMETOOLONG", 38: "ENOSYS", 39: "ENOTEMPTY", 61: "ENODATA", 71: "EPROTO", 74: "EBADMSG",
  75: "EOVERFLOW", 90: "EMSGSIZE", 92: "ENOPROTOOPT", 93: "EPROTONOSUPPORT", 95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT", 98: "EADDRINUSE", 99: "EADDRNOTAVAIL", 100: "ENETDOWN", 105: "ENOBUFS",
  110: "ETIMEDOUT", 111: "ECONNREFUSED", 524: "ENOTSUPP",
};

const NUMBERS: Record<string, number> = Object.fromEntries(
  Object.entries(NAMES).map(([n, name]) => [name, Number(n)]),
);

export function errnoName(errno: number): string {
  return NAMES[errno] ?? `errno ${errno}`;
}

export function errnoNumber(name: string): number {
  const n = NUMBERS[name];
  if (n === undefined) throw new Error(`unknown errno name ${name}`);
  return n;
}
