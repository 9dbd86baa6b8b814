// Fleet rollouts: a canary host first, then the rest in batches; each batch depends on
// every resource of the one before, so a failure stops the rollout where it happened
// (Pulumi does not create resources whose dependencies failed).
import * as pulumi from "@pulumi/pulumi";

export interface RolloutOptions {
  /** Hosts (by position in the list) that go first, alone. Default: the first host. Use [] for none. */
  canary?: number[];
  /** Hosts per batch after the canary (default 5). */
  batchSize?: number;
}

export interface RolloutHost<H> {
  host: H;
  /** 0 for the canary batch, then 1, 2, ... */
  batch: number;
  /** Pass as `dependsOn` to every resource made for this host. */
  dependsOn: pulumi.Resource[];
}

/** Splits hosts into ordered batches: the canary batch (if any) first. */
export function planBatches<H>(hosts: H[], opts: RolloutOptions = {}): H[][] {
  const batchSize = opts.batchSize ?? 5;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`rollout batchSize must be a whole number ≥ 1, got ${batchSize}`);
  const canary = opts.canary ?? (hosts.length > 1 ? [0] : []);
  for (const i of canary) {
    if (!Number.isInteger(i) || i < 0 || i >= hosts.length) throw new Error(`rollout canary index ${i} is not a host position (0-${hosts.length - 1})`);
  }
  const batches: H[][] = [];
  if (canary.length) batches.push(canary.map((i) => hosts[i]));
  const rest = hosts.filter((_, i) => !canary.includes(i));
  for (let i = 0; i < rest.length; i += batchSize) batches.push(rest.slice(i, i + batchSize));
  return batches;
}

/**
 * Calls `perHost` for each host in rollout order; the resources it returns for one batch
 * gate the next batch. Returns every host's resources.
 */
export function rollout<H>(hosts: H[], perHost: (h: RolloutHost<H>) => pulumi.Resource[], opts: RolloutOptions = {}): pulumi.Resource[][] {
  const out: pulumi.Resource[][] = [];
  let gate: pulumi.Resource[] = [];
  planBatches(hosts, opts).forEach((batch, b) => {
    const made = batch.map((host) => perHost({ host, batch: b, dependsOn: gate }));
    out.push(...made);
    gate = made.flat();
  });
  return out;
}
