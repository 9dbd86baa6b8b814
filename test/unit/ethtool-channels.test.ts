// channels.ts against a test double of the ioctl boundary, for the rules a real veth
// cannot show (queues held by RSS contexts and ntuple rules): "(test double, not the kernel)".
import { FakeEthtoolNic } from "../support/fake-ethtool";
import { getChannels, setChannels } from "../../provider/helper/kernel/ethtool/channels";
import { createContext, deleteContext, setEqual } from "../../provider/helper/kernel/ethtool/rss";
import { insertRule } from "../../provider/helper/kernel/ethtool/ntuple";
import { ETHTOOL_SCHANNELS } from "../../provider/helper/kernel/ethtool/structs";

describe("channels (test double, not the kernel)", () => {
  test("get and set combined channels", () => {
    const nic = new FakeEthtoolNic({ combined: 8, maxCombined: 16 });
    expect(getChannels(nic, "eth0")).toMatchObject({ combined: 8, maxCombined: 16 });
    expect(setChannels(nic, "eth0", { combined: 12 })).toMatchObject({ combined: 12 });
    expect(nic.combined).toBe(12);
  });

  test("no change sends no SCHANNELS", () => {
    const nic = new FakeEthtoolNic({ combined: 8 });
    setChannels(nic, "eth0", { combined: 8 });
    expect(nic.commands()).not.toContain(ETHTOOL_SCHANNELS);
  });

  test("above the driver maximum is refused naming the maximum, before any SCHANNELS", () => {
    const nic = new FakeEthtoolNic({ combined: 8, maxCombined: 16 });
    expect(() => setChannels(nic, "eth0", { combined: 17 })).toThrow(/combined channel count 17 exceeds the driver maximum 16/);
    expect(nic.commands()).not.toContain(ETHTOOL_SCHANNELS);
  });

  test("shrinking below a queue an RSS context uses is refused (EINVAL) and explained", () => {
    const nic = new FakeEthtoolNic({ combined: 16, contexts: true });
    const ctx = createContext(nic, "eth0", { queues: { start: 14, count: 2 } });
    expect(() => setChannels(nic, "eth0", { combined: 14 })).toThrow(/cannot reduce channels .* still used/);
    expect(nic.combined).toBe(16);
    deleteContext(nic, "eth0", ctx);
    expect(setChannels(nic, "eth0", { combined: 14 }).combined).toBe(14);
  });

  test("a queue-steering ntuple rule and a user-set default table also hold their queues", () => {
    const nic = new FakeEthtoolNic({ combined: 8, ntuple: { tableSize: 8 } });
    insertRule(nic, "eth0", { match: { type: "udp4", dstPort: 53 }, action: { queue: 6 } });
    expect(() => setChannels(nic, "eth0", { combined: 6 })).toThrow(/still used/);
    const nic2 = new FakeEthtoolNic({ combined: 8 });
    setEqual(nic2, "eth0", 0, 0, 8);
    expect(() => setChannels(nic2, "eth0", { combined: 4 })).toThrow(/still used/);
  });
});
