// `hvnet stats [--watch]`: the datapath counters of every host, per attachment.
import * as readline from "node:readline";
import { fromReply, rates, type Attachment, type HostStatsReply } from "../counters";
import { statsJson, statsTables } from "../stats-view";
import type { Connector } from "../connect";
import type { Target } from "../hosts";

export interface Reading {
  hosts: string[];
  attachments: Attachment[];
  errors: string[];
  at: number;
}

export async function readStats(conn: Connector, targets: Target[]): Promise<Reading> {
  const results = await conn.each(targets, (request) => request<HostStatsReply>("stats"));
  const attachments: Attachment[] = [];
  const hosts: string[] = [];
  const errors: string[] = [];
  for (const r of results) {
    if (r.ok) {
      hosts.push(r.host);
      attachments.push(...fromReply(r.host, r.value));
    } else {
      errors.push(r.error);
    }
  }
  return { hosts, attachments, errors, at: Date.now() };
}

export async function statsOnce(conn: Connector, targets: Target[], json: boolean, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const r = await readStats(conn, targets);
  if (json) out.write(`${JSON.stringify(statsJson(r.hosts, r.attachments, r.errors), null, 2)}\n`);
  else if (r.hosts.length) out.write(`${r.attachments.length ? statsTables(r.attachments, undefined, false) : `no hvnet XDP attachments on ${r.hosts.join(", ")}`}\n`);
  for (const e of r.errors) err.write(`hvnet: ${e}\n`);
  return r.errors.length ? 1 : 0;
}

/** Redraws rates in place every interval until stopped (Ctrl-C); the first screen shows totals. */
export async function statsWatch(conn: Connector, targets: Target[], intervalMs: number, out: NodeJS.WriteStream, stop: Promise<void>): Promise<number> {
  let prev: Reading | undefined;
  let stopped = false;
  void stop.then(() => (stopped = true));
  while (!stopped) {
    const r = await readStats(conn, targets);
    const when = new Date(r.at).toISOString().slice(11, 19);
    const lines: string[] = [];
    if (prev) {
      const secs = (r.at - prev.at) / 1000;
      lines.push(`hvnet stats  ${when} UTC  rates over the last ${secs.toFixed(1)} s (share: this interval)  Ctrl-C quits`);
      lines.push(statsTables(r.attachments, rates(prev.attachments, r.attachments, secs), true));
    } else {
      lines.push(`hvnet stats  ${when} UTC  totals since attach; rates from the next refresh  Ctrl-C quits`);
      lines.push(statsTables(r.attachments, undefined, false));
    }
    for (const e of r.errors) lines.push(`hvnet: ${e}`);
    // Redraw from the top-left of the screen: cursor moves through Node's readline, not hand-made escapes.
    readline.cursorTo(out, 0, 0);
    readline.clearScreenDown(out);
    out.write(`${lines.join("\n")}\n`);
    prev = r;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([stop, new Promise((res) => (timer = setTimeout(res, intervalMs)))]);
    clearTimeout(timer);
  }
  return 0;
}
