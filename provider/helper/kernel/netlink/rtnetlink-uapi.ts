// rtnetlink UAPI numbers the link operations use.
//
// Line numbers refer to the 6.1 UAPI headers installed here under /usr/include/linux
// (linux-libc-dev 6.1); these enums only ever grow at the end, so the values hold on
// 6.18. netkit (6.7+) is absent from those headers: its block is cited from upstream
// include/uapi/linux/if_link.h.

// rtnetlink.h l. 28-35, 138-142
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWNSID = 88;
export const RTM_GETNSID = 90;

/** struct ifinfomsg {u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change;} (rtnetlink.h l. 557) */
export const IFINFOMSG_LEN = 16;
/** struct rtgenmsg {u8 family;} (rtnetlink.h l. 544), NLMSG_ALIGNed to 4 before attributes. */
export const RTGENMSG_LEN = 4;

// rtnetlink.h l. 816: IFLA_EXT_MASK bits
export const RTEXT_FILTER_SKIP_STATS = 1 << 3;

// if.h (net_device_flags) l. 82-101
export const IFF_UP = 1 << 0;
export const IFF_RUNNING = 1 << 6;
export const IFF_LOWER_UP = 1 << 16;

// if_link.h l. 297-362: enum IFLA_* (values counted from IFLA_UNSPEC = 0)
export const IFLA_ADDRESS = 1;
export const IFLA_BROADCAST = 2;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINK = 5;
export const IFLA_MASTER = 10;
export const IFLA_TXQLEN = 13;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKINFO = 18;
export const IFLA_NET_NS_FD = 28;
export const IFLA_EXT_MASK = 29;
export const IFLA_NUM_TX_QUEUES = 31;
export const IFLA_NUM_RX_QUEUES = 32;
export const IFLA_LINK_NETNSID = 37;
export const IFLA_XDP = 43;
export const IFLA_MIN_MTU = 50;
export const IFLA_MAX_MTU = 51;
export const IFLA_PERM_ADDRESS = 54;

// if_link.h l. 575-576: enum IFLA_INFO_*
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const IFLA_INFO_SLAVE_KIND = 4;

// veth.h l. 6-7: the peer's struct ifinfomsg + IFLA_* attributes
export const VETH_INFO_PEER = 1;

// if_link.h l. 1299-1314: IFLA_XDP nest and XDP_ATTACHED_*
export const IFLA_XDP_FD = 1;
export const IFLA_XDP_ATTACHED = 2;
export const IFLA_XDP_PROG_ID = 4;
export const IFLA_XDP_DRV_PROG_ID = 5;
export const IFLA_XDP_SKB_PROG_ID = 6;
export const IFLA_XDP_HW_PROG_ID = 7;
export const XDP_ATTACHED = ["none", "drv", "skb", "hw", "multi"] as const;
export type XdpAttached = (typeof XDP_ATTACHED)[number];

// if.h: RFC 2863 operstates (IF_OPER_*), indexed by value
export const OPERSTATES = ["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"] as const;

// net_namespace.h l. 14-20: enum NETNSA_*
export const NETNSA_NSID = 1;
export const NETNSA_FD = 3;
export const NETNSA_NSID_NOT_ASSIGNED = -1;

// --- netkit (drivers/net/netkit.c), upstream include/uapi/linux/if_link.h ------------------
// enum netkit_action / netkit_mode (6.7), netkit_scrub (6.13), netkit_pairing (7.1: hunk
// "@@ -1296,6 +1296,11 @@ enum netkit_mode" of "netkit: Add single device mode"), then the
// IFLA_NETKIT_* enum (it ends just before l. 1322 in a 6.14-era header; PAIRING was appended
// by the same patch, hunk "@@ -1320,6 +1325,7 @@"). Values are positions from UNSPEC = 0.
export const NETKIT_PASS = 0;
export const NETKIT_DROP = 2;
export const NETKIT_L2 = 0;
export const NETKIT_L3 = 1;
export const NETKIT_SCRUB_NONE = 0;
export const NETKIT_SCRUB_DEFAULT = 1;
export const NETKIT_DEVICE_PAIR = 0;
export const NETKIT_DEVICE_SINGLE = 1;

export const IFLA_NETKIT_PEER_INFO = 1; // struct ifinfomsg + the peer's IFLA_* attributes
export const IFLA_NETKIT_PRIMARY = 2; // u8, read-only (NLA_REJECT on input)
export const IFLA_NETKIT_POLICY = 3; // u32 NETKIT_PASS | NETKIT_DROP
export const IFLA_NETKIT_PEER_POLICY = 4; // u32
export const IFLA_NETKIT_MODE = 5; // u32 NETKIT_L2 | NETKIT_L3 (default L3)
export const IFLA_NETKIT_SCRUB = 6; // u32, 6.13
export const IFLA_NETKIT_PEER_SCRUB = 7; // u32, 6.13
export const IFLA_NETKIT_HEADROOM = 8; // u16, 6.14
export const IFLA_NETKIT_TAILROOM = 9; // u16, 6.14
export const IFLA_NETKIT_PAIRING = 10; // u32 NETKIT_DEVICE_PAIR | NETKIT_DEVICE_SINGLE, 7.1

/**
 * IFLA_NETKIT_LOWERDEV of the never-upstreamed proof of concept shown at LSF/MM/BPF 2025
 * ("netkit bound to NIC queues", `ip link add type netkit lower DEV 14 15`): payload
 * struct { u32 ifindex; u32 queue_id_from; u32 queue_id_to; }. Its attribute number is
 * unknown: the PoC patch was never posted where we could read it (searched the kernel
 * trees and mailing-list archives available to us), so callers must pass the number
 * their PoC kernel uses. Do not guess 10 (the next free number when the PoC was shown):
 * upstream gave 10 to IFLA_NETKIT_PAIRING, so a 7.1 kernel would take the struct's first
 * word for a pairing value.
 */
export const NETKIT_LOWERDEV_POC_LEN = 12;
