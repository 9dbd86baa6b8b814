// Faults: one bad FDB entry among many fails only itself, on both ways requests are
// coalesced: one `batch` message, and single requests pipelined in one write (which the
// helper runs as one group). The built helper runs against the real kernel in a scratch
// namespace with its own bpffs; bpftool, in the helper's namespaces, witnesses the map.
import { spawn, ChildProcessWithoutNullStreams, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { requireCommand, requireRoot } from "../support/require-root";
import { createScratchNetns, ScratchNetns } from "../support/scratch-netns";
import { HELPER_JS } from "../support/helper-host";

const TABLE = "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb";
const A = "proj/stack-a/FdbEntry/web";
const B = "proj/stack-b/FdbEntry/db";

interface Reply {
  id: number;
  ok: boolean;
  result?: any;
  error?: { code: string; message: string };
}

/**
 * The helper as a host runs it, with a client that can write many requests at once: the
 * pipelined path needs them to arrive together, which one write per request cannot promise.
 */
class RawHelper {
  private buffered = "";
  private nextId = 1;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private readonly exited: Promise<void>;

  constructor(readonly ns: ScratchNetns, readonly stateDir: string, private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf("\n")) >= 0) {
        const msg = JSON.parse(this.buffered.slice(0, nl)) as Reply;
        this.buffered = this.buffered.slice(nl + 1);
        this.waiting.get(msg.id)?.(msg);
        this.waiting.delete(msg.id);
      }
    });
    this.exited = new Promise((resolve) => child.on("exit", () => resolve()));
  }

  static start(): RawHelper {
    const ns = createScratchNetns("fdbb");
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "hvt-state-"));
    const child = spawn(
      "ip",
      ["netns", "exec", ns.name, "unshare", "--mount", "--propagation", "private", "sh", "-c",
        'mount -t bpf bpf /sys/fs/bpf && exec node "$0"', HELPER_JS],
      { env: { ...process.env, HVNET_STATE_DIR: stateDir } },
    );
    return new RawHelper(ns, stateDir, child);
  }

  /** Writes every request in one write; resolves with the replies in request order. */
  send(reqs: Array<{ op: string; args?: unknown }>): Promise<Reply[]> {
    const withIds = reqs.map((r) => ({ id: this.nextId++, ...r }));
    const replies = withIds.map((r) => new Promise<Reply>((resolve) => this.waiting.set(r.id, resolve)));
    this.child.stdin.write(withIds.map((r) => JSON.stringify(r) + "\n").join(""));
    return Promise.all(replies);
  }

  async request(op: string, args?: unknown): Promise<any> {
    const [r] = await this.send([{ op, args }]);
    if (!r.ok) throw new Error(`${op}: ${r.error!.message}`);
    return r.result;
  }

  /** A command in the helper's mount namespace (its bpffs) and netns. */
  exec(cmd: string, args: string[]): string {
    return execFileSync("nsenter", ["-t", String(this.child.pid), "-m", "-n", cmd, ...args], { encoding: "utf8" });
  }

  async stop(): Promise<void> {
    this.child.stdin.end();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
    this.ns.remove();
    fs.rmSync(this.stateDir, { recursive: true, force: true });
  }
}

let h: RawHelper;
let vm0: number;
let vm1: number;

/** <vlan, mac> -> ifindex of every entry in the map, read by bpftool. */
function fdbMap(): Map<string, number> {
  const dump = JSON.parse(h.exec("bpftool", ["-j", "map", "dump", "pinned", TABLE])) as Array<{
    formatted: { key: { vlan: number; mac: number[] }; value: { ifindex: number } };
  }>;
  return new Map(dump.map((e) => [
    `${e.formatted.key.vlan} ${e.formatted.key.mac.map((b) => b.toString(16).padStart(2, "0")).join(":")}`,
    e.formatted.value.ifindex,
  ]));
}

const mac = (i: number) => `02:00:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`;

beforeAll(async () => {
  requireRoot();
  requireCommand("bpftool");
  if (!fs.existsSync(HELPER_JS)) throw new Error(`${HELPER_JS} is missing: run 'make build' first`);
  h = RawHelper.start();
  expect((await h.request("hello")).pid).toBeGreaterThan(0);
  h.ns.ip("link", "add", "uplink0", "type", "veth", "peer", "name", "wire0");
  h.ns.ip("link", "add", "vm0", "type", "veth", "peer", "name", "vm0p");
  h.ns.ip("link", "add", "vm1", "type", "veth", "peer", "name", "vm1p");
  for (const d of ["uplink0", "wire0", "vm0", "vm0p", "vm1", "vm1p"]) h.ns.ip("link", "set", d, "up");
  vm0 = h.ns.ipJson("link", "show", "dev", "vm0")[0].ifindex;
  vm1 = h.ns.ipJson("link", "show", "dev", "vm1")[0].ifindex;
  await h.request("xdp.apply", { device: "uplink0", program: "l2fwd" });
}, 30000);

afterAll(async () => {
  await h?.stop();
});

/**
 * On each path: an entry stack A owns (stack B asks for it without adopt), an invalid one,
 * and good ones around them. `vlan` keeps each case's entries apart.
 */
