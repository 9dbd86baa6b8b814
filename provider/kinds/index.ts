import { ReadAhead, ResourceKind } from "./kind";
import { rssContext } from "./rss";
import { netkitLower } from "./netkit";
import { xdpProgram } from "./xdp";
import { fdbEntry } from "./fdb";
import { fdbTable } from "./fdbtable";
import { vmInterface } from "./vmif";

export const KINDS: Record<string, ResourceKind> = {
  RssContext: rssContext,
  NetkitLower: netkitLower,
  XdpProgram: xdpProgram,
  FdbEntry: fdbEntry,
  FdbTable: fdbTable,
  VmInterface: vmInterface,
};

export type TypeName = keyof typeof KINDS;
export type { ResourceKind, ReadAhead };
