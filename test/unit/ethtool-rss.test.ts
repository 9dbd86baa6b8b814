// rss.ts against a test double of the ioctl boundary: this machine has no NIC with RSS
// contexts, so every test here says "(test double, not the kernel)".
import { FakeEthtoolNic } from "../support/fake-ethtool";
import * as rss from "../../provider/helper/kernel/ethtool/rss";
import { insertRule, deleteRule } from "../../provider/helper/kernel/ethtool/ntuple";
import {
  EthtoolOperationError,
  RssContextBusyError,
  RssContextNotFoundError,
  RssContextsUnsupportedError,
  RssUnsupportedError,
} from "../../provider/helper/kernel/ethtool/errors";
import { ETHTOOL_SRSSH } from "../../provider/helper/kernel/ethtool/structs";

const withContexts = () =>
  new FakeEthtoolNic({ driver: "mlx5_core", combined: 16, maxCombined: 32, contexts: true, perContextKey: true, contextIds: [5, 9], ntuple: "special" });

describe("rss (test double, not the kernel)", () => {
  test("reads the default table and the driver's sizes", () => {
    const nic = new FakeEthtoolNic({ combined: 4, indirSize: 128, keySize: 40 });
    expect(rss.getRssSizes(nic, "eth0")).toEqual({ indirSize: 128, keySize: 40 });
    const st = rss.getRss(nic, "eth0");
    expect(st.indirection).toEqual(nic.contexts.get(0)!.indir);
    expect(st.indirection.length).toBe(128);
    expect(st.key.equals(nic.contexts.get(0)!.key)).toBe(true);
    expect(st.hfunc).toBe(1);
  });

  test("start N equal M over the driver's table size: indir[i] = N + (i % M)", () => {
    expect(rss.equalTable(8, 3, 3)).toEqual([3, 4, 5, 3, 4, 5, 3, 4]);
    const nic = new FakeEthtoolNic({ combined: 16, indirSize: 128 });
    const table = rss.setEqual(nic, "eth0", 0, 0, 15);
    expect(nic.contexts.get(0)!.indir).toEqual(table);
    expect(table.every((q, i) => q === i % 15)).toBe(true);
    expect(rss.getIndirection(nic, "eth0", 0)).toEqual(table);
  });

  test("createContext returns the id the driver wrote back, not one we guessed", () => {
    const nic = withContexts();
    const id = rss.createContext(nic, "eth0", { queues: { start: 15, count: 1 } });
    expect(id).toBe(5);
    expect(nic.contexts.get(5)!.indir).toEqual(new Array(128).fill(15));
    const second = rss.createContext(nic, "eth0", { queues: { start: 12, count: 3 } });
    expect(second).toBe(9);
    expect(rss.getIndirection(nic, "eth0", 9)).toEqual(rss.equalTable(128, 12, 3));
  });

  test("a context with its own key and named hash function", () => {
    const nic = withContexts();
    const key = Buffer.alloc(40, 0x5a);
    const id = rss.createContext(nic, "eth0", { queues: { start: 0, count: 2 }, key, hfunc: "xor" });
    const st = rss.getRss(nic, "eth0", id);
    expect(st.key.equals(key)).toBe(true);
    expect(st.hfunc).toBe(2); // bit 1 = "xor", the driver's second hash function string
    expect(() => rss.createContext(nic, "eth0", { queues: { start: 0, count: 2 }, hfunc: "siphash" })).toThrow(/unknown hash function "siphash".*toeplitz, xor, crc32/);
  });

  test("modifyContext rewrites the table, and a key-only change keeps it (INDIR_NO_CHANGE)", () => {
    const nic = withContexts();
    const id = rss.createContext(nic, "eth0", { queues: { start: 8, count: 4 } });
    rss.modifyContext(nic, "eth0", id, { queues: { start: 8, count: 2 } });
    expect(nic.contexts.get(id)!.indir).toEqual(rss.equalTable(128, 8, 2));
    rss.modifyContext(nic, "eth0", id, { key: Buffer.alloc(40, 1) });
    expect(nic.contexts.get(id)!.indir).toEqual(rss.equalTable(128, 8, 2));
    expect(nic.contexts.get(id)!.key.equals(Buffer.alloc(40, 1))).toBe(true);
  });

  test("queues beyond the channel count are refused before anything is written", () => {
    const nic = withContexts();
    expect(() => rss.createContext(nic, "eth0", { queues: { start: 15, count: 2 } })).toThrow(/queue 16, beyond the 16 RX queues/);
    expect(nic.commands()).not.toContain(ETHTOOL_SRSSH);
    expect(nic.contexts.size).toBe(1);
  });

  test("a table of the wrong size is refused naming the driver's size", () => {
    const nic = withContexts();
    expect(() => rss.setIndirection(nic, "eth0", 0, [0, 1, 2])).toThrow(/3 entries, the driver's has 128/);
  });

  test("deleting a context that ntuple rules point at is refused (EBUSY, as 6.13+), then works once they are gone", () => {
    const nic = withContexts();
    const id = rss.createContext(nic, "eth0", { queues: { start: 14, count: 2 } });
    const loc = insertRule(nic, "eth0", { match: { type: "tcp4", dst: "192.0.2.10", dstPort: 443 }, action: { rssContext: id } });
    let err: unknown;
    try {
      rss.deleteContext(nic, "eth0", id);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RssContextBusyError);
    expect((err as RssContextBusyError).context).toBe(id);
    expect((err as RssContextBusyError).cause?.code).toBe("EBUSY");
    expect(nic.contexts.has(id)).toBe(true);
    expect(deleteRule(nic, "eth0", loc)).toBe(true);
    rss.deleteContext(nic, "eth0", id);
    expect(nic.contexts.has(id)).toBe(false);
  });

  test("an unknown context is RssContextNotFoundError (drift, e.g. after a reboot)", () => {
    const nic = withContexts();
    expect(() => rss.getRss(nic, "eth0", 42)).toThrow(RssContextNotFoundError);
    expect(() => rss.deleteContext(nic, "eth0", 42)).toThrow(RssContextNotFoundError);
  });

  test("a driver without additional contexts: the error names the driver", () => {
    const nic = new FakeEthtoolNic({ driver: "ice", contexts: false });
    let err: unknown;
    try {
      rss.createContext(nic, "eth0", { queues: { start: 0, count: 2 } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RssContextsUnsupportedError);
    expect((err as RssContextsUnsupportedError).driver).toBe("ice");
    expect(String(err)).toMatch(/driver ice of eth0 has no additional RSS contexts/);
  });

  test("a driver without per-context keys refuses a key on a context, and says both possible reasons", () => {
    const nic = new FakeEthtoolNic({ driver: "bnxt_en", contexts: true, perContextKey: false });
    expect(() => rss.createContext(nic, "eth0", { queues: { start: 0, count: 2 }, key: Buffer.alloc(40) })).toThrow(
      /driver bnxt_en of eth0 refused the RSS context: it has no additional contexts or no per-context hash key/,
    );
    // Without a key the same driver creates the context.
    expect(rss.createContext(nic, "eth0", { queues: { start: 0, count: 2 } })).toBe(1);
  });

  test("a driver with no RSS at all: RssUnsupportedError naming it", () => {
    const nic = new FakeEthtoolNic({ driver: "veth", rss: false });
    expect(() => rss.getIndirection(nic, "eth0")).toThrow(RssUnsupportedError);
    expect(() => rss.createContext(nic, "eth0", { queues: { start: 0, count: 1 } })).toThrow(/driver veth of eth0 has no RSS/);
  });

  test("resetDefaultIndirection brings back the driver's default spread", () => {
    const nic = new FakeEthtoolNic({ combined: 8 });
    rss.setEqual(nic, "eth0", 0, 0, 2);
    expect(nic.defaultConfigured).toBe(true);
    rss.resetDefaultIndirection(nic, "eth0");
    expect(nic.defaultConfigured).toBe(false);
    expect(rss.getIndirection(nic, "eth0")).toEqual(rss.equalTable(128, 0, 8));
  });

  test("invalid arguments never reach the device", () => {
    const nic = withContexts();
    expect(() => rss.createContext(nic, "eth0", {})).toThrow(/needs a table or queues/);
    expect(() => rss.createContext(nic, "eth0", { table: new Array(128).fill(0), queues: { start: 0, count: 1 } })).toThrow(/either table or queues/);
    expect(() => rss.deleteContext(nic, "eth0", 0)).toThrow(/only additional contexts/);
    expect(() => rss.equalTable(128, 0, 0)).toThrow(/queues.count/);
    expect(nic.commands()).not.toContain(ETHTOOL_SRSSH);
    expect(new EthtoolOperationError("x", "eth0", undefined)).toBeInstanceOf(Error);
  });
});

describe("the RSS-context capability is asked of the driver (test double, not the kernel)", () => {
  test("a driver with contexts: true, and the probe's context is gone again", () => {
    // A driver name no list knows: the answer comes from the ioctl, not from the name.
    const nic = new FakeEthtoolNic({ driver: "nfp-next", combined: 8, contexts: true });
    expect(rss.supportsRssContexts(nic, "eth0")).toBe(true);
    expect([...nic.contexts.keys()]).toEqual([0]);
  });

  test("a driver without contexts, or without RSS: false, nothing left behind", () => {
    const listed = new FakeEthtoolNic({ driver: "mlx5_core", combined: 8, contexts: false });
    expect(rss.supportsRssContexts(listed, "eth0")).toBe(false);
    expect([...listed.contexts.keys()]).toEqual([0]);
    const noRss = new FakeEthtoolNic({ driver: "veth", combined: 1, rss: false });
    expect(rss.supportsRssContexts(noRss, "eth0")).toBe(false);
  });
});