const paths: Array<[string, (reqs: Array<{ op: string; args: unknown }>) => Promise<Array<{ ok: boolean; result?: any; error?: any }>>]> = [
  ["one batch message", async (reqs) => (await h.request("batch", { requests: reqs })).results],
  ["pipelined requests", (reqs) => h.send(reqs)],
];

describe.each(paths)("%s", (_name, run) => {
  test("an entry owned by another stack and an invalid entry fail alone, each with its own message", async () => {
    const vlan = _name === "one batch message" ? 10 : 20;
    await h.request("fdb.apply", { table: TABLE, vlan, mac: mac(0), device: "vm0", ownership: { owner: A, op: "op-a-00000001" } });
    const good = [1, 2, 3, 4, 5, 6];
    const reqs = [
      { op: "fdb.apply", args: { table: TABLE, vlan, mac: mac(1), device: "vm1", ownership: { owner: B } } },
      { op: "fdb.apply", args: { table: TABLE, vlan, mac: mac(2), device: "vm1", ownership: { owner: B } } },
      { op: "fdb.apply", args: { table: TABLE, vlan, mac: mac(0), device: "vm1", ownership: { owner: B } } }, // A's
      { op: "fdb.apply", args: { table: TABLE, vlan, mac: mac(3), device: "vm1", ownership: { owner: B } } },
      { op: "fdb.apply", args: { table: TABLE, vlan: 4095, mac: mac(9), device: "vm1", ownership: { owner: B } } }, // invalid
      { op: "fdb.apply", args: { table: TABLE, vlan, mac: mac(4), device: "vm1", ownership: { owner: B } } },
      { op: "fdb.apply", args: { table: TABLE, vlan, mac: mac(5), device: "vm1", ownership: { owner: B } } },
      { op: "fdb.apply", args: { table: TABLE, vlan, mac: mac(6), device: "vm1", ownership: { owner: B } } },
    ];
    const out = await run(reqs);
    expect(out.map((o) => o.ok)).toEqual([true, true, false, true, false, true, true, true]);
    expect(out[2].error.code).toBe("EEXIST");
    expect(out[2].error.message).toBe(`FDB entry vlan ${vlan} ${mac(0)} in ${TABLE} is owned by ${A}; set adopt: true to take it over`);
    expect(out[4].error.message).toMatch(/vlan/);
    expect(out[4].error.message).not.toMatch(/owned by/);
    for (const o of out.filter((x) => x.ok)) expect(o.result).toEqual({ ifindex: vm1 });

    const map = fdbMap();
    for (const i of good) expect(map.get(`${vlan} ${mac(i)}`)).toBe(vm1);
    expect(map.get(`${vlan} ${mac(0)}`)).toBe(vm0); // A's entry untouched
    expect(map.has(`4095 ${mac(9)}`)).toBe(false);
  });

  test("without owners: an entry that exists with another target and one for a missing device fail alone", async () => {
    const vlan = _name === "one batch message" ? 30 : 40;
    await h.request("fdb.apply", { table: TABLE, vlan, mac: mac(0), device: "vm0" });
    const out = await run([
      { op: "fdb.apply", args: { table: TABLE, vlan, mac: mac(1), device: "vm1" } },
      { op: "fdb.apply", args: { table: TABLE, vlan, mac: mac(0), device: "vm1" } }, // exists, to vm0
      { op: "fdb.apply", args: { table: TABLE, vlan, mac: mac(2), device: "nosuch0" } },
      { op: "fdb.apply", args: { table: TABLE, vlan, mac: mac(3), device: "vm1" } },
    ]);
    expect(out.map((o) => o.ok)).toEqual([true, false, false, true]);
    expect(out[1].error).toMatchObject({ code: "EEXIST", message: expect.stringContaining(`vlan ${vlan} ${mac(0)}`) });
    expect(out[1].error.message).toContain(`to ifindex ${vm0}`);
    expect(out[2].error).toEqual({ code: "ENODEV", message: "device nosuch0 does not exist" });
    const map = fdbMap();
    expect(map.get(`${vlan} ${mac(1)}`)).toBe(vm1);
    expect(map.get(`${vlan} ${mac(3)}`)).toBe(vm1);
    expect(map.get(`${vlan} ${mac(0)}`)).toBe(vm0);
    expect(map.has(`${vlan} ${mac(2)}`)).toBe(false);
  });
});

test("the same entry twice in one batch: the second owner is refused as if they came one by one", async () => {
  const out = (await h.request("batch", { requests: [
    { op: "fdb.apply", args: { table: TABLE, vlan: 50, mac: mac(1), device: "vm0", ownership: { owner: A } } },
    { op: "fdb.apply", args: { table: TABLE, vlan: 50, mac: mac(1), device: "vm1", ownership: { owner: B } } },
    { op: "fdb.apply", args: { table: TABLE, vlan: 50, mac: mac(1), device: "vm0", ownership: { owner: A } } },
  ] })).results;
  expect(out.map((o: { ok: boolean }) => o.ok)).toEqual([true, false, true]);
  expect(out[1].error.message).toContain(`is owned by ${A}`);
  expect(fdbMap().get(`50 ${mac(1)}`)).toBe(vm0);
});
