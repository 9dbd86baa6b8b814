// The ACL as users write it (common-args.ts) and as the datapath stores it (bpf-layout.ts).
import { Acl, AclRule } from "../../common/args/common";
import * as layout from "../bpf-layout";

const PROTO_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58 };
const PROTO_NAMES: Record<number, AclRule["protocol"]> = { 1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6" };

/** A single address becomes a host prefix: the datapath matches prefixes only. */
function prefix(addr: string | undefined): string | undefined {
  if (!addr || addr.includes("/")) return addr;
  return `${addr}/${addr.includes(":") ? 128 : 32}`;
}

export function toLayoutAcl(acl: Acl | undefined): layout.Acl {
  if (!acl) return { rules: [], defaultAction: "pass" };
  return {
    defaultAction: acl.defaultAction === "deny" ? "drop" : "pass",
    rules: acl.rules.map((r) => {
      const out: layout.AclRule = { action: r.action === "deny" ? "drop" : "pass" };
      if (r.protocol !== undefined) out.proto = typeof r.protocol === "number" ? r.protocol : PROTO_NUMBERS[r.protocol];
      if (r.src) out.src = prefix(r.src);
      if (r.dst) out.dst = prefix(r.dst);
      if (r.srcPorts) out.sport = [r.srcPorts.from, r.srcPorts.to];
      if (r.dstPorts) out.dport = [r.dstPorts.from, r.dstPorts.to];
      return out;
    }),
  };
}

function unprefix(p: string | undefined): string | undefined {
  if (!p) return undefined;
  return p.endsWith("/32") && !p.includes(":") ? p.slice(0, -3) : p.endsWith("/128") ? p.slice(0, -4) : p;
}

export function fromLayoutAcl(acl: layout.Acl): Acl {
  return {
    defaultAction: acl.defaultAction === "drop" ? "deny" : "allow",
    rules: acl.rules.map((r) => {
      const out: AclRule = { action: r.action === "drop" ? "deny" : "allow" };
      if (r.proto !== undefined) out.protocol = PROTO_NAMES[r.proto] ?? r.proto;
      const src = unprefix(r.src);
      const dst = unprefix(r.dst);
      if (src) out.src = src;
      if (dst) out.dst = dst;
      if (r.sport) out.srcPorts = { from: r.sport[0], to: r.sport[1] };
      if (r.dport) out.dstPorts = { from: r.dport[0], to: r.dport[1] };
      return out;
    }),
  };
}
