// What every op on a device needs: a netlink socket inside the device's netns, and the
// name of the lock that serialises changes to one device across ops and helpers.
import { inNetns } from "../kernel/netns";
import { RtNetlink } from "../kernel/netlink/rtnetlink";

export function withRt<T>(netns: string | undefined, fn: (rt: RtNetlink) => T): T {
  return inNetns(netns, () => {
    const rt = RtNetlink.open();
    try {
      return fn(rt);
    } finally {
      rt.close();
    }
  });
}

export function deviceLock(netns: string | undefined, device: string): string {
  return `dev-${netns ?? ""}-${device}`;
}
