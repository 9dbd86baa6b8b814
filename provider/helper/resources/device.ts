// What every op on a device needs: a netlink socket inside the device's netns, and the
// name of the lock that serialises changes to one device across ops and helpers.
import { InputReader } from "../../common/validate/reader";
import { readOwnership, type Ownership } from "../../common/args/common";
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

/** name → ifindex of every link of the netns: one dump, not one request per entry. */
export function linkIndexes(rt: RtNetlink): { byName: Map<string, number>; byIndex: Map<number, string> } {
  const byName = new Map<string, number>();
  const byIndex = new Map<number, string>();
  for (const l of rt.listLinks()) {
    byName.set(l.name, l.ifindex);
    byIndex.set(l.ifindex, l.name);
  }
  return { byName, byIndex };
}

export function deviceLock(netns: string | undefined, device: string): string {
  return `dev-${netns ?? ""}-${device}`;
}

/** What show and remove of a named device take: its name, netns and the caller's ownership. */
export function readDeviceIdentity(raw: unknown): { name: string; netns?: string; who: Ownership } {
  const r = InputReader.of(raw);
  const name = r.ifname("name")!;
  const netns = r.netns("netns");
  const who = readOwnership(r);
  r.finish();
  return { name, netns, who };
}
