// Independent witnesses of what is on a lab host, read inside its namespaces with ip,
// bpftool and find (never through hvnet), plus what its sshd logged.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Lab } from "../../support/lab";

/** What hvnet may change on a host: its links, its bpffs, its /run/hvnet records. */
export interface HostSnapshot {
  links: unknown[];
  bpffs: string[];
  run: string[];
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "").sort();
}

export function snapshot(lab: Lab, host: string): HostSnapshot {
  const links = JSON.parse(lab.hostExec(host, "ip", ["-j", "-d", "link", "show"])) as unknown[];
  // progs.debug/maps.debug are bpffs's own iterator files, made at mount time.
  const bpffs = lines(lab.hostExec(host, "find", ["/sys/fs/bpf"])).filter((p) => !p.endsWith(".debug"));
  const run = lines(lab.hostExec(host, "find", ["/run", "-path", "/run/hvnet*"]));
  return { links, bpffs, run };
}

export function snapshotAll(lab: Lab): Record<string, HostSnapshot> {
  return Object.fromEntries(lab.inventory.hosts.map((h) => [h.name, snapshot(lab, h.name)]));
}

/** Entries of the helper directory (absent: the helper was never deployed there). */
export function helperDir(lab: Lab, host: string): string[] | null {
  const out = lab.hostExec(host, "sh", ["-c", "if [ -d /var/lib/hvnet/helper ]; then ls -A /var/lib/hvnet/helper; else echo ABSENT; fi"]).trim();
  return out === "ABSENT" ? null : lines(out);
}

/** SSH logins the host's sshd accepted so far (its log is in the lab dir). */
export function sshLogins(lab: Lab, host: string): number {
  const log = path.join(lab.dir, "hosts", host, "sshd.log");
  if (!existsSync(log)) return 0;
  return readFileSync(log, "utf8").split("\n").filter((l) => l.includes("Accepted publickey")).length;
}

export interface LinkInfo {
  ifindex: number;
  ifname: string;
  xdp?: { prog?: { id: number; name: string; tag: string } };
}

export function links(lab: Lab, host: string): LinkInfo[] {
  return JSON.parse(lab.hostExec(host, "ip", ["-j", "link", "show"])) as LinkInfo[];
}

export function link(lab: Lab, host: string, name: string): LinkInfo | undefined {
  return links(lab, host).find((l) => l.ifname === name);
}

/** A pinned bpf_link as bpftool reports it. */
export function pinnedLink(lab: Lab, host: string, pin: string): { id: number; prog_id: number } {
  return JSON.parse(lab.hostExec(host, "bpftool", ["-j", "link", "show", "pinned", pin])) as { id: number; prog_id: number };
}

export interface FdbWitness {
  vlan: number;
  mac: string;
  ifindex: number;
  /** The raw key bytes, for deleting the entry with bpftool. */
  keyHex: string[];
}

/** The entries of an l2fwd FDB map (bpftool decodes them with the map's BTF). */
export function fdbEntries(lab: Lab, host: string, pin: string): FdbWitness[] {
  const dump = JSON.parse(lab.hostExec(host, "bpftool", ["-j", "map", "dump", "pinned", pin])) as Array<{
    key: string[];
    formatted: { key: { vlan: number; mac: number[] }; value: { ifindex: number } };
  }>;
  return dump
    .map((e) => ({
      vlan: e.formatted.key.vlan,
      mac: e.formatted.key.mac.map((b) => b.toString(16).padStart(2, "0")).join(":"),
      ifindex: e.formatted.value.ifindex,
      keyHex: e.key.map((b) => b.replace(/^0x/, "")),
    }))
    .sort((a, b) => a.mac.localeCompare(b.mac));
}

/**
 * mtimes (seconds, ns precision) of everything hvnet made on the host, and of the helper
 * directory itself (changed when the bundle was deployed there; the bundle's own files
 * keep the times they were packed with).
 */
export function hvnetTimes(lab: Lab, host: string): number[] {
  const made = lab.hostExec(host, "find", ["/run/hvnet", "/sys/fs/bpf/hvnet", "-printf", "%T@\\n"]);
  const deployed = lab.hostExec(host, "find", ["/var/lib/hvnet/helper", "-maxdepth", "0", "-printf", "%T@\\n"]);
  return lines(`${made}\n${deployed}`).map(Number).filter((n) => Number.isFinite(n));
}
