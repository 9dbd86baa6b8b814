// Kernel text once: what the kernel said (a netlink extack message, a verifier's verdict)
// reaches the operator once, on the path every kernel failure takes: the helper's
// KernelError, its wire body (toErrorBody) and the provider's HelperError. Against this
// machine's kernel: a veth in a scratch namespace refused an MTU, an attribute its policy
// refuses, a program the verifier rejects.
import { BpfObject } from "../../provider/helper/kernel/bpf/object";
import { KernelError } from "../../provider/helper/kernel/errors";
import { encodeAttrs, nla } from "../../provider/helper/kernel/netlink/attributes";
import { NLM_F_CREATE, NLM_F_EXCL } from "../../provider/helper/kernel/netlink/codec";
import { RtNetlink } from "../../provider/helper/kernel/netlink/rtnetlink";
import { ifinfomsg } from "../../provider/helper/kernel/netlink/rtnetlink-request";
import { routeAttrSpace } from "../../provider/helper/kernel/netlink/rtnetlink-attr-names";
import {
  IFINFOMSG_LEN,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_MTU,
  RTM_NEWLINK,
  VETH_INFO_PEER,
} from "../../provider/helper/kernel/netlink/rtnetlink-uapi";
import { toErrorBody } from "../../provider/helper/rpc/errors";
import { HelperError } from "../../provider/transport/errors";
import { buildFixture } from "../fixtures/bpf/build";
import { mountTestBpffs, type TestBpffs } from "../fixtures/bpf/support";
import { requireCommand, requireRoot } from "../support/require-root";
import { createScratchNetns, type ScratchNetns } from "../support/scratch-netns";
import { thrown } from "../support/thrown";

const count = (text: string, part: string) => text.split(part).length - 1;

let ns: ScratchNetns | undefined;
let rt: RtNetlink | undefined;
let bpffs: TestBpffs | undefined;

beforeAll(() => {
  requireRoot();
  requireCommand("ip");
  ns = createScratchNetns("once");
  rt = RtNetlink.open({ netns: ns.name });
  bpffs = mountTestBpffs();
});

afterAll(() => {
  rt?.close();
  ns?.remove();
  bpffs?.cleanup();
});

test("an MTU the kernel refuses: its words once in the operator's message, and as a field", () => {
  rt!.createVeth({ name: "vo0", peer: { name: "vo1" } });
  const err = thrown(() => rt!.setMtu("vo0", 10));
  expect(err).toBeInstanceOf(KernelError);
  const e = new HelperError("hv1", "vmif.apply", toErrorBody(err));
  expect(e.message).toBe("hv1: vmif.apply: RTM_NEWLINK set (vo0) failed: EINVAL: mtu less than device minimum");
  expect(count(e.message, "mtu less than device minimum")).toBe(1);
  expect(e.kernelMessage).toBe("mtu less than device minimum");
  expect(ns!.ipJson("link", "show", "dev", "vo0")[0].mtu).toBe(1500);
});

test("an attribute the kernel's policy refuses: named by path once in the operator's message, and as a field", () => {
  // A veth peer's IFLA_MTU of two bytes, where the policy wants a u32: the kernel points at it.
  const peer = Buffer.concat([ifinfomsg(), encodeAttrs([nla.binary(IFLA_MTU, Buffer.alloc(2))])]);
  const veth = nla.nest(IFLA_LINKINFO, [nla.string(IFLA_INFO_KIND, "veth"), nla.nest(IFLA_INFO_DATA, [nla.binary(VETH_INFO_PEER, peer)])]);
  const payload = Buffer.concat([ifinfomsg(), encodeAttrs([nla.string(IFLA_IFNAME, "vo2"), veth])]);
  const opts = { op: "RTM_NEWLINK veth", context: "vo2", headerLen: IFINFOMSG_LEN, attrs: routeAttrSpace(RTM_NEWLINK) };
  const err = thrown(() => rt!.nl.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, payload, opts));
  expect(err).toBeInstanceOf(KernelError);
  const e = new HelperError("hv1", "vmif.apply", toErrorBody(err));
  const path = "IFLA_LINKINFO > IFLA_INFO_DATA > VETH_INFO_PEER > IFLA_MTU";
  expect(e.attribute).toBe(path);
  expect(count(e.message, path)).toBe(1);
  expect(ns!.ipJson("link", "show").map((l: { ifname: string }) => l.ifname)).not.toContain("vo2");
});

test("a program the verifier rejects: its verdict once in the operator's message", () => {
  const obj = BpfObject.open(buildFixture("verifier_reject"));
  try {
    const err = thrown(() => obj.load());
    expect(err).toBeInstanceOf(KernelError);
    const e = new HelperError("hv1", "xdp.apply", toErrorBody(err));
    expect(e.code).toBe("EACCES");
    expect(e.message).toContain("invalid access to packet");
    // Every line of the verifier's excerpt appears once, not in the message and again after it.
    for (const line of (err as KernelError).kernelMessage!.split("\n").filter((l) => l.length > 20)) {
      expect(count(e.message, line)).toBe(1);
    }
    expect(e.message.length).toBeLessThan(4500);
  } finally {
    obj.close();
  }
});
