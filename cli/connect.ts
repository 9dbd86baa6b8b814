// The provider's transport, for the command: one SSH connection and one helper per host
// (pinned host keys, the same deployed bundle as `pulumi up` uses), hosts asked in
// parallel, and each host's failure kept to that host.
import { HostPool } from "../provider/transport/pool";
import { helperBundleDir } from "../provider/runtime/pool";
import type { Target } from "./hosts";
import { oneLine } from "./errors";

export type HostResult<T> = { host: string; ok: true; value: T } | { host: string; ok: false; error: string };

export interface Connector {
  each<T>(targets: Target[], fn: (request: <R = any>(op: string, args?: unknown) => Promise<R>, t: Target) => Promise<T>): Promise<HostResult<T>[]>;
  close(): Promise<void>;
}

export function connect(opts: { connectTimeoutMs: number }): Connector {
  // An operator waits at a terminal: one quick retry, not the provider's patient three.
  const pool = new HostPool({ helperDir: helperBundleDir(), dial: { readyTimeoutMs: opts.connectTimeoutMs, attempts: 2, backoffMs: 200 } });
  return {
    each: (targets, fn) =>
      Promise.all(
        targets.map((t) =>
          fn((op, args) => pool.request(t.spec, op, args ?? {}), t).then(
            (value) => ({ host: t.name, ok: true as const, value }),
            (err) => ({ host: t.name, ok: false as const, error: hostLine(t.name, err) }),
          ),
        ),
      ),
    close: () => pool.close(),
  };
}

/** Transport errors already start with the host's name; others get it. */
function hostLine(host: string, err: unknown): string {
  const line = oneLine(err);
  return line.startsWith(`${host}: `) ? line : `${host}: ${line}`;
}
