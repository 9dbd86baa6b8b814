// ntuple.ts against a test double of the ioctl boundary (no NIC here has ntuple filters):
// every test says "(test double, not the kernel)".
import { FakeEthtoolNic } from "../support/fake-ethtool";
import * as nt from "../../provider/helper/kernel/ethtool/ntuple";
import { createContext } from "../../provider/helper/kernel/ethtool/rss";
import { NtupleUnsupportedError } from "../../provider/helper/kernel/ethtool/errors";
import { ETHTOOL_SRXCLSRLINS, FLOW_RSS, RX_CLS_LOC_ANY } from "../../provider/helper/kernel/ethtool/structs";

const insertsOf = (nic: FakeEthtoolNic) => nic.log.filter((e) => e.cmd === ETHTOOL_SRXCLSRLINS);

describe("ntuple (test double, not the kernel)", () => {
  test("RX_CLS_LOC_SPECIAL drivers get RX_CLS_LOC_ANY and we return the location they chose", () => {
    const nic = new FakeEthtoolNic({ ntuple: "special", contexts: true });
    nic.rules.set(0, { fs: Buffer.alloc(168), rssContext: 0, flowType: 1, ringCookie: 0n }); // someone else's rule
    const ctx = createContext(nic, "eth0", { queues: { start: 6, count: 2 } });
    const loc = nt.insertRule(nic, "eth0", { match: { type: "udp4", dst: "192.0.2.7", dstPort: 4791 }, action: { rssContext: ctx } });
    expect(insertsOf(nic)[0].location).toBe(RX_CLS_LOC_ANY);
    expect(loc).toBe(1); // the double's choice: lowest free
    expect(nic.rules.get(1)!.rssContext).toBe(ctx);
    expect(nic.rules.get(1)!.flowType).toBe((2 | FLOW_RSS) >>> 0);
  });

  test("fixed-table drivers: we pick the highest free location ourselves", () => {
    const nic = new FakeEthtoolNic({ ntuple: { tableSize: 8 } });
    for (const l of [7, 5]) nic.rules.set(l, { fs: Buffer.alloc(168), rssContext: 0, flowType: 1, ringCookie: 0n });
    const loc = nt.insertRule(nic, "eth0", { match: { type: "tcp6", dst: "2001:db8::5", dstPort: 22 }, action: { queue: 3 } });
    expect(loc).toBe(6);
    expect(insertsOf(nic)[0].location).toBe(6);
    expect(nt.findFreeLocation([0, 1, 2, 3], 4)).toBe(-1);
    expect(nt.findFreeLocation([3, 1], 4)).toBe(2);
  });

  test("a full fixed table is an error before any insert", () => {
    const nic = new FakeEthtoolNic({ ntuple: { tableSize: 2 } });
    for (const l of [0, 1]) nic.rules.set(l, { fs: Buffer.alloc(168), rssContext: 0, flowType: 1, ringCookie: 0n });
    expect(() => nt.insertRule(nic, "eth0", { match: { type: "ip4", dst: "192.0.2.1" }, action: { queue: 0 } })).toThrow(/table is full/);
    expect(insertsOf(nic)).toHaveLength(0);
  });

  test("a pinned location is used as given", () => {
    const nic = new FakeEthtoolNic({ ntuple: { tableSize: 16 } });
    expect(nt.insertRule(nic, "eth0", { match: { type: "ether", dst: "02:00:00:00:00:09" }, action: { queue: 1 } }, 3)).toBe(3);
  });

  test("list reads every rule back as the match and action that made it", () => {
    const nic = new FakeEthtoolNic({ ntuple: "special", contexts: true, combined: 8 });
    const ctx = createContext(nic, "eth0", { queues: { start: 4, count: 4 } });
    const rules: nt.FlowRule[] = [
      { match: { type: "tcp4", src: "198.51.100.0/24", dst: "192.0.2.1", dstPort: 80 }, action: { rssContext: ctx } },
      { match: { type: "udp6", dst: "2001:db8::1", srcPort: 5000 }, action: { queue: 2 } },
      { match: { type: "ip4", dst: "192.0.2.2", proto: 47 }, action: { drop: true } },
    ];
    const locs = rules.map((r) => nt.insertRule(nic, "eth0", r));
    expect(nt.ruleTableInfo(nic, "eth0")).toMatchObject({ count: 3, driverSelects: true });
    const listed = nt.listRules(nic, "eth0");
    expect(listed).toEqual(rules.map((r, i) => ({ location: locs[i], ...r })));
  });

  test("delete removes the rule; a second delete reports it was already gone", () => {
    const nic = new FakeEthtoolNic({ ntuple: { tableSize: 4 } });
    const loc = nt.insertRule(nic, "eth0", { match: { type: "tcp4", dstPort: 8080 }, action: { queue: 1 } });
    expect(nt.deleteRule(nic, "eth0", loc)).toBe(true);
    expect(nic.rules.size).toBe(0);
    expect(nt.deleteRule(nic, "eth0", loc)).toBe(false);
  });

  test("a rule into a context that does not exist is explained", () => {
    const nic = new FakeEthtoolNic({ driver: "sfc", ntuple: "special", contexts: true });
    expect(() => nt.insertRule(nic, "eth0", { match: { type: "tcp4", dstPort: 1 }, action: { rssContext: 77 } })).toThrow(
      /RSS context 77 refused: the context does not exist or driver sfc cannot steer/,
    );
  });

  test("a driver without ntuple filters: NtupleUnsupportedError naming the driver", () => {
    const nic = new FakeEthtoolNic({ driver: "virtio_net", ntuple: false });
    let err: unknown;
    try {
      nt.listRules(nic, "eth0");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NtupleUnsupportedError);
    expect((err as NtupleUnsupportedError).driver).toBe("virtio_net");
  });
});

test("supportsNtuple asks the rule table, whatever the feature bit says (netdevsim on 7.3 has ntuple on [fixed]) (test double, not the kernel)", () => {
  expect(nt.supportsNtuple(new FakeEthtoolNic({ ntuple: "special", contexts: true }), "eth0")).toBe(true);
  expect(nt.supportsNtuple(new FakeEthtoolNic({ ntuple: { tableSize: 8 } }), "eth0")).toBe(true);
  expect(nt.supportsNtuple(new FakeEthtoolNic({ driver: "veth", ntuple: false }), "eth0")).toBe(false);
});
