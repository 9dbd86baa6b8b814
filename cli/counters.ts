// The datapath's counters, as the helper's `stats` op reports them, grouped the way an
// operator reads them: outcome (fast path, to the stack, dropped), reason, and the
// fast-path share of unicast that "XDP and the Cloud" asks 90% or more of.
import { COUNTERS, type CounterName } from "../provider/common/counters";
import type { AttachmentStats } from "../provider/common/stats";

export type Counts = Record<CounterName, { packets: bigint; bytes: bigint }>;

export interface Attachment {
  host: string;
  kind: AttachmentStats["kind"];
  device: string;
  program?: string;
  netns?: string;
  attached: boolean;
  vm?: AttachmentStats["vm"];
  counts: Counts;
}

export interface HostStatsReply {
  cpus: number;
  attachments: AttachmentStats[];
}

export function fromReply(host: string, reply: HostStatsReply): Attachment[] {
  return reply.attachments.map((a) => {
    const counts = {} as Counts;
    for (const n of COUNTERS) {
      const c = a.counters[n];
      counts[n] = { packets: BigInt(c?.packets ?? 0), bytes: BigInt(c?.bytes ?? 0) };
    }
    const out: Attachment = { host, kind: a.kind, device: a.device, attached: a.attached, counts };
    if (a.program) out.program = a.program;
    if (a.netns) out.netns = a.netns;
    if (a.vm) out.vm = a.vm;
    return out;
  });
}

const sum = (c: Counts, names: CounterName[]): bigint => names.reduce((s, n) => s + c[n].packets, 0n);

export const SPOOF: CounterName[] = ["drop_spoof_mac", "drop_spoof_ip", "drop_spoof_arp", "drop_spoof_nd"];
const TO_STACK: CounterName[] = ["pass_unknown", "pass_bcast_mcast", "pass_qinq"];
const DROPPED = COUNTERS.filter((n) => n.startsWith("drop_"));
const OTHER_DROPS: CounterName[] = ["drop_no_port", "drop_adjust", "drop_no_config", "drop_vlan_tagged", "drop_ethertype"];
/** Unicast l2fwd parsed and looked up: FDB hits (fast path, or lost on the way) and misses. */
const UNICAST: CounterName[] = ["redirect", "pass_unknown", "drop_no_port", "drop_adjust"];

export interface Summary {
  /** Frames by outcome. The ingress ACL's accepted frames count as fast path (they reach the VM). */
  fastPath: bigint;
  toStack: bigint;
  dropped: bigint;
  reasons: { unknown: bigint; broadcastMulticast: bigint; qinq: bigint; malformed: bigint; spoofed: bigint; acl: bigint; other: bigint };
  /** l2fwd only: fast path / unicast; undefined before any unicast frame. */
  fastPathShare?: number;
  /** vm-egress only: what the VM sent and was let out (to the uplink or, broadcast, to the stack). */
  egress?: { allowed: bigint; spoofDrops: bigint; aclDrops: bigint };
}

export function summarize(a: Pick<Attachment, "kind" | "counts">): Summary {
  const c = a.counts;
  const s: Summary = {
    fastPath: c.redirect.packets + c.acl_accept.packets,
    toStack: sum(c, TO_STACK),
    dropped: sum(c, DROPPED),
    reasons: {
      unknown: c.pass_unknown.packets,
      broadcastMulticast: c.pass_bcast_mcast.packets,
      qinq: c.pass_qinq.packets,
      malformed: c.drop_malformed.packets,
      spoofed: sum(c, SPOOF),
      acl: c.drop_acl.packets,
      other: sum(c, OTHER_DROPS),
    },
  };
  if (a.kind === "uplink") {
    const unicast = sum(c, UNICAST);
    if (unicast > 0n) s.fastPathShare = Number(c.redirect.packets) / Number(unicast);
  }
  if (a.kind === "vm") {
    s.egress = { allowed: c.redirect.packets + c.pass_bcast_mcast.packets, spoofDrops: sum(c, SPOOF), aclDrops: c.drop_acl.packets };
  }
  return s;
}

/** Per-second rates between two readings of the same attachments (matched by host, kind, device). */
export function rates(before: Attachment[], after: Attachment[], seconds: number): Map<Attachment, Summary> {
  const key = (a: Attachment) => `${a.host}\0${a.kind}\0${a.netns ?? ""}\0${a.device}`;
  const prev = new Map(before.map((a) => [key(a), a]));
  const out = new Map<Attachment, Summary>();
  for (const a of after) {
    const p = prev.get(key(a));
    if (!p) continue;
    const counts = {} as Counts;
    for (const n of COUNTERS) {
      // A counter that went backwards was reset (the program re-attached): count from zero.
      const d = a.counts[n].packets - p.counts[n].packets;
      counts[n] = { packets: d < 0n ? a.counts[n].packets : d, bytes: 0n };
    }
    const s = summarize({ kind: a.kind, counts });
    out.set(a, scale(s, seconds));
  }
  return out;
}

function scale(s: Summary, seconds: number): Summary {
  const per = (v: bigint) => BigInt(Math.round(Number(v) / seconds));
  const out: Summary = {
    fastPath: per(s.fastPath),
    toStack: per(s.toStack),
    dropped: per(s.dropped),
    reasons: Object.fromEntries(Object.entries(s.reasons).map(([k, v]) => [k, per(v)])) as Summary["reasons"],
  };
  if (s.fastPathShare !== undefined) out.fastPathShare = s.fastPathShare;
  if (s.egress) out.egress = { allowed: per(s.egress.allowed), spoofDrops: per(s.egress.spoofDrops), aclDrops: per(s.egress.aclDrops) };
  return out;
}
