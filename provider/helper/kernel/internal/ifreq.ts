// struct ifreq (include/uapi/linux/if.h) and the interface names it and rtnetlink carry.
// One name rule for every binding: the kernel's dev_valid_name (net/core/dev.c) takes
// 1 to IFNAMSIZ-1 bytes, not "." or "..", no '/', ':' or whitespace. Names are checked
// before a request is built: an ioctl would cut a longer name silently (and so could
// name another device), and rtnetlink answers the others with a bare EINVAL.

/** include/uapi/linux/if.h:31 IFNAMSIZ 16, the NUL included. */
export const IFNAMSIZ = 16;
/** sizeof(struct ifreq) on 64-bit: name[16] + a union whose largest member is 24 bytes. */
export const IFREQ_SIZE = 40;

export function isValidIfname(name: string): boolean {
  const len = Buffer.byteLength(name);
  return len > 0 && len < IFNAMSIZ && name !== "." && name !== ".." && !/[/:\s]/.test(name);
}

export function checkIfname(name: string): void {
  if (!isValidIfname(name)) {
    throw new Error(`invalid interface name ${JSON.stringify(name)}: 1-${IFNAMSIZ - 1} bytes, no '/', ':' or whitespace`);
  }
}
