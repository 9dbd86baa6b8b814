// The RssContext resource logic (provider/helper/resources/rss.ts) against a test double
// of the SIOCETHTOOL boundary (test/support/fake-ethtool.ts): this machine has no NIC
// with additional RSS contexts or ntuple filters, so every test here says
// "(test double, not the kernel)". The registry lives in a temporary HVNET_STATE_DIR.
import * as fs from "node:fs";
import * as path from "node:path";
import { FakeEthtoolNic, FakeNicOptions } from "../support/fake-ethtool";
import { InputReader } from "../../provider/common/validate/reader";
import { readRssArgs } from "../../provider/common/args/rss";
import { EthtoolDevice } from "../../provider/helper/kernel/ethtool/ioctl";
import * as kernelRss from "../../provider/helper/kernel/ethtool/rss";
import * as ntuple from "../../provider/helper/kernel/ethtool/ntuple";
import { RssContextBusyError } from "../../provider/helper/kernel/ethtool/errors";
import { ETHTOOL_SRSSH, ETHTOOL_SRXCLSRLDEL, ETHTOOL_SRXCLSRLINS } from "../../provider/helper/kernel/ethtool/structs";
import { thrown } from "../support/thrown";
import { privateStateDir } from "../support/private-state";

// The resource module is loaded once this file's state directory is in place. No
// jest.resetModules: the double and the resource must share one EthtoolError class.
const state = privateStateDir("rss", { clearRegistryAfterEach: true });
let R: typeof import("../../provider/helper/resources/rss");
beforeAll(() => {
  R = require("../../provider/helper/resources/rss");
});

const INDIR = 128;
const QUEUES = 16;
// Ids the double's driver hands out: deliberately not 1, 2, ... so a guessed id shows.
const DRIVER_IDS = [7, 3, 12];

function nicWith(o: FakeNicOptions = {}): FakeEthtoolNic {
  return new FakeEthtoolNic({
    driver: "mlx5_core",
    combined: QUEUES,
    maxCombined: 32,
    indirSize: INDIR,
    contexts: true,
    ntuple: "special",
    contextIds: DRIVER_IDS,
    ...o,
  });
}

const args = (raw: Record<string, unknown>) => readRssArgs(InputReader.of({ device: "eth0", ...raw }));
const equalSpread = (queues: number[]) => Array.from({ length: INDIR }, (_, i) => queues[i % queues.length]);
const range = (start: number, count: number) => Array.from({ length: count }, (_, i) => start + i);
const recordFile = (device = "eth0") => path.join(state.dir, "registry", "rss", `${device}.json`);
const readRecordFile = () => JSON.parse(fs.readFileSync(recordFile(), "utf8"));

const FLOW_A = { type: "tcp4", dst: "10.0.0.5", dstPort: 443 };
const FLOW_B = { type: "udp4", dst: "10.0.0.5", dstPort: 4789 };
const FLOW_C = { type: "tcp6", dst: "fd00::5", dstPort: 80 };
const FLOW_D = { type: "udp4", src: "192.0.2.9", srcPort: 53 };


/** Records the successful rule deletions and context deletions, in order. */
function watching(nic: FakeEthtoolNic): { dev: EthtoolDevice; steps: string[] } {
  const steps: string[] = [];
  const dev: EthtoolDevice = {
    ioctl(ifname, b) {
      const cmd = b.readUInt32LE(0);
      // struct ethtool_rxnfc: fs.location at 16 + 160 (ethtool.h struct ethtool_rx_flow_spec).
      const location = b.length >= 180 ? b.readUInt32LE(176) : -1;
      // struct ethtool_rxfh: rss_context at 4, indir_size at 8.
      const context = b.readUInt32LE(4);
      const indirSize = b.length >= 12 ? b.readUInt32LE(8) : -1;
      nic.ioctl(ifname, b);
      if (cmd === ETHTOOL_SRXCLSRLDEL) steps.push(`rule-del ${location}`);
      if (cmd === ETHTOOL_SRSSH && context !== 0 && indirSize === 0) steps.push(`context-del ${context}`);
    },
  };
  return { dev, steps };
}

