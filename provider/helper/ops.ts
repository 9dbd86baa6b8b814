// The helper's op table: one entry per resource kind operation (DESIGN.md "Resources").
import { OpTable } from "./rpc/dispatcher";
import { probe } from "./resources/probe";
import { applyRss, showRss, removeRss } from "./resources/rss";
import { applyNetkit, showNetkit, removeNetkit } from "./resources/netkit";
import { applyXdp, showXdp, removeXdp } from "./resources/xdp";
import { applyFdb, applyFdbMany, dumpFdb, showFdb, showFdbMany, removeFdb, removeFdbMany } from "./resources/fdb";
import { applyFdbTable, showFdbTable, removeFdbTable } from "./resources/fdbtable";
import { applyVmif, showVmif, removeVmif } from "./resources/vmif";
import { stats } from "./resources/stats";

export function opTable(hello: (args: unknown) => unknown): OpTable {
  return {
    hello: { one: hello },
    // The provider's keepalive: any input proves it is still there (see rpc/idle.ts).
    ping: { one: () => ({}) },
    probe: { one: probe },
    // Read-only counters of every attachment, for `hvnet stats` and `hvnet metrics`.
    stats: { one: stats },
    "rss.apply": { one: applyRss },
    "rss.show": { one: showRss },
    "rss.remove": { one: removeRss },
    "netkit.apply": { one: applyNetkit },
    "netkit.show": { one: showNetkit },
    "netkit.remove": { one: removeNetkit },
    "xdp.apply": { one: applyXdp },
    "xdp.show": { one: showXdp },
    "xdp.remove": { one: removeXdp },
    "fdb.apply": { one: applyFdb, many: applyFdbMany },
    "fdb.show": { one: showFdb, many: showFdbMany },
    "fdb.remove": { one: removeFdb, many: removeFdbMany },
    // Every entry of one table at once, read-only: what a refresh's shows are answered from.
    "fdb.dump": { one: dumpFdb },
    "fdbtable.apply": { one: applyFdbTable },
    "fdbtable.show": { one: showFdbTable },
    "fdbtable.remove": { one: removeFdbTable },
    "vmif.apply": { one: applyVmif },
    "vmif.show": { one: showVmif },
    "vmif.remove": { one: removeVmif },
  };
}
