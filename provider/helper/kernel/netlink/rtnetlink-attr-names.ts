// The attribute spaces of the rtnetlink requests hvnet sends (link and netns-id
// messages), named from the UAPI constants so no number is written twice.
import type { AttrSpace } from "./attr-names";
import { namesOf } from "./attr-names";
import * as U from "./rtnetlink-uapi";

const LINK_NESTED = ["IFLA_INFO_", "IFLA_XDP_", "IFLA_NETKIT_"];

const LINK: AttrSpace = {
  names: namesOf(U, "IFLA_", LINK_NESTED),
  nests: {
    [U.IFLA_LINKINFO]: () => LINKINFO,
    [U.IFLA_XDP]: () => XDP,
  },
};

/** A veth or netkit peer: struct ifinfomsg, then the peer's own IFLA_* attributes. */
const PEER: AttrSpace = { ...LINK, header: U.IFINFOMSG_LEN };

const VETH: AttrSpace = { names: namesOf(U, "VETH_INFO_"), nests: { [U.VETH_INFO_PEER]: () => PEER } };
const NETKIT: AttrSpace = { names: namesOf(U, "IFLA_NETKIT_"), nests: { [U.IFLA_NETKIT_PEER_INFO]: () => PEER } };
const KIND_DATA = new Map<string | undefined, AttrSpace>([
  ["veth", VETH],
  ["netkit", NETKIT],
]);

const LINKINFO: AttrSpace = {
  names: namesOf(U, "IFLA_INFO_"),
  nests: { [U.IFLA_INFO_DATA]: (siblings) => KIND_DATA.get(siblings.string(U.IFLA_INFO_KIND)) },
};

const XDP: AttrSpace = { names: namesOf(U, "IFLA_XDP_") };
const NETNS: AttrSpace = { names: namesOf(U, "NETNSA_") };

/** The attribute space of an rtnetlink request of message type `type`, if hvnet knows it. */
export function routeAttrSpace(type: number): AttrSpace | undefined {
  switch (type) {
    case U.RTM_NEWLINK:
    case U.RTM_DELLINK:
    case U.RTM_GETLINK:
      return LINK;
    case U.RTM_NEWNSID:
    case U.RTM_GETNSID:
      return NETNS;
    default:
      return undefined;
  }
}
