// Byte-for-byte encodings of the requests the helper sends, checked against the UAPI.
// Sources (line numbers of the 6.1 headers installed under /usr/include/linux unless said):
//   rtnetlink.h l. 28 RTM_NEWLINK = 16; l. 557 struct ifinfomsg (16 bytes)
//   if_link.h l. 297-339 IFLA_IFNAME 3, IFLA_MTU 4, IFLA_LINKINFO 18, IFLA_NET_NS_FD 28,
//     IFLA_NUM_TX_QUEUES 31, IFLA_NUM_RX_QUEUES 32; l. 575-576 IFLA_INFO_KIND 1, IFLA_INFO_DATA 2
//   veth.h l. 7 VETH_INFO_PEER 1 (struct ifinfomsg + the peer's IFLA_* attributes)
//   upstream if_link.h netkit block: IFLA_NETKIT_PEER_INFO 1, PRIMARY 2, POLICY 3, PEER_POLICY 4,
//     MODE 5, SCRUB 6, PEER_SCRUB 7, HEADROOM 8 (u16), TAILROOM 9 (u16), PAIRING 10 ("netkit: Add
//     single device mode", hunk @@ -1320,6 +1325,7 @@); NETKIT_PASS 0, NETKIT_DROP 2; NETKIT_L2 0,
//     NETKIT_L3 1; NETKIT_SCRUB_NONE 0, DEFAULT 1; NETKIT_DEVICE_PAIR 0, SINGLE 1
//   genetlink.h l. 13-17 struct genlmsghdr {u8 cmd; u8 version; u16 reserved}; l. 30 GENL_ID_CTRL 0x10;
//     l. 44 CTRL_CMD_GETFAMILY 3; l. 60 CTRL_ATTR_FAMILY_NAME 2
//   netdev.h / Documentation/netlink/specs/netdev.yaml (with "net: Add queue-create operation",
//     <20260115082603.219152-2-daniel@iogearbox.net>): NETDEV_CMD_QUEUE_CREATE 16;
//     NETDEV_A_QUEUE_ID 1, IFINDEX 2, TYPE 3, ..., LEASE 8; NETDEV_A_LEASE_IFINDEX 1, QUEUE 2,
//     NETDEV_A_LEASE_NETNS_ID 3 (s32); queue-id is "subset-of: queue" → id 1, type 3;
//     NETDEV_QUEUE_TYPE_RX 0
import { NLM_F_ACK, NLM_F_REQUEST, encodeMessage } from "../../provider/helper/kernel/netlink/codec";
import { encodeAttrs } from "../../provider/helper/kernel/netlink/attributes";
import { Request } from "../../provider/helper/kernel/netlink/rtnetlink-request";
import { encodeLinkChange, encodeLinkDelete, encodeVethCreate } from "../../provider/helper/kernel/netlink/rtnetlink-link";
import { checkNetkitSpec, encodeNetkitCreate, encodeNetkitLowerdevPoc } from "../../provider/helper/kernel/netlink/rtnetlink-netkit";
import { GENL_ID_CTRL, encodeGetFamily, genlPayload } from "../../provider/helper/kernel/netlink/genetlink";
import { NETDEV_CMD, queueCreateAttrs } from "../../provider/helper/kernel/netlink/netdev-genl";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const ZERO_IFINFOMSG = "00000000 00000000 00000000 00000000";
/** The bytes the client sends for a rtnetlink request, with seq 1. */
const wire = (r: Request) => encodeMessage({ type: r.type, flags: NLM_F_REQUEST | NLM_F_ACK | r.flags, seq: 1, payload: r.payload });

