// How `hvnet stats` shows counters: tables for people, plain JSON for scripts.
import Table from "cli-table3";
import { TABLE_STYLE } from "./table-style";
import { COUNTERS } from "../provider/common/counters";
import { summarize, type Attachment, type Summary } from "./counters";

const ROLE: Record<Attachment["kind"], string> = { uplink: "l2fwd", vm: "vm-egress", "ingress-acl": "ingress-acl" };

export function formatShare(share: number | undefined): string {
  return share === undefined ? "-" : `${(share * 100).toFixed(1)}%`;
}

const n = (v: bigint) => v.toLocaleString("en-US");

function deviceCell(a: Attachment): string {
  const where = a.netns ? `${a.device}@${a.netns}` : a.device;
  return a.attached ? where : `${where} (detached)`;
}

/** One table per reading; `perSecond` marks rates (from --watch) instead of totals. */
export function statsTables(attachments: Attachment[], summaries: Map<Attachment, Summary> | undefined, perSecond: boolean): string {
  const sumOf = (a: Attachment) => summaries?.get(a) ?? summarize(a);
  const unit = perSecond ? " /s" : "";
  const frames = new Table({
    head: ["host", "device", "program", ...["fast path", "to stack", "dropped", "unknown", "bc/mc", "malformed", "spoofed", "acl", "other"].map((h) => `${h}${unit}`), "fast-path share"],
    style: TABLE_STYLE,
  });
  for (const a of attachments) {
    const s = sumOf(a);
    const r = s.reasons;
    frames.push([a.host, deviceCell(a), ROLE[a.kind], n(s.fastPath), n(s.toStack), n(s.dropped), n(r.unknown), n(r.broadcastMulticast), n(r.malformed), n(r.spoofed), n(r.acl), n(r.other + r.qinq), formatShare(s.fastPathShare)]);
  }
  const vms = attachments.filter((a) => a.kind === "vm");
  let out = frames.toString();
  if (vms.length) {
    const t = new Table({ head: ["host", "vm (tap)", "mac", `egress allowed${unit}`, `spoof drops${unit}`, `acl drops${unit}`], style: TABLE_STYLE });
    for (const a of vms) {
      const e = sumOf(a).egress!;
      t.push([a.host, deviceCell(a), a.vm?.mac ?? "-", n(e.allowed), n(e.spoofDrops), n(e.aclDrops)]);
    }
    out += `\n${t.toString()}`;
  }
  return out;
}

const num = (v: bigint) => Number(v);

function summaryJson(s: Summary) {
  return {
    frames: { fastPath: num(s.fastPath), toStack: num(s.toStack), dropped: num(s.dropped) },
    reasons: Object.fromEntries(Object.entries(s.reasons).map(([k, v]) => [k, num(v)])),
    fastPathShare: s.fastPathShare ?? null,
    ...(s.egress ? { egress: { allowed: num(s.egress.allowed), spoofDrops: num(s.egress.spoofDrops), aclDrops: num(s.egress.aclDrops) } } : {}),
  };
}

/** Every host that answered appears, also with no attachments; hosts that failed are in errors. */
export function statsJson(hosts: string[], attachments: Attachment[], errors: string[]) {
  return {
    hosts: hosts.map((host) => ({
      host,
      attachments: attachments
        .filter((a) => a.host === host)
        .map((a) => ({
          kind: a.kind,
          program: a.program ?? null,
          device: a.device,
          ...(a.netns ? { netns: a.netns } : {}),
          attached: a.attached,
          ...(a.vm ? { vm: a.vm } : {}),
          ...summaryJson(summarize(a)),
          counters: Object.fromEntries(COUNTERS.map((c) => [c, { packets: num(a.counts[c].packets), bytes: num(a.counts[c].bytes) }])),
        })),
    })),
    errors,
  };
}