describe("RssContext create (test double, not the kernel)", () => {
  test("a context over queues 8-11 with two flows: driver's id, rule ids, table, default spread over the rest", () => {
    const nic = nicWith();
    const out = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A, FLOW_B] }));

    // The id is the one the driver wrote back, and the NIC has that context.
    expect(out.contextId).toBe(DRIVER_IDS[0]);
    expect([...nic.contexts.keys()].sort((a, b) => a - b)).toEqual([0, out.contextId]);

    expect(out.ruleIds).toHaveLength(2);
    expect(new Set(out.ruleIds).size).toBe(2);
    for (const loc of out.ruleIds) expect(nic.rules.get(loc)?.rssContext).toBe(out.contextId);
    const decoded = out.ruleIds.map((loc) => ntuple.getRule(nic, "eth0", loc));
    expect(decoded.map((r) => r.match)).toEqual([FLOW_A, FLOW_B]);

    expect(out.indirectionTable).toEqual(equalSpread(range(8, 4)));
    expect(nic.contexts.get(out.contextId)!.indir).toEqual(out.indirectionTable);

    // Default context: every queue no hvnet context reserves, nothing else.
    const free = [...range(0, 8), ...range(12, 4)];
    expect(nic.contexts.get(0)!.indir).toEqual(equalSpread(free));
    expect(new Set(nic.contexts.get(0)!.indir)).toEqual(new Set(free));

    expect(readRecordFile()).toEqual({ contexts: { [out.contextId]: { start: 8, count: 4, ruleIds: out.ruleIds, since: expect.any(String) } } });
  });

  test("a second context overlapping the first is EBUSY, naming queues and the other context; nothing changes", () => {
    const nic = nicWith();
    const first = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A] }));
    const defaultBefore = [...nic.contexts.get(0)!.indir];
    const commandsBefore = nic.log.length;

    const e = thrown(() => R.applyRssOn(nic, args({ queues: { start: 10, count: 4 }, flows: [FLOW_B] })));
    expect(e.code).toBe("EBUSY");
    expect(e.message).toMatch(/^queues: /);
    expect(e.message).toContain(`RSS context ${first.contextId}`);
    expect(e.message).toContain("8-11");

    expect([...nic.contexts.keys()].sort((a, b) => a - b)).toEqual([0, first.contextId]);
    expect([...nic.rules.keys()]).toEqual(first.ruleIds);
    expect(nic.contexts.get(0)!.indir).toEqual(defaultBefore);
    // Refused before any write reached the NIC.
    expect(nic.log.slice(commandsBefore).some((l) => [ETHTOOL_SRSSH, ETHTOOL_SRXCLSRLINS, ETHTOOL_SRXCLSRLDEL].includes(l.cmd))).toBe(false);
  });

  test("a neighbouring context (no overlap) is fine and the default shrinks around both", () => {
    const nic = nicWith();
    const a = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A] }));
    const b = R.applyRssOn(nic, args({ queues: { start: 12, count: 2 }, flows: [FLOW_B] }));
    expect(b.contextId).toBe(DRIVER_IDS[1]);
    expect(b.contextId).not.toBe(a.contextId);
    expect(nic.contexts.get(0)!.indir).toEqual(equalSpread([...range(0, 8), 14, 15]));
    expect(Object.keys(readRecordFile().contexts).map(Number).sort()).toEqual([a.contextId, b.contextId].sort());
  });

  test("queues beyond the channel count are refused, naming queues and the count", () => {
    const nic = nicWith();
    const e = thrown(() => R.applyRssOn(nic, args({ queues: { start: 14, count: 4 }, flows: [FLOW_A] })));
    expect(e.code).toBe("EINVAL");
    expect(e.message).toMatch(/^queues: 14-17 /);
    expect(e.message).toContain(`${QUEUES} queues`);
    expect(nic.contexts.size).toBe(1);
    expect(nic.rules.size).toBe(0);
    expect(fs.existsSync(recordFile())).toBe(false);
  });

  test("queues that would leave the default context nothing are refused before anything is made", () => {
    const nic = nicWith();
    const e = thrown(() => R.applyRssOn(nic, args({ queues: { start: 0, count: QUEUES }, flows: [FLOW_A] })));
    expect(e.code).toBe("ENOSPC");
    expect(e.message).toMatch(/^queues: /);
    expect(nic.contexts.size).toBe(1);
    expect(nic.rules.size).toBe(0);
    expect(fs.existsSync(recordFile())).toBe(false);
  });

  test("a driver without additional contexts is refused, naming the driver", () => {
    const nic = nicWith({ driver: "ixgbe", contexts: false });
    const defaultBefore = [...nic.contexts.get(0)!.indir];
    const e = thrown(() => R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A] })));
    expect(e.message).toContain("driver ixgbe");
    expect(e.message).toContain("no additional RSS contexts");
    expect(e.code).toBe("EOPNOTSUPP");
    expect(nic.contexts.size).toBe(1);
    expect(nic.contexts.get(0)!.indir).toEqual(defaultBefore);
    expect(fs.existsSync(recordFile())).toBe(false);
  });

  test("a driver with contexts but no ntuple filters: error names the driver, the new context is undone", () => {
    const nic = nicWith({ driver: "bnxt_en", ntuple: false });
    const e = thrown(() => R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A] })));
    expect(e.message).toContain("driver bnxt_en");
    expect(e.message).toContain("ntuple");
    // The context existed for a moment (the driver handed out its id) and is gone again.
    expect(nic.log.some((l) => l.cmd === ETHTOOL_SRSSH)).toBe(true);
    expect([...nic.contexts.keys()]).toEqual([0]);
    expect(fs.existsSync(recordFile())).toBe(false);
  });
});

