// Read-ahead against a recording requester (a double of the host, with a clock of the
// test's own): which shows are answered from one fdb.dump, and when a dump is no longer used.
// The real helper's fdb.dump is tested against the kernel in test/kernel/fdbtable.test.ts,
// and a refresh through it over SSH in test/ssh/read-ahead.test.ts.
import { KINDS } from "../../provider/kinds";
import { ReadAheadRequester } from "../../provider/runtime/read-ahead";

const HV1 = { name: "hv1", address: "198.18.0.11", hostKey: "SHA256:x" };
const HV2 = { name: "hv2", address: "198.18.0.12", hostKey: "SHA256:y" };
const TABLE = "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb";
const WINDOW = 1000;

const entry = (i: number) => ({ table: TABLE, vlan: 100, mac: `02:00:00:00:00:0${i}`, ifindex: 3, device: "vm0" });
const show = (i: number, mac = entry(i).mac) => ({ table: TABLE, vlan: 100, mac });

interface Sent {
  host: string;
  op: string;
  args: any;
  /** Settles the request now (the double answers when the test says). */
  answer(value?: unknown): void;
  fail(err: Error): void;
}

function setup(windowMs = WINDOW) {
  const sent: Sent[] = [];
  let table = [entry(1), entry(2), entry(3)];
  let clock = 0;
  const inner = {
    request(host: { name?: string }, op: string, args: any): Promise<any> {
      return new Promise((resolve, reject) => {
        const auto = (): unknown => {
          if (op === "fdb.dump") return { entries: table };
          if (op === "fdb.show") return table.find((e) => e.vlan === args.vlan && e.mac === args.mac) ?? null;
          return {};
        };
        sent.push({ host: host.name ?? "", op, args, answer: (v = auto()) => resolve(v), fail: reject });
      });
    },
  };
  const ra = new ReadAheadRequester(inner, new Map([["fdb.show", KINDS.FdbEntry.readAhead!]]), windowMs, () => clock);
  return {
    ra,
    sent,
    ops: () => sent.map((s) => s.op),
    /** Answers everything sent and not yet answered, then lets the awaiting shows run. */
    async flush() {
      for (const s of sent) s.answer();
      await new Promise((r) => setImmediate(r));
    },
    /** Two shows of the table, answered: a dump of it is fresh now. */
    async takeDump() {
      this.ra.request(HV1, "fdb.show", show(1));
      this.ra.request(HV1, "fdb.show", show(2));
      await this.flush();
    },
    tick: (ms: number) => (clock += ms),
    setTable: (t: ReturnType<typeof entry>[]) => (table = t),
  };
}

