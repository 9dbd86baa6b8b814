/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Every map key/value layout and counter index of the hvnet XDP datapath.
 *
 * provider/helper/datapath/ mirrors this file byte for byte; a unit test reads the
 * objects' BTF (bpftool btf dump) and fails when the two drift. Change both together.
 *
 * Layouts use explicit padding and only fixed-width types so that the C compiler and the
 * TypeScript encoder agree without guessing at alignment. Multi-byte integers are host
 * order (little endian on every hypervisor we target) unless the field name says "be".
 */
#ifndef HVNET_H
#define HVNET_H

#include <linux/types.h>

/* ---------------------------------------------------------------- sizes */

#define HVNET_FDB_MAX_ENTRIES 65536
#define HVNET_PORTS_MAX_ENTRIES 4096
#define HVNET_INGRESS_ACL_MAX_ENTRIES 4096
#define HVNET_VM_MAX_IPV4 8
#define HVNET_VM_MAX_IPV6 8
#define HVNET_ACL_MAX_RULES 64
/* Interval slots per classifier field: 64 rules have at most 128 range boundaries, plus
 * the interval that starts at 0; rounded up to a power of two so the binary search is a
 * fixed 8 steps. */
#define HVNET_ACL_SLOTS 256
#define HVNET_ACL_SEARCH_STEPS 8

/* ------------------------------------------------------------------ FDB */

/* fdb: HASH <vlan, destination MAC> -> where the frame goes. vlan 0 = untagged (or
 * priority-tagged, VID 0). */
struct hvnet_fdb_key {
	__u16 vlan;
	__u8 mac[6];
};

/* Deliver the frame with its 802.1Q tag kept (a trunk port) instead of popping it. */
#define HVNET_FDB_F_KEEP_TAG 0x1u

struct hvnet_fdb_value {
	__u32 ifindex; /* must also be a key of the ports devmap */
	__u32 flags;   /* HVNET_FDB_F_* */
};

/* ports: DEVMAP_HASH ifindex -> struct bpf_devmap_val {ifindex, prog fd/id} (linux/bpf.h),
 * 8-byte values so that an entry can carry a devmap program (the VM ingress ACL). */

/* ----------------------------------------------------------- VM config */

/* The entry is valid. An all-zero (never written) entry makes vm-egress drop everything:
 * a tap whose policy was not written yet must not leak traffic. */
#define HVNET_VM_F_ENABLED 0x1u

struct hvnet_vm_config {
	__u8 mac[6];             /* the only source MAC the VM may use */
	__u16 vlan;              /* VID pushed toward the uplink; 0 = send untagged */
	__u32 uplink_ifindex;    /* target when bond_count == 0 */
	__u32 bond_ifindex[2];   /* bond legs chosen by an L3+L4 hash */
	__u8 bond_count;         /* 0: uplink, 1: bond_ifindex[0], 2: hash over both */
	__u8 ipv4_count;         /* valid entries of ipv4[] */
	__u8 ipv6_count;         /* valid entries of ipv6[] */
	__u8 flags;              /* HVNET_VM_F_* */
	__u32 ipv4_be[HVNET_VM_MAX_IPV4];    /* network byte order */
	__u32 ipv6_be[HVNET_VM_MAX_IPV6][4]; /* network byte order */
};

/* ------------------------------------------------------------------ ACL */

#define HVNET_ACL_DROP 0
#define HVNET_ACL_PASS 1

/* A rule as the user wrote it. The datapath never reads these: it reads the classifier
 * tables compiled from them (below). They are kept in the map so the helper can read the
 * policy back (pulumi refresh) and recompile to check that the tables match. */
struct hvnet_acl_rule {
	__u8 family;       /* 0 = IPv4 and IPv6 (no prefixes allowed), 4, 6 */
	__u8 proto;        /* 0 = any, else IP protocol / IPv6 next header */
	__u8 action;       /* HVNET_ACL_PASS / HVNET_ACL_DROP */
	__u8 src_len;      /* prefix length; 0 = any */
	__u8 dst_len;
	__u8 pad[3];
	__u16 sport_lo;    /* inclusive ranges; 0..65535 = any (also matches portless packets) */
	__u16 sport_hi;
	__u16 dport_lo;
	__u16 dport_hi;
	__u8 src[16];      /* IPv4 in the first 4 bytes, network byte order */
	__u8 dst[16];
};