describe("RTM_NEWLINK", () => {
  test("veth with a named peer", () => {
    expect(wire(encodeVethCreate({ name: "veth0", peer: { name: "veth1" } }))).toEqual(
      hex(`60000000 1000 0506 01000000 00000000
           ${ZERO_IFINFOMSG}
           0a00 0300 7665746830 00 0000
           3400 1280
             0900 0100 76657468 00 000000
             2400 0280
               2000 0100
                 ${ZERO_IFINFOMSG}
                 0a00 0300 7665746831 00 0000`),
    );
  });

  test("veth with queue counts on both ends and the peer created in another netns (fd 7)", () => {
    const r = encodeVethCreate({ name: "v0", numRxQueues: 4, peer: { name: "v1", numTxQueues: 2, netnsFd: 7 } });
    expect(r.payload.subarray(16)).toEqual(
      hex(`0700 0300 763000 00
           0800 2000 04000000
           4000 1280
             0900 0100 76657468 00 000000
             3000 0280
               2c00 0100
                 ${ZERO_IFINFOMSG}
                 0700 0300 763100 00
                 0800 1f00 02000000
                 0800 1c00 07000000`),
    );
  });

  test("netkit pair: l2, policy drop, peer policy pass, scrub none/default, headroom 64, tailroom 32", () => {
    const r = encodeNetkitCreate({
      name: "nk0",
      mode: "l2",
      policy: "drop",
      peerPolicy: "pass",
      scrub: "none",
      peerScrub: "default",
      headroom: 64,
      tailroom: 32,
      peer: { name: "nk1" },
    });
    // No IFLA_NETKIT_PAIRING: a pair is the default, and pre-7.1 kernels do not know it.
    expect(wire(r)).toEqual(
      hex(`90000000 1000 0506 01000000 00000000
           ${ZERO_IFINFOMSG}
           0800 0300 6e6b3000
           6800 1280
             0b00 0100 6e65746b6974 00 00
             5800 0280
               1c00 0100
                 ${ZERO_IFINFOMSG}
                 0800 0300 6e6b3100
               0800 0300 02000000
               0800 0400 00000000
               0800 0500 00000000
               0800 0600 00000000
               0800 0700 01000000
               0600 0800 4000 0000
               0600 0900 2000 0000`),
    );
  });

  test("netkit single with 4 rx queues (room for leases)", () => {
    const r = encodeNetkitCreate({ name: "nks", pairing: "single", mode: "l3", numRxQueues: 4 });
    expect(wire(r)).toEqual(
      hex(`54000000 1000 0506 01000000 00000000
           ${ZERO_IFINFOMSG}
           0800 0300 6e6b7300
           0800 2000 04000000
           2400 1280
             0b00 0100 6e65746b6974 00 00
             1400 0280
               0800 0500 01000000
               0800 0a00 01000000`),
    );
  });

  test("IFLA_NETKIT_LOWERDEV proof of concept: {u32 ifindex, u32 queue_from, u32 queue_to} under a caller-given type", () => {
    // PoC only, never upstream; its attribute number is unknown, so 0x20 here is arbitrary.
    expect(encodeAttrs([encodeNetkitLowerdevPoc({ attrType: 0x20, ifindex: 7, queueFrom: 14, queueTo: 15 })])).toEqual(
      hex("1000 2000 07000000 0e000000 0f000000"),
    );
    const r = encodeNetkitCreate({
      name: "nk0",
      pairing: "single",
      numRxQueues: 3,
      lowerDevPoc: { attrType: 0x20, ifindex: 7, queueFrom: 14, queueTo: 15 },
    });
    // it sits in IFLA_INFO_DATA after the upstream attributes
    expect(r.payload.subarray(r.payload.length - 16)).toEqual(hex("1000 2000 07000000 0e000000 0f000000"));
  });

  test("the PoC attribute number may not collide with upstream IFLA_NETKIT_* (1..10)", () => {
    expect(() => encodeNetkitLowerdevPoc({ attrType: 10, ifindex: 7, queueFrom: 1, queueTo: 2 })).toThrow(/collides/);
    expect(() => encodeNetkitLowerdevPoc({ attrType: 0, ifindex: 7, queueFrom: 1, queueTo: 2 })).toThrow();
    expect(() => encodeNetkitLowerdevPoc({ attrType: 11, ifindex: 7, queueFrom: 3, queueTo: 2 })).toThrow(/queueTo/);
  });

  test("single-mode and l3 restrictions are refused before reaching the kernel", () => {
    expect(() => checkNetkitSpec({ name: "x", pairing: "single", peer: { name: "y" } })).toThrow(/single mode does not take peer/);
    expect(() => checkNetkitSpec({ name: "x", pairing: "single", policy: "drop" })).toThrow(/policy drop/);
    expect(() => checkNetkitSpec({ name: "x", mode: "l3", address: "02:00:00:00:00:01" })).toThrow(/only in l2/);
    expect(() => checkNetkitSpec({ name: "x", mode: "l2", address: "02:00:00:00:00:01" })).not.toThrow();
  });

  test("set up + mtu by name, rename by index, move to a netns, delete", () => {
    expect(encodeLinkChange("eth1", { up: true, mtu: 9000 }).payload).toEqual(
      hex(`00000000 00000000 01000000 01000000
           0900 0300 6574683100 000000
           0800 0400 28230000`),
    );
    expect(encodeLinkChange(5, { name: "wan0" }).payload).toEqual(hex(`00000000 05000000 00000000 00000000 0900 0300 77616e3000 000000`));
    expect(encodeLinkChange(5, { netnsFd: 9 }).payload).toEqual(hex(`00000000 05000000 00000000 00000000 0800 1c00 09000000`));
    expect(() => encodeLinkChange("eth1", { name: "x" })).toThrow(/ifindex/);
    expect(encodeLinkDelete(5).type).toBe(17);
    expect(encodeLinkDelete(5).payload).toEqual(hex(`00000000 05000000 00000000 00000000`));
  });

  test("names and MACs are validated", () => {
    expect(() => encodeVethCreate({ name: "a/b", peer: { name: "c" } })).toThrow(/invalid interface name/);
    expect(() => encodeVethCreate({ name: "x".repeat(16), peer: { name: "c" } })).toThrow(/invalid interface name/);
    expect(() => encodeLinkChange(3, { address: "zz:00:00:00:00:00" })).toThrow(/invalid MAC/);
  });
});