describe("RssContext update in place (test double, not the kernel)", () => {
  test("changing queues rewrites the table of the same context and re-spreads the default; rules untouched", () => {
    const nic = nicWith();
    const first = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A, FLOW_B] }));
    const from = nic.log.length;

    const out = R.applyRssOn(nic, args({ queues: { start: 4, count: 2 }, flows: [FLOW_A, FLOW_B], contextId: first.contextId }));
    expect(out.contextId).toBe(first.contextId);
    expect(out.ruleIds).toEqual(first.ruleIds);
    expect(nic.contexts.get(first.contextId)!.indir).toEqual(equalSpread([4, 5]));
    expect(out.indirectionTable).toEqual(equalSpread([4, 5]));
    expect(nic.contexts.get(0)!.indir).toEqual(equalSpread([...range(0, 4), ...range(6, 10)]));
    expect(nic.contexts.size).toBe(2);
    const after = nic.log.slice(from).map((l) => l.cmd);
    expect(after).not.toContain(ETHTOOL_SRXCLSRLINS);
    expect(after).not.toContain(ETHTOOL_SRXCLSRLDEL);
    expect(readRecordFile().contexts[first.contextId]).toMatchObject({ start: 4, count: 2 });
  });

  test("moving onto its own old queues is not an overlap with itself", () => {
    const nic = nicWith();
    const first = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A] }));
    const out = R.applyRssOn(nic, args({ queues: { start: 9, count: 4 }, flows: [FLOW_A], contextId: first.contextId }));
    expect(out.indirectionTable).toEqual(equalSpread(range(9, 4)));
  });

  test("flows: only the difference is applied, kept rules keep their locations", () => {
    const nic = nicWith();
    const first = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A, FLOW_B, FLOW_C] }));
    const [locA, locB, locC] = first.ruleIds;
    const from = nic.log.length;

    // Drop A, keep C and B (in another order), add D.
    const out = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_C, FLOW_D, FLOW_B], contextId: first.contextId }));
    expect(out.contextId).toBe(first.contextId);
    expect(out.ruleIds[0]).toBe(locC);
    expect(out.ruleIds[2]).toBe(locB);
    expect([locA, locB, locC]).not.toContain(out.ruleIds[1]);

    const changes = nic.log.slice(from).filter((l) => l.cmd === ETHTOOL_SRXCLSRLINS || l.cmd === ETHTOOL_SRXCLSRLDEL);
    expect(changes.filter((l) => l.cmd === ETHTOOL_SRXCLSRLDEL).map((l) => l.location)).toEqual([locA]);
    expect(changes.filter((l) => l.cmd === ETHTOOL_SRXCLSRLINS)).toHaveLength(1);

    expect([...nic.rules.keys()].sort((a, b) => a - b)).toEqual([...out.ruleIds].sort((a, b) => a - b));
    expect(ntuple.getRule(nic, "eth0", out.ruleIds[1]).match).toEqual(FLOW_D);
    expect(readRecordFile().contexts[first.contextId].ruleIds).toEqual(out.ruleIds);
  });

  test("applying the same inputs again sends no rule or table-changing command for the rules", () => {
    const nic = nicWith();
    const first = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A, FLOW_B] }));
    const from = nic.log.length;
    const again = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A, FLOW_B], contextId: first.contextId }));
    expect(again).toEqual(first);
    expect(nic.log.slice(from).some((l) => l.cmd === ETHTOOL_SRXCLSRLINS || l.cmd === ETHTOOL_SRXCLSRLDEL)).toBe(false);
  });

  test("a context id that is not hvnet's is refused without adopt", () => {
    const nic = nicWith();
    const foreign = kernelRss.createContext(nic, "eth0", { queues: { start: 12, count: 2 } });
    const e = thrown(() => R.applyRssOn(nic, args({ queues: { start: 12, count: 2 }, contextId: foreign })));
    expect(e.code).toBe("EEXIST");
    expect(e.message).toContain(`RSS context ${foreign}`);
    const adopted = R.applyRssOn(nic, args({ queues: { start: 12, count: 2 }, flows: [FLOW_A], contextId: foreign, adopt: true }));
    expect(adopted.contextId).toBe(foreign);
    expect(readRecordFile().contexts[foreign]).toMatchObject({ start: 12, count: 2 });
  });
});

