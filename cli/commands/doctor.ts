// `hvnet doctor`: what each host has (kernel, netkit, queue lease, bpffs, the helper it
// runs, its NICs) and which hvnet resources it can run, with the one-line reason for
// each it cannot. `--require` makes the exit status answer "can every host run these?".
import Table from "cli-table3";
import { TABLE_STYLE } from "../table-style";
import { missingCapabilities, type Capability, type HostProbe, type ProbedDevice } from "../../sdk/capabilities";
import type { Connector } from "../connect";
import type { Target } from "../hosts";
import { UsageError } from "../errors";

export const CAPABILITIES: Capability[] = ["netkit-lease", "rss-contexts", "ntuple"];

/** What probe says beyond sdk's HostProbe when the helper reports it (node, libbpf, VLAN stripping). */
interface Probe extends HostProbe {
  node?: string;
  libbpf?: string;
  devices: Array<ProbedDevice & { vlanStrip?: boolean }>;
}

interface Hello {
  version: string;
  hash: string;
  capabilities?: string[];
}

export interface HostReport {
  host: string;
  kernel: string;
  netkit: HostProbe["netkit"];
  queueLease: boolean;
  bpffs: boolean;
  node: string | null;
  libbpf: string | null;
  helper: { version: string; bundle: string; stats: boolean };
  nics: Array<{ name: string; driver: string | null; channels: string | null; rssContexts: boolean; ntuple: boolean; xdp: string[]; vlanStrip: boolean | null }>;
  resources: Record<string, { ok: boolean; reason?: string }>;
  missing: string[];
}

export function parseRequire(text: string | undefined): Capability[] {
  if (text === undefined) return [];
  const wanted = text.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = wanted.filter((w) => !(CAPABILITIES as string[]).includes(w));
  if (unknown.length || wanted.length === 0) throw new UsageError(`--require ${text}: expected a comma-separated list of ${CAPABILITIES.join(", ")}`);
  return wanted as Capability[];
}

function xdpModes(d: ProbedDevice): string[] {
  const f = Array.isArray(d.xdpFeatures) ? (d.xdpFeatures as string[]) : [];
  // Generic (skb) XDP works on every device; native needs the driver's "basic" feature.
  return f.includes("basic") ? ["native", "skb", ...f.filter((x) => x === "redirect" || x === "xsk-zerocopy")] : ["skb"];
}

/** "8 combined (max 64)", or "4 rx" for drivers (veth) with separate rx/tx channels only. */
function channelsText(c: ProbedDevice["channels"]): string | null {
  if (!c) return null;
  return c.combined > 0 ? `${c.combined} combined (max ${c.maxCombined})` : `${c.rx} rx`;
}

/** Which resource kinds the probe allows, each refused one with its reason. */
export function resourcesFor(p: Probe): HostReport["resources"] {
  const bpf = p.bpffs ? { ok: true } : { ok: false, reason: "no bpffs at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)" };
  const reason = (caps: Capability[]) => {
    const m = missingCapabilities(p, caps);
    return m.length ? { ok: false, reason: m.join("; ") } : { ok: true };
  };
  return {
    XdpProgram: bpf,
    FdbEntry: bpf,
    FdbTable: bpf,
    VmInterface: bpf,
    RssContext: reason(["rss-contexts", "ntuple"]),
    NetkitLower: reason(["netkit-lease"]),
  };
}

export function reportOf(host: string, hello: Hello, p: Probe, required: Capability[]): HostReport {
  return {
    host,
    kernel: p.kernel,
    netkit: p.netkit,
    queueLease: p.queueLease,
    bpffs: p.bpffs,
    node: p.node ?? null,
    libbpf: p.libbpf ?? null,
    helper: { version: hello.version, bundle: hello.hash.slice(0, 12), stats: hello.capabilities?.includes("stats") ?? false },
    nics: p.devices.map((d) => ({
      name: d.name,
      driver: d.driver ?? null,
      channels: channelsText(d.channels),
      rssContexts: d.rssContexts,
      ntuple: d.ntuple,
      xdp: xdpModes(d),
      vlanStrip: d.vlanStrip ?? null,
    })),
    resources: resourcesFor(p),
    missing: missingCapabilities(p, required),
  };
}

const yn = (v: boolean | null) => (v === null ? "?" : v ? "yes" : "no");

export function doctorText(reports: HostReport[]): string {
  const hosts = new Table({ head: ["host", "kernel", "netkit", "queue lease", "bpffs", "node", "libbpf", "helper"], style: TABLE_STYLE });
  const nics = new Table({ head: ["host", "nic", "driver", "channels", "rss contexts", "ntuple", "xdp", "vlan strip"], style: TABLE_STYLE });
  // Reasons can name every NIC of a host: wrap them instead of widening the table past the terminal.
  const res = new Table({ head: ["host", "resource", "can run", "why not"], style: TABLE_STYLE, colWidths: [null, null, null, 72], wordWrap: true });
  for (const r of reports) {
    hosts.push([r.host, r.kernel, r.netkit, yn(r.queueLease), yn(r.bpffs), r.node ?? "?", r.libbpf ?? "?", `${r.helper.version} ${r.helper.bundle}${r.helper.stats ? "" : " (no stats op)"}`]);
    for (const n of r.nics) nics.push([r.host, n.name, n.driver ?? "?", n.channels ?? "?", yn(n.rssContexts), yn(n.ntuple), n.xdp.join(","), yn(n.vlanStrip)]);
    for (const [kind, v] of Object.entries(r.resources)) res.push([r.host, kind, v.ok ? "yes" : "no", v.reason ?? ""]);
  }
  return [hosts.toString(), nics.toString(), res.toString()].join("\n");
}

export async function doctor(conn: Connector, targets: Target[], required: Capability[], json: boolean, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const results = await conn.each(targets, async (request, t) => {
    const hello = await request<Hello>("hello");
    const probe = await request<Probe>("probe");
    return reportOf(t.name, hello, probe, required);
  });
  const reports = results.flatMap((r) => (r.ok ? [r.value] : []));
  const errors = results.flatMap((r) => (r.ok ? [] : [r.error]));
  if (json) out.write(`${JSON.stringify({ hosts: reports, errors }, null, 2)}\n`);
  else if (reports.length) out.write(`${doctorText(reports)}\n`);
  for (const r of reports) for (const m of r.missing) err.write(`hvnet: ${r.host} lacks ${m}\n`);
  for (const e of errors) err.write(`hvnet: ${e}\n`);
  return errors.length || reports.some((r) => r.missing.length) ? 1 : 0;
}
