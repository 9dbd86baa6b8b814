// Capability checks that run in the Pulumi program itself, before any resource is
// declared: a program for hardware this host lacks fails `preview` and `up` at once,
// naming the host and what it lacks, with nothing changed and nothing in the state.
// It asks the host's helper ("probe") over the same pooled connection the provider uses.
import * as pulumi from "@pulumi/pulumi";
import { runtime } from "./shim";
import type { HostSpec } from "../provider/transport/host-spec";

export type Capability = "netkit-lease" | "rss-contexts" | "ntuple";

/** One NIC as the helper's probe reports it. */
export interface ProbedDevice {
  name: string;
  ifindex: number;
  driver?: string;
  channels?: { combined: number; rx: number; maxCombined: number };
  rss: boolean;
  rssContexts: boolean;
  ntuple: boolean;
  xdpFeatures?: unknown;
}

/** What a host can do (the helper's `probe` op). */
export interface HostProbe {
  kernel: string;
  netkit: "loaded" | "module" | "absent";
  queueLease: boolean;
  bpffs: boolean;
  devices: ProbedDevice[];
}

/**
 * A host lacks something a program needs; `missing` holds one line per capability.
 * A RunError, so Pulumi prints just the message: a stack trace would say nothing useful.
 */
export class CapabilityError extends pulumi.RunError {
  constructor(readonly host: string, readonly kernel: string, readonly missing: string[]) {
    super(`${host} (kernel ${kernel}) lacks what this program needs: ${missing.join("; ")}`);
    this.name = "CapabilityError";
    // Pulumi never shows a RunError's stack but still formats it with util.inspect. Its
    // frames include Pulumi's source-mapped "node_modules/@pulumi/resource.ts", a path on
    // which Node 20's colored inspect loops until the string overflows (15 s of CPU).
    this.stack = `${this.name}: ${this.message}`;
  }
}

function hostName(host: HostSpec): string {
  return host.name ?? host.address;
}

/** Asks the host's helper what the host can do. Changes nothing on the host but the helper's own deployment. */
export async function probeHost(host: HostSpec): Promise<HostProbe> {
  return (await runtime().probe(host)) as HostProbe;
}

/** The missing capabilities, one message each; empty when the host has them all. */
export function missingCapabilities(probe: HostProbe, needs: Capability[], device?: string): string[] {
  const missing: string[] = [];
  const candidates = device === undefined ? probe.devices : probe.devices.filter((d) => d.name === device);
  if (device !== undefined && candidates.length === 0) {
    const known = probe.devices.map((d) => d.name).join(", ") || "none";
    missing.push(`device ${device}: no such NIC (the host has: ${known})`);
  }
  const describe = (d: ProbedDevice) => `${d.name} (driver ${d.driver ?? "unknown"})`;
  for (const need of new Set(needs)) {
    switch (need) {
      case "netkit-lease":
        if (probe.netkit === "absent") missing.push("netkit-lease: the kernel has no netkit driver");
        else if (!probe.queueLease) missing.push(`netkit-lease: no netkit queue lease (the netdev netlink "queue-create" op, Linux 7.1 or later)`);
        break;
      case "rss-contexts":
        if (candidates.length && !candidates.some((d) => d.rssContexts)) {
          missing.push(`rss-contexts: ${candidates.map(describe).join(", ")} has no additional RSS contexts`);
        }
        break;
      case "ntuple":
        if (candidates.length && !candidates.some((d) => d.ntuple)) {
          missing.push(`ntuple: ${candidates.map(describe).join(", ")} cannot steer flows (no ntuple rule table)`);
        }
        break;
      default:
        missing.push(`${String(need)}: not a capability hvnet knows (netkit-lease, rss-contexts, ntuple)`);
    }
  }
  return missing;
}

/**
 * Throws a CapabilityError naming the host, its kernel and each missing capability
 * (`device` narrows the NIC checks to one NIC). Resolves with the probe otherwise.
 * Call closeConnections() once the program needs no more probes.
 */
export async function requireCapabilities(host: HostSpec, needs: Capability[], device?: string): Promise<HostProbe> {
  const probe = await probeHost(host);
  const missing = missingCapabilities(probe, needs, device);
  if (missing.length) throw new CapabilityError(hostName(host), probe.kernel, missing);
  return probe;
}

/**
 * Closes the program process's connections and helpers. The provider's pool closes when
 * its process has nothing left to do; a program that probed holds open sockets, so its
 * process would never reach that point and Pulumi would wait for it forever.
 */
export function closeConnections(): Promise<void> {
  return runtime().closeConnections();
}