describe("RssContext show and drift (test double, not the kernel)", () => {
  test("show reflects what the NIC has: a rule deleted by hand is missing", () => {
    const nic = nicWith();
    const out = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A, FLOW_B] }));
    const shown = R.showRssOn(nic, "eth0", out.contextId)!;
    expect(shown).toEqual({
      device: "eth0",
      contextId: out.contextId,
      queues: { start: 8, count: 4 },
      flows: [FLOW_A, FLOW_B],
      ruleIds: out.ruleIds,
      indirectionTable: equalSpread(range(8, 4)),
    });

    // The operator deletes a rule (`ethtool -N eth0 delete LOC`), through the ioctl boundary.
    expect(ntuple.deleteRule(nic, "eth0", out.ruleIds[0])).toBe(true);
    const drifted = R.showRssOn(nic, "eth0", out.contextId)!;
    expect(drifted.ruleIds).toEqual([out.ruleIds[1]]);
    expect(drifted.flows).toEqual([FLOW_B]);
  });

  test("a context deleted by hand: show is null, apply without adopt says so, apply with adopt recreates it", () => {
    const nic = nicWith();
    const out = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A, FLOW_B] }));
    for (const loc of out.ruleIds) ntuple.deleteRule(nic, "eth0", loc);
    kernelRss.deleteContext(nic, "eth0", out.contextId);

    expect(R.showRssOn(nic, "eth0", out.contextId)).toBeNull();

    const refused = thrown(() => R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A, FLOW_B], contextId: out.contextId })));
    expect(refused.code).toBe("ENOENT");
    expect(refused.message).toContain(`RSS context ${out.contextId}`);

    const again = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A, FLOW_B], contextId: out.contextId, adopt: true }));
    expect(again.contextId).toBe(DRIVER_IDS[1]);
    expect(nic.contexts.get(again.contextId)!.indir).toEqual(equalSpread(range(8, 4)));
    expect(again.ruleIds.map((loc) => nic.rules.get(loc)?.rssContext)).toEqual([again.contextId, again.contextId]);
    // The old id's reservation does not outlive it: only the new id is recorded, and
    // updating the new context is not an overlap with a ghost of the old one.
    expect(Object.keys(readRecordFile().contexts)).toEqual([String(again.contextId)]);
    const updated = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A], contextId: again.contextId }));
    expect(updated.ruleIds).toEqual([again.ruleIds[0]]);
    expect(R.showRssOn(nic, "eth0", again.contextId)?.flows).toEqual([FLOW_A]);
  });

  test("show of a context on a NIC that is gone is null", () => {
    const nic = nicWith();
    expect(R.showRssOn(nic, "eth9", 7)).toBeNull();
  });
});

