// Shared setup of the datapath tests: a scratch namespace with veth pairs (real ifindexes
// for the devmaps, which resolve them in the calling thread's namespace), the datapath
// objects loaded from a fresh build, and counter snapshots whose differences the tests
// assert exactly.
import { join } from "node:path";
import { BpfObject, possibleCpus } from "../../../provider/helper/kernel/bpf";
import { inNetns } from "../../../provider/helper/kernel/netns";
import { COUNTERS, CounterName } from "../../../provider/common/counters";
import { readCounters } from "../../../provider/helper/datapath/counters";
import { ScratchNetns, createScratchNetns } from "../../support/scratch-netns";
import { buildDatapath } from "./build";

export const XDP_ABORTED = 0;
export const XDP_DROP = 1;
export const XDP_PASS = 2;
export const XDP_REDIRECT = 4;

export function loadObject(file: string): BpfObject {
  const obj = BpfObject.open(join(buildDatapath(), file));
  try {
    obj.load();
  } catch (e) {
    obj.close();
    throw e;
  }
  return obj;
}

export interface Lab {
  ns: ScratchNetns;
  /** ifindex by interface name, inside ns */
  ifindex(name: string): number;
  /** Runs fn with this thread inside the namespace (map updates naming ifindexes, attach). */
  run<T>(fn: () => T): T;
  remove(): void;
}

/** A namespace with veth pairs [a, b] created and up; IPv6 off so no stray frames appear. */
export function makeLab(tag: string, pairs: Array<[string, string]>): Lab {
  const ns = createScratchNetns(tag);
  try {
    ns.exec("sysctl", ["-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]);
    for (const [a, b] of pairs) {
      ns.ip("link", "add", a, "type", "veth", "peer", "name", b);
      ns.ip("link", "set", a, "up");
      ns.ip("link", "set", b, "up");
    }
  } catch (e) {
    ns.remove();
    throw e;
  }
  return {
    ns,
    ifindex: (name) => {
      const [link] = ns.ipJson<Array<{ ifindex: number }>>("link", "show", "dev", name);
      return link.ifindex;
    },
    run: (fn) => inNetns(ns.name, fn),
    remove: () => ns.remove(),
  };
}

export type Snapshot = Record<CounterName, { packets: bigint; bytes: bigint }>;

export function snapshot(obj: BpfObject): Snapshot {
  const stats = obj.map("stats");
  return readCounters((k) => stats.lookup(k), possibleCpus());
}

/** Counters that moved between two snapshots: name → [packets, bytes]. */
export function moved(before: Snapshot, after: Snapshot): Partial<Record<CounterName, [number, number]>> {
  const out: Partial<Record<CounterName, [number, number]>> = {};
  for (const n of COUNTERS) {
    const dp = after[n].packets - before[n].packets;
    const db = after[n].bytes - before[n].bytes;
    if (dp !== 0n || db !== 0n) out[n] = [Number(dp), Number(db)];
  }
  return out;
}
