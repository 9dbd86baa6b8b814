// The attribute an extended ack points at, by name: the offset the kernel reports is
// walked down the request's nests, through a peer's ifinfomsg and the nest a sibling's
// kind decides.
import { attrNamesAtOffset } from "../../provider/helper/kernel/netlink/attr-names";
import { NLM_F_ACK, NLM_F_REQUEST, attrPathAtOffset, encodeMessage } from "../../provider/helper/kernel/netlink/codec";
import { encodeVethCreate } from "../../provider/helper/kernel/netlink/rtnetlink-link";
import { routeAttrSpace } from "../../provider/helper/kernel/netlink/rtnetlink-attr-names";
import { IFLA_INFO_DATA, IFLA_LINKINFO, IFLA_MTU, RTM_NEWLINK, RTM_NEWNSID, VETH_INFO_PEER } from "../../provider/helper/kernel/netlink/rtnetlink-uapi";

const veth = encodeVethCreate({ name: "v0", peer: { name: "v1", mtu: 9000 } });
const message = encodeMessage({ type: veth.type, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 1, payload: veth.payload });
/** Where the attribute with this type path starts in the message. */
const offsetOf = (path: number[]) =>
  [...Array(message.length).keys()].find((o) => attrPathAtOffset(message, o, veth.headerLen)?.join() === path.join())!;

test("a veth peer's MTU: through the peer's ifinfomsg into its own IFLA_* attributes", () => {
  const offset = offsetOf([IFLA_LINKINFO, IFLA_INFO_DATA, VETH_INFO_PEER, IFLA_MTU]);
  expect(attrNamesAtOffset(message, offset, veth.headerLen, routeAttrSpace(RTM_NEWLINK)!)).toEqual([
    "IFLA_LINKINFO",
    "IFLA_INFO_DATA",
    "VETH_INFO_PEER",
    "IFLA_MTU",
  ]);
});

test("an attribute of a space the request does not belong to has no name", () => {
  const offset = offsetOf([IFLA_LINKINFO]);
  expect(attrNamesAtOffset(message, offset, veth.headerLen, routeAttrSpace(RTM_NEWNSID)!)).toBeUndefined();
  expect(attrNamesAtOffset(message, offset, veth.headerLen, routeAttrSpace(RTM_NEWLINK)!)).toEqual(["IFLA_LINKINFO"]);
});
