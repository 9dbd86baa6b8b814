// `hvnet metrics`: the stats counters in the Prometheus text format (prom-client), to
// stdout for node_exporter's textfile collector, or served at /metrics on --listen.
import * as http from "node:http";
import { Counter, Gauge, Registry } from "prom-client";
import { COUNTERS, type CounterName } from "../../provider/common/counters";
import { summarize } from "../counters";
import { readStats, type Reading } from "./stats";
import type { Connector } from "../connect";
import type { Target } from "../hosts";

/** outcome/reason labels of a counter: "drop_spoof_ip" → drop / spoof_ip. */
function outcomeOf(name: CounterName): { outcome: string; reason: string } {
  if (name === "redirect") return { outcome: "redirect", reason: "fast_path" };
  if (name === "acl_accept") return { outcome: "accept", reason: "acl" };
  const [outcome, ...rest] = name.split("_");
  return { outcome, reason: rest.join("_") };
}

const LABELS = ["host", "device", "program", "vm", "outcome", "reason"] as const;

/** A fresh registry per reading: the values are the kernel's totals, not increments of ours. */
export function registryOf(r: Reading, targets: Target[]): Registry {
  const registry = new Registry();
  const frames = new Counter({ name: "hvnet_xdp_frames_total", help: "Frames seen by an hvnet XDP program, by outcome and reason", labelNames: LABELS, registers: [registry] });
  const bytes = new Counter({ name: "hvnet_xdp_bytes_total", help: "Bytes of the frames seen by an hvnet XDP program, by outcome and reason", labelNames: LABELS, registers: [registry] });
  const share = new Gauge({ name: "hvnet_fast_path_share", help: "Share of unicast frames l2fwd redirected in XDP (fast path), since attach", labelNames: ["host", "device"], registers: [registry] });
  const up = new Gauge({ name: "hvnet_host_up", help: "1 when the host's helper answered, 0 when it could not be reached", labelNames: ["host"], registers: [registry] });
  for (const a of r.attachments) {
    const base = { host: a.host, device: a.device, program: a.program ?? a.kind, vm: a.kind === "vm" ? a.device : "" };
    for (const name of COUNTERS) {
      const labels = { ...base, ...outcomeOf(name) };
      frames.inc(labels, Number(a.counts[name].packets));
      bytes.inc(labels, Number(a.counts[name].bytes));
    }
    const s = summarize(a).fastPathShare;
    if (s !== undefined) share.set({ host: a.host, device: a.device }, s);
  }
  for (const t of targets) up.set({ host: t.name }, r.hosts.includes(t.name) ? 1 : 0);
  return registry;
}

export async function metricsOnce(conn: Connector, targets: Target[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const r = await readStats(conn, targets);
  out.write(await registryOf(r, targets).metrics());
  for (const e of r.errors) err.write(`hvnet: ${e}\n`);
  return r.errors.length ? 1 : 0;
}

/** host:port, [v6]:port or :port (every address); port 0 picks a free one (printed at start). */
export function parseListen(addr: string): { host?: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(addr);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? m[2];
  return { host: host === "" ? undefined : host, port };
}

/** Serves /metrics, reading every host on each scrape; resolves once listening. */
export function serveMetrics(conn: Connector, targets: Target[], listen: { host?: string; port: number }, err: NodeJS.WritableStream): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("hvnet serves /metrics only\n");
      return;
    }
    readStats(conn, targets).then(
      async (r) => {
        for (const e of r.errors) err.write(`hvnet: ${e}\n`);
        const registry = registryOf(r, targets);
        res.writeHead(200, { "content-type": registry.contentType }).end(await registry.metrics());
      },
      (e) => res.writeHead(500, { "content-type": "text/plain" }).end(`${(e as Error).message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