describe("RssContext remove (test double, not the kernel)", () => {
  test("the double refuses to delete a context rules still use (the 6.13 rule the order depends on)", () => {
    const nic = nicWith();
    const out = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A] }));
    expect(() => kernelRss.deleteContext(nic, "eth0", out.contextId)).toThrow(RssContextBusyError);
  });

  test("rules first, then the context; default re-spread while others remain, restored when the last goes; record gone", () => {
    const nic = nicWith();
    const a = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A, FLOW_B] }));
    const b = R.applyRssOn(nic, args({ queues: { start: 12, count: 2 }, flows: [FLOW_D] }));
    const { dev, steps } = watching(nic);

    expect(R.removeRssOn(dev, "eth0", a.contextId)).toEqual({ removed: true });
    expect(steps).toEqual([...a.ruleIds.map((l) => `rule-del ${l}`), `context-del ${a.contextId}`]);
    expect(nic.contexts.has(a.contextId)).toBe(false);
    expect([...nic.rules.keys()]).toEqual(b.ruleIds);
    expect(nic.contexts.get(0)!.indir).toEqual(equalSpread([...range(0, 12), 14, 15]));
    expect(Object.keys(readRecordFile().contexts)).toEqual([String(b.contextId)]);

    steps.length = 0;
    expect(R.removeRssOn(dev, "eth0", b.contextId)).toEqual({ removed: true });
    expect(steps).toEqual([...b.ruleIds.map((l) => `rule-del ${l}`), `context-del ${b.contextId}`]);
    expect([...nic.contexts.keys()]).toEqual([0]);
    expect(nic.rules.size).toBe(0);
    // The driver's own default spread again (`ethtool -X eth0 default`), over all queues.
    expect(nic.defaultConfigured).toBe(false);
    expect(nic.contexts.get(0)!.indir).toEqual(equalSpread(range(0, QUEUES)));
    expect(fs.existsSync(recordFile())).toBe(false);
    expect(fs.existsSync(path.join(state.dir, "registry"))).toBe(false);
  });

  test("remove is idempotent: an absent context is success and leaves the operator's default table alone", () => {
    const nic = nicWith();
    const out = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A] }));
    expect(R.removeRssOn(nic, "eth0", out.contextId)).toEqual({ removed: true });
    // The operator then sets the default table by hand.
    kernelRss.setEqual(nic, "eth0", 0, 0, 6);
    const handMade = [...nic.contexts.get(0)!.indir];
    const from = nic.log.length;

    expect(R.removeRssOn(nic, "eth0", out.contextId)).toEqual({ removed: false });
    expect(R.removeRssOn(nic, "eth0", 99)).toEqual({ removed: false });
    expect(nic.contexts.get(0)!.indir).toEqual(handMade);
    expect(nic.log.slice(from).some((l) => l.cmd === ETHTOOL_SRSSH)).toBe(false);
    expect(fs.existsSync(recordFile())).toBe(false);
  });

  test("remove after the context vanished (driver reset) forgets it and re-spreads the default", () => {
    const nic = nicWith();
    const a = R.applyRssOn(nic, args({ queues: { start: 8, count: 4 }, flows: [FLOW_A] }));
    const b = R.applyRssOn(nic, args({ queues: { start: 12, count: 2 }, flows: [FLOW_B] }));
    // A driver reset drops the context and its rules without asking.
    for (const loc of a.ruleIds) nic.rules.delete(loc);
    nic.contexts.delete(a.contextId);

    expect(R.removeRssOn(nic, "eth0", a.contextId)).toEqual({ removed: false });
    expect(Object.keys(readRecordFile().contexts)).toEqual([String(b.contextId)]);
    expect(nic.contexts.get(0)!.indir).toEqual(equalSpread([...range(0, 12), 14, 15]));
  });

  test("remove on a NIC that is gone is success and drops its record", () => {
    const nic = nicWith({ ifname: "eth1" });
    const out = R.applyRssOn(nic, readRssArgs(InputReader.of({ device: "eth1", queues: { start: 8, count: 4 }, flows: [FLOW_A] })));
    expect(fs.existsSync(recordFile("eth1"))).toBe(true);
    const gone = new FakeEthtoolNic({ ifname: "eth0" }); // eth1 no longer answers: ENODEV
    expect(R.removeRssOn(gone, "eth1", out.contextId)).toEqual({ removed: false });
    expect(fs.existsSync(recordFile("eth1"))).toBe(false);
  });
});