/*
 * One classifier field: the value space cut into intervals at every rule boundary.
 * bound[i] is where interval i starts (ascending; bound[0] = 0; unused slots repeat the
 * maximum value and the last interval's bits). bits[i] has bit r set when rule r matches
 * every value of interval i. Lookup = the last i with bound[i] <= value, found by a
 * branch-free binary search of HVNET_ACL_SEARCH_STEPS steps.
 */
struct hvnet_acl_field4 {
	__u32 bound[HVNET_ACL_SLOTS]; /* host order */
	__u64 bits[HVNET_ACL_SLOTS];
};

struct hvnet_acl_field6 {
	__u64 bound_hi[HVNET_ACL_SLOTS]; /* address bytes 0..7 as a big-endian number */
	__u64 bound_lo[HVNET_ACL_SLOTS]; /* bytes 8..15 */
	__u64 bits[HVNET_ACL_SLOTS];
};

struct hvnet_acl_field16 {
	__u16 bound[HVNET_ACL_SLOTS];
	__u64 bits[HVNET_ACL_SLOTS];
};

/*
 * An ordered ACL of up to 64 rules. A packet's candidate set is
 *   proto_bits[proto] & src & dst & (has ports ? sport & dport : portless_bits)
 * and the first (lowest-numbered) candidate decides: its bit in pass_bits. No candidate:
 * default_action. Cost is the same for 1 or 64 rules, which a linear scan cannot offer
 * within the benchmark budget (see BENCHMARKS.md).
 */
struct hvnet_acl {
	__u32 rule_count;
	__u8 default_action;  /* HVNET_ACL_PASS / HVNET_ACL_DROP */
	__u8 pad[3];
	__u64 pass_bits;      /* bit r: rule r passes */
	__u64 portless_bits;  /* rules without port ranges (they match packets with no ports) */
	__u64 proto_bits[256];
	struct hvnet_acl_field4 src4;
	struct hvnet_acl_field4 dst4;
	struct hvnet_acl_field6 src6;
	struct hvnet_acl_field6 dst6;
	struct hvnet_acl_field16 sport;
	struct hvnet_acl_field16 dport;
	struct hvnet_acl_rule rules[HVNET_ACL_MAX_RULES];
};

/* ------------------------------------------------------------- counters */

/* stats: PERCPU_ARRAY indexed by enum hvnet_counter. Every program counts each frame
 * exactly once, under the outcome it got. */
struct hvnet_counter {
	__u64 packets;
	__u64 bytes;
};

enum hvnet_counter_index {
	HVNET_CNT_REDIRECT = 0,         /* fast path: redirected (l2fwd, vm-egress) */
	HVNET_CNT_PASS_UNKNOWN = 1,     /* l2fwd: <vlan, dst MAC> not in the FDB */
	HVNET_CNT_PASS_BCAST_MCAST = 2, /* group destination MAC: left to the stack */
	HVNET_CNT_PASS_QINQ = 3,        /* 802.1ad or stacked 802.1Q: left to the stack */
	HVNET_CNT_DROP_MALFORMED = 4,   /* truncated Ethernet/VLAN/L3/L4 header */
	HVNET_CNT_DROP_NO_PORT = 5,     /* FDB target missing from the ports devmap */
	HVNET_CNT_DROP_ADJUST = 6,      /* bpf_xdp_adjust_head refused (no headroom) */
	HVNET_CNT_DROP_NO_CONFIG = 7,   /* vm-egress / ingress ACL: no policy written */
	HVNET_CNT_DROP_VLAN_TAGGED = 8, /* vm-egress: the VM sent a tagged frame */
	HVNET_CNT_DROP_SPOOF_MAC = 9,   /* vm-egress: source MAC is not the VM's */
	HVNET_CNT_DROP_SPOOF_IP = 10,   /* vm-egress: source IPv4/IPv6 is not the VM's */
	HVNET_CNT_DROP_SPOOF_ARP = 11,  /* vm-egress: ARP sender MAC/IP is not the VM's */
	HVNET_CNT_DROP_SPOOF_ND = 12,   /* vm-egress: NDP target/link-layer option not the VM's */
	HVNET_CNT_DROP_ETHERTYPE = 13,  /* vm-egress: neither IPv4, IPv6 nor ARP */
	HVNET_CNT_DROP_ACL = 14,        /* ACL rule or default said drop */
	HVNET_CNT_ACL_ACCEPT = 15,      /* ingress ACL: frame delivered to the VM */
	HVNET_CNT_MAX = 16,
};

#endif /* HVNET_H */
