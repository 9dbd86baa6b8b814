// Silent drop: the network path between the provider and a host dies without a FIN (the
// provider's machine loses its link, a NAT entry expires). The helper's stdin never
// closes, so only silence can tell it its provider is gone: it exits after the idle time
// the provider set in hello (4 keepalive intervals) and ends its SSH session, which the
// host's sshd (ClientAliveInterval 0, the default, as in the lab) would keep for hours.
// Witnessed in the kernel's process table.
import * as fs from "node:fs";
import * as path from "node:path";
import { requireRoot } from "../support/require-root";
import { labUp, type Lab, type LabHost } from "../support/lab";
import { HostPool } from "../../provider/transport/pool";
import type { HostSpec } from "../../provider/transport/host-spec";
import { startBlackholeProxy, type BlackholeProxy } from "./support/blackhole-proxy";
import { processRunning } from "../support/processes";

const HELPER_DIR = path.resolve(__dirname, "..", "..", "dist", "helper");
const KEEPALIVE_S = 0.5; // the helper exits after 4 × 0.5 s of silence

let lab: Lab;
let host: LabHost;
let proxy: BlackholeProxy | undefined;
let pool: HostPool | undefined;
const savedKeepalive = process.env.HVNET_KEEPALIVE_INTERVAL;

const hostDir = () => path.join(lab.dir, "hosts", host.name);

// The lab host shares this machine's pid namespace: the kernel's process table in /proc
// is the witness (what ps inside the host would print).
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === ppid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
  } catch {
    return "";
  }
}

async function waitFor(what: string, ms: number, ok: () => boolean): Promise<number> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: still not so after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - t0;
}

beforeAll(async () => {
  requireRoot();
  if (!fs.existsSync(path.join(HELPER_DIR, "helper.js"))) throw new Error("dist/helper is missing: run make build");
  lab = await labUp({ hosts: 1 });
  host = lab.inventory.hosts[0];
}, 120_000);

afterAll(async () => {
  if (savedKeepalive === undefined) delete process.env.HVNET_KEEPALIVE_INTERVAL;
  else process.env.HVNET_KEEPALIVE_INTERVAL = savedKeepalive;
  await pool?.close();
  await proxy?.close();
  lab?.down();
}, 60_000);

test("after a silent drop the helper exits within its idle time and no sshd session stays on the host", async () => {
  proxy = await startBlackholeProxy({ address: host.address, port: host.port });
  process.env.HVNET_KEEPALIVE_INTERVAL = String(KEEPALIVE_S);
  // The provider's own SSH keepalive gives up on the dead path too (its side of the cleanup).
  pool = new HostPool({ helperDir: HELPER_DIR, dial: { keepaliveIntervalMs: 500, keepaliveCountMax: 2 } });
  const spec: HostSpec = {
    name: host.name, address: "127.0.0.1", port: proxy.port, user: host.user, hostKey: host.hostKey, privateKey: fs.readFileSync(host.privateKeyPath, "utf8"),
  };
  await pool.request(spec, "probe", {});
  const helperPid = pool.stats(spec)!.helperPid!;
  const sshd = Number(fs.readFileSync(path.join(hostDir(), "sshd.pid"), "utf8"));
  const sessions = childrenOf(sshd);
  expect(sessions.length).toBeGreaterThanOrEqual(1);
  expect(sessions.map(cmdline).join("\n")).toMatch(/sshd: root/);
  expect(cmdline(helperPid)).toMatch(/node .*\/helper\.js$/);
  expect(processRunning(helperPid)).toBe(true);

  // Quiet but connected for longer than the idle limit: the pings keep the helper.
  await new Promise((r) => setTimeout(r, 1.5 * 4 * KEEPALIVE_S * 1000));
  expect(processRunning(helperPid)).toBe(true);

  proxy.blackhole();
  const helperGoneMs = await waitFor(`helper pid ${helperPid} on ${host.name}`, 15_000, () => !processRunning(helperPid));
  console.log(`silent drop: helper exited ${helperGoneMs} ms after the drop; idle limit ${4 * KEEPALIVE_S * 1000} ms`);
  // Idle limit, plus the watchdog's check period and one keepalive of slack.
  expect(helperGoneMs).toBeLessThan(4 * KEEPALIVE_S * 1000 + 2000);
  // Right after the helper, the session it ran in (and sshd's monitor process for it).
  const sessionsGoneMs = await waitFor(`sshd sessions ${sessions.join(",")} on ${host.name}`, 3000, () => childrenOf(sshd).length === 0);
  console.log(`silent drop: sshd session gone ${helperGoneMs + sessionsGoneMs} ms after the drop`);
  expect(processRunning(sshd)).toBe(true); // the host's sshd itself serves on
}, 90_000);