describe("generic netlink", () => {
  test("CTRL_CMD_GETFAMILY for netdev", () => {
    const msg = encodeMessage({ type: GENL_ID_CTRL, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 1, payload: encodeGetFamily("netdev") });
    expect(msg).toEqual(
      hex(`20000000 1000 0500 01000000 00000000
           03 02 0000
           0b00 0200 6e6574646576 00 00`),
    );
  });

  test("netdev QUEUE_CREATE {ifindex 9, type rx, lease {ifindex 2, queue {id 15, type rx}}}", () => {
    const payload = genlPayload(NETDEV_CMD["queue-create"], 1, queueCreateAttrs({ ifindex: 9, type: "rx", lease: { ifindex: 2, queue: { id: 15, type: "rx" } } }));
    const msg = encodeMessage({ type: 0x14, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 1, payload });
    expect(NETDEV_CMD["queue-create"]).toBe(16);
    expect(msg).toEqual(
      hex(`44000000 1400 0500 01000000 00000000
           10 01 0000
           0800 0200 09000000
           0800 0300 00000000
           2000 0880
             0800 0100 02000000
             1400 0280
               0800 0100 0f000000
               0800 0300 00000000`),
    );
  });

  test("a lease netns-id is an s32 inside the lease nest", () => {
    const attrs = queueCreateAttrs({ ifindex: 9, type: "rx", lease: { ifindex: 2, queue: { id: 1, type: "rx" }, netnsId: 3 } });
    expect(encodeAttrs(attrs).subarray(16)).toEqual(
      hex(`2800 0880
             0800 0100 02000000
             1400 0280
               0800 0100 01000000
               0800 0300 00000000
             0800 0300 03000000`),
    );
  });
});