describe("against a recording double of the host (test double, not a host)", () => {
  test("a lone show of a table goes to the host as a show: one entry never costs a dump", async () => {
    const t = setup();
    const a = t.ra.request(HV1, "fdb.show", show(1));
    await t.flush();
    expect(await a).toEqual(entry(1));
    expect(t.ops()).toEqual(["fdb.show"]);
  });

  test("the second show of a table within the window takes one dump, and the shows after it are answered from it", async () => {
    const t = setup();
    const first = t.ra.request(HV1, "fdb.show", show(1));
    t.tick(5);
    const rest = [2, 3, 4].map((i) => t.ra.request(HV1, "fdb.show", show(i)));
    // A mac spelled otherwise is the same entry: the dump's keys are normalized as show's are.
    const upper = t.ra.request(HV1, "fdb.show", show(2, "02:00:00:00:00:02".toUpperCase()));
    await t.flush();
    expect(await first).toEqual(entry(1));
    expect(await Promise.all(rest)).toEqual([entry(2), entry(3), null]);
    expect(await upper).toEqual(entry(2));
    expect(t.ops()).toEqual(["fdb.show", "fdb.dump"]);
    expect(t.sent[1].args).toEqual({ table: TABLE });
    // Later shows within the window send nothing.
    t.tick(500);
    expect(await t.ra.request(HV1, "fdb.show", show(3))).toEqual(entry(3));
    expect(t.ops()).toEqual(["fdb.show", "fdb.dump"]);
  });

  test("a dump older than the window answers no more: the next show takes a new one and sees what changed", async () => {
    const t = setup();
    await t.takeDump();
    t.setTable([entry(1), { ...entry(2), device: "vm9", ifindex: 9 }]);
    t.tick(WINDOW);
    expect(await t.ra.request(HV1, "fdb.show", show(2))).toEqual(entry(2)); // within the window: the dump's moment
    t.tick(1);
    const after = t.ra.request(HV1, "fdb.show", show(2));
    await t.flush();
    expect(await after).toMatchObject({ device: "vm9" });
    expect(t.ops()).toEqual(["fdb.show", "fdb.dump", "fdb.dump"]);
  });

  test("a table whose dump answered few of its entries (ours among many of others) is not dumped again", async () => {
    const t = setup();
    const others = Array.from({ length: 100 }, (_, i) => ({ ...entry(1), mac: `02:00:00:00:01:${i.toString(16).padStart(2, "0")}` }));
    t.setTable([entry(1), entry(2), ...others]);
    await t.takeDump(); // 102 entries, 1 show answered from it
    t.tick(WINDOW + 1);
    const shows = [1, 2].map((i) => t.ra.request(HV1, "fdb.show", show(i)));
    t.tick(WINDOW + 1);
    shows.push(t.ra.request(HV1, "fdb.show", show(1)), t.ra.request(HV1, "fdb.show", show(2)));
    await t.flush();
    expect(await Promise.all(shows)).toEqual([entry(1), entry(2), entry(1), entry(2)]);
    expect(t.ops()).toEqual(["fdb.show", "fdb.dump", "fdb.show", "fdb.show", "fdb.show", "fdb.show"]);
  });

  test("a write to the host drops its dumps, and shows sent while a write is in flight go to the host alone", async () => {
    const t = setup();
    await t.takeDump();
    const write = t.ra.request(HV1, "fdb.apply", { ...show(2), device: "vm9" });
    t.setTable([entry(1), { ...entry(2), device: "vm9", ifindex: 9 }]);
    const during = t.ra.request(HV1, "fdb.show", show(2));
    expect(t.ops()).toEqual(["fdb.show", "fdb.dump", "fdb.apply", "fdb.show"]);
    await t.flush();
    await write;
    expect(await during).toMatchObject({ device: "vm9" });
    // After the write: a new dump, not the one from before it.
    const after = [1, 2].map((i) => t.ra.request(HV1, "fdb.show", show(i)));
    await t.flush();
    expect((await Promise.all(after))[1]).toMatchObject({ device: "vm9" });
    expect(t.ops().slice(4)).toEqual(["fdb.dump"]);
  });

  test("a failed write drops the dumps too: what it did is unknown", async () => {
    const t = setup();
    await t.takeDump();
    const write = t.ra.request(HV1, "fdb.remove", show(2));
    t.sent[2].fail(new Error("helper died"));
    await expect(write).rejects.toThrow("helper died");
    const next = t.ra.request(HV1, "fdb.show", show(1));
    expect(t.ops()).toEqual(["fdb.show", "fdb.dump", "fdb.remove", "fdb.dump"]);
    await t.flush();
    expect(await next).toEqual(entry(1));
  });

  test("shows waiting on a dump sent before a write began get its answer; shows sent after go to the host", async () => {
    const t = setup();
    t.ra.request(HV1, "fdb.show", show(1));
    const waiting = t.ra.request(HV1, "fdb.show", show(2)); // takes the dump
    const write = t.ra.request(HV1, "fdb.apply", { ...show(2), device: "vm9" });
    const later = t.ra.request(HV1, "fdb.show", show(3));
    expect(t.ops()).toEqual(["fdb.show", "fdb.dump", "fdb.apply", "fdb.show"]);
    await t.flush();
    const [w, , l] = await Promise.all([waiting, write, later]);
    expect(w).toEqual(entry(2));
    expect(l).toEqual(entry(3));
  });

  test("a write to one host keeps another host's dumps", async () => {
    const t = setup();
    await t.takeDump();
    await Promise.all([t.ra.request(HV2, "fdb.apply", show(1)), t.flush()]);
    expect(await t.ra.request(HV1, "fdb.show", show(3))).toEqual(entry(3));
    expect(t.ops()).toEqual(["fdb.show", "fdb.dump", "fdb.apply"]);
  });

  test("read-only ops (a stats or probe call) keep the dumps", async () => {
    const t = setup();
    await t.takeDump();
    await Promise.all([t.ra.request(HV1, "stats", {}), t.ra.request(HV1, "xdp.show", { device: "uplink0" }), t.flush()]);
    expect(await t.ra.request(HV1, "fdb.show", show(3))).toEqual(entry(3));
    expect(t.ops()).toEqual(["fdb.show", "fdb.dump", "stats", "xdp.show"]);
  });

  test("a table that is gone answers null for every show; a failed dump sends each waiting show alone", async () => {
    const gone = setup();
    gone.ra.request(HV1, "fdb.show", show(1));
    const shows = [2, 3].map((i) => gone.ra.request(HV1, "fdb.show", show(i)));
    gone.sent[1].answer(null);
    expect(await Promise.all(shows)).toEqual([null, null]);

    const t = setup();
    t.ra.request(HV1, "fdb.show", show(1));
    const waiting = [2, 3].map((i) => t.ra.request(HV1, "fdb.show", show(i)));
    t.sent[1].fail(new Error("unknown op fdb.dump"));
    await new Promise((r) => setImmediate(r));
    expect(t.ops()).toEqual(["fdb.show", "fdb.dump", "fdb.show", "fdb.show"]);
    await t.flush();
    expect(await Promise.all(waiting)).toEqual([entry(2), entry(3)]);
  });

  test("an identity that is not valid goes to the host as it is, which names the field", async () => {
    const t = setup();
    const bad = { table: TABLE, vlan: 5000, mac: "nope" };
    t.ra.request(HV1, "fdb.show", show(1));
    t.ra.request(HV1, "fdb.show", bad);
    expect(t.sent[1]).toMatchObject({ op: "fdb.show", args: bad });
  });

  test("a window of 0 turns read-ahead off: every show goes to the host", async () => {
    const t = setup(0);
    for (const i of [1, 2, 3]) t.ra.request(HV1, "fdb.show", show(i));
    expect(t.ops()).toEqual(["fdb.show", "fdb.show", "fdb.show"]);
  });
});
