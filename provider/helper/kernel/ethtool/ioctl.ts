// The one place that talks to the kernel for ethtool: SIOCETHTOOL on an AF_INET datagram
// socket. Everything above works on an EthtoolDevice, so a test double can stand in for
// the kernel at exactly this boundary (test/support/fake-ethtool.ts).
import koffi from "koffi";
import * as libc from "../internal/libc";
import { KernelError } from "../errors";
import { inNetns } from "../netns";
import { EthtoolError } from "./errors";
import { commandOf, encodeIfreqData, SIOCETHTOOL } from "./structs";

export interface EthtoolDevice {
  /**
   * Runs one ethtool command on interface `ifname`. `data` is the whole ethtool structure
   * (starting with the u32 command); the kernel's answer is written back into it, also
   * when the command fails (some commands report sizes before refusing). Throws
   * EthtoolError with the errno on failure.
   */
  ioctl(ifname: string, data: Buffer): void;
}

/**
 * The real boundary. The socket is opened inside `netns` (undefined: the current one) and
 * keeps that namespace for its life, so later calls need no setns and device names are
 * looked up in that namespace.
 */
export class EthtoolSocket implements EthtoolDevice {
  private fd: number;

  constructor(netns?: string) {
    this.fd = inNetns(netns, () => libc.socket(libc.AF_INET, libc.SOCK_DGRAM, 0));
  }

  ioctl(ifname: string, data: Buffer): void {
    if (this.fd < 0) throw new Error("ethtool socket is closed");
    // ifr_data is a raw pointer inside struct ifreq, so the structure must live at an
    // address we can write there. A JS Buffer has no address koffi will hand out, so the
    // structure is copied into native memory for the call and copied back after it.
    const mem = koffi.alloc("uint8_t", data.length);
    try {
      const native = Buffer.from(koffi.view(mem, data.length));
      data.copy(native);
      const ifr = encodeIfreqData(ifname, koffi.address(mem));
      try {
        libc.ioctl(this.fd, SIOCETHTOOL, ifr);
      } catch (e) {
        if (e instanceof KernelError) throw new EthtoolError(commandOf(data), ifname, e.errno);
        throw e;
      } finally {
        native.copy(data);
      }
    } finally {
      koffi.free(mem);
    }
  }

  close(): void {
    if (this.fd >= 0) {
      libc.close(this.fd);
      this.fd = -1;
    }
  }
}

/** Runs fn with an ethtool socket opened in `netns`, closing it afterwards. */
export function withEthtool<T>(netns: string | undefined, fn: (dev: EthtoolDevice) => T): T {
  const sock = new EthtoolSocket(netns);
  try {
    return fn(sock);
  } finally {
    sock.close();
  }
}
