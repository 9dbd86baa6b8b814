// The attribute an extended ack points at, by name: the offset the kernel reports is
// walked down the request's nests, through a peer's ifinfomsg and the nest a sibling's
// kind decides.
import type { AttrSpace } from "../../provider/helper/kernel/netlink/attr-names";
import { NLM_F_ACK, NLM_F_REQUEST, NetlinkError, attrAtOffset, encodeMessage } from "../../provider/helper/kernel/netlink/codec";
import { encodeVethCreate } from "../../provider/helper/kernel/netlink/rtnetlink-link";
import { routeAttrSpace } from "../../provider/helper/kernel/netlink/rtnetlink-attr-names";
import { IFLA_INFO_DATA, IFLA_LINKINFO, IFLA_MTU, RTM_NEWLINK, RTM_NEWNSID, VETH_INFO_PEER } from "../../provider/helper/kernel/netlink/rtnetlink-uapi";

const veth = encodeVethCreate({ name: "v0", peer: { name: "v1", mtu: 9000 } });
const message = encodeMessage({ type: veth.type, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 1, payload: veth.payload });
const link = routeAttrSpace(RTM_NEWLINK)!;
/** Where the attribute with this type path starts in the message. */
const offsetOf = (path: number[]) =>
  [...Array(message.length).keys()].find((o) => {
    const at = attrAtOffset(message, o, veth.headerLen);
    return at?.map((l) => l.type).join() === path.join() && at[at.length - 1].offset === o;
  })!;
const levels = (offset: number, space: AttrSpace | undefined) => attrAtOffset(message, offset, veth.headerLen, space)?.map(({ type, name }) => ({ type, name }));

test("a veth peer's MTU: through the peer's ifinfomsg into its own IFLA_* attributes", () => {
  const offset = offsetOf([IFLA_LINKINFO, IFLA_INFO_DATA, VETH_INFO_PEER, IFLA_MTU]);
  expect(levels(offset, link)).toEqual([
    { type: IFLA_LINKINFO, name: "IFLA_LINKINFO" },
    { type: IFLA_INFO_DATA, name: "IFLA_INFO_DATA" },
    { type: VETH_INFO_PEER, name: "VETH_INFO_PEER" },
    { type: IFLA_MTU, name: "IFLA_MTU" },
  ]);
  expect(attrAtOffset(message, offset, veth.headerLen, link)?.map((l) => l.offset)).toEqual([
    offsetOf([IFLA_LINKINFO]),
    offsetOf([IFLA_LINKINFO, IFLA_INFO_DATA]),
    offsetOf([IFLA_LINKINFO, IFLA_INFO_DATA, VETH_INFO_PEER]),
    offset,
  ]);
});

test("an attribute of a space the request does not belong to has no name, only its type", () => {
  const offset = offsetOf([IFLA_LINKINFO]);
  expect(levels(offset, routeAttrSpace(RTM_NEWNSID)!)).toEqual([{ type: IFLA_LINKINFO }]);
  expect(levels(offset, undefined)).toEqual([{ type: IFLA_LINKINFO }]);
  expect(levels(offset, link)).toEqual([{ type: IFLA_LINKINFO, name: "IFLA_LINKINFO" }]);
});

test("an offset outside the request's attributes finds nothing", () => {
  expect(attrAtOffset(message, message.length, veth.headerLen, link)).toBeUndefined();
  expect(attrAtOffset(message, message.length + 100, veth.headerLen, link)).toBeUndefined();
  // inside the ifinfomsg, before the first attribute
  expect(attrAtOffset(message, 20, veth.headerLen, link)).toBeUndefined();
});

test("an offset inside an attribute ends at the attribute holding it, and the error tells it by number", () => {
  const mtu = offsetOf([IFLA_LINKINFO, IFLA_INFO_DATA, VETH_INFO_PEER, IFLA_MTU]);
  const inside = attrAtOffset(message, mtu + 2, veth.headerLen, link);
  expect(inside?.map((l) => l.name)).toEqual(["IFLA_LINKINFO", "IFLA_INFO_DATA", "VETH_INFO_PEER", "IFLA_MTU"]);
  expect(new NetlinkError("op", 22, { offset: mtu + 2 }, undefined, inside).attribute).toBe(`18/2/1/4 at offset ${mtu + 2}`);
  const at = attrAtOffset(message, mtu, veth.headerLen, link);
  expect(new NetlinkError("op", 22, { offset: mtu }, undefined, at).attribute).toBe("IFLA_LINKINFO > IFLA_INFO_DATA > VETH_INFO_PEER > IFLA_MTU");
});
