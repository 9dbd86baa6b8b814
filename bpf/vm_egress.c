// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * vm-egress: runs on a VM's tap, on every frame the VM sends. The VM may only speak as
 * itself: its source MAC, its IPv4/IPv6 addresses, ARP and neighbour discovery that claim
 * nothing else. The egress ACL then decides, the VM's VLAN tag is pushed, and the frame is
 * redirected to the uplink (or to one of two bond legs by an L3+L4 hash). Broadcast and
 * multicast frames that pass validation go to the kernel stack.
 *
 * Not allowed, each dropped and counted: a frame that already carries a VLAN tag (VLAN
 * hopping), an ethertype other than IPv4/IPv6/ARP, IPv4 from 0.0.0.0 (DHCP clients need
 * the address configured statically), router advertisements and redirects (a VM is not a
 * router). Validated ARP and NDP (RS, NS, NA, MLDv2 reports) bypass the ACL: without them
 * no address works, and their claims were checked above.
 */
#include <linux/icmpv6.h>

#include "datapath.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hvnet_vm_config);
} vm_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hvnet_acl);
} acl SEC(".maps");

HVNET_STATS_MAP;

#define ETH_P_ARP_BE bpf_htons(ETH_P_ARP)
#define ETH_P_IP_BE bpf_htons(ETH_P_IP)
#define ETH_P_IPV6_BE bpf_htons(ETH_P_IPV6)

#define ND_ROUTER_SOLICIT 133
#define ND_ROUTER_ADVERT 134
#define ND_NEIGHBOR_SOLICIT 135
#define ND_NEIGHBOR_ADVERT 136
#define ND_REDIRECT 137
#define MLD2_REPORT 143
#define ND_OPT_SOURCE_LL 1
#define ND_OPT_TARGET_LL 2
#define ND_MAX_OPTIONS 3

/* Outcome of validation before the ACL. */
enum verdict {
	V_OK = 0,         /* continue to the ACL */
	V_OK_NO_ACL = 1,  /* validated control traffic (ARP, NDP) */
	V_MALFORMED = 2,
	V_SPOOF_IP = 3,
	V_SPOOF_ARP = 4,
	V_SPOOF_ND = 5,
	V_ETHERTYPE = 6,
};

static __always_inline int ipv4_is_vm(const struct hvnet_vm_config *cfg, __u32 addr_be)
{
	__u32 n = cfg->ipv4_count;

	for (int i = 0; i < HVNET_VM_MAX_IPV4; i++) {
		if (i >= n)
			break;
		if (cfg->ipv4_be[i] == addr_be)
			return 1;
	}
	return 0;
}

static __always_inline int ipv6_is_vm(const struct hvnet_vm_config *cfg, const __u32 *addr)
{
	__u32 n = cfg->ipv6_count;

	for (int i = 0; i < HVNET_VM_MAX_IPV6; i++) {
		if (i >= n)
			break;
		if (cfg->ipv6_be[i][0] == addr[0] && cfg->ipv6_be[i][1] == addr[1] &&
		    cfg->ipv6_be[i][2] == addr[2] && cfg->ipv6_be[i][3] == addr[3])
			return 1;
	}
	return 0;
}

static __always_inline int check_arp(const struct hvnet_vm_config *cfg, void *l3, void *end)
{
	struct arp_eth_ipv4 *arp = l3;
	__u32 spa;

	if ((void *)(arp + 1) > end)
		return V_MALFORMED;
	if (arp->htype != bpf_htons(1) || arp->ptype != ETH_P_IP_BE || arp->hlen != 6 ||
	    arp->plen != 4)
		return V_SPOOF_ARP; /* not Ethernet/IPv4 ARP: nothing a VM needs to send */
	if (!mac_equal(arp->sha, cfg->mac))
		return V_SPOOF_ARP;
	__builtin_memcpy(&spa, arp->spa, 4);
	/* 0.0.0.0 is an RFC 5227 probe: a request that claims no address. */
	if (spa == 0 && arp->oper == bpf_htons(1))
		return V_OK_NO_ACL;
	return ipv4_is_vm(cfg, spa) ? V_OK_NO_ACL : V_SPOOF_ARP;
}

/* The link-layer address options of NS/NA must name the VM's MAC. */
static __always_inline int check_nd_options(const struct hvnet_vm_config *cfg, __u8 *opt,
					    void *end)
{
	for (int i = 0; i < ND_MAX_OPTIONS; i++) {
		if ((void *)(opt + 2) > end)
			return V_OK_NO_ACL; /* no more options */
		if (opt[1] == 0)
			return V_MALFORMED; /* RFC 4861 4.6: length 0 is invalid */
		if (opt[0] == ND_OPT_SOURCE_LL || opt[0] == ND_OPT_TARGET_LL) {
			if ((void *)(opt + 8) > end)
				return V_MALFORMED;
			if (!mac_equal(opt + 2, cfg->mac))
				return V_SPOOF_ND;
		}
		opt += opt[1] * 8;
	}
	return V_OK_NO_ACL;
}

static __always_inline int check_icmpv6(const struct hvnet_vm_config *cfg, int src_unspec,
					__u8 *icmp, void *end)
{
	__u8 type;

	if ((void *)(icmp + 4) > end)
		return V_MALFORMED;
	type = icmp[0];
	switch (type) {
	case ND_ROUTER_ADVERT:
	case ND_REDIRECT:
		return V_SPOOF_ND;
	case ND_ROUTER_SOLICIT:
	case MLD2_REPORT:
		return V_OK_NO_ACL;
	case ND_NEIGHBOR_SOLICIT:
		if ((void *)(icmp + 24) > end)
			return V_MALFORMED;
		/* A DAD probe (source ::) must not carry a source link-layer option, and
		 * otherwise any option must name the VM. */
		if (src_unspec && (void *)(icmp + 26) <= end && icmp[24] == ND_OPT_SOURCE_LL)
			return V_SPOOF_ND;
		return check_nd_options(cfg, icmp + 24, end);
	case ND_NEIGHBOR_ADVERT:
		if ((void *)(icmp + 24) > end)
			return V_MALFORMED;
		/* The target is the address being claimed: it must be the VM's own. */
		if (!ipv6_is_vm(cfg, (__u32 *)(icmp + 8)))
			return V_SPOOF_ND;
		return check_nd_options(cfg, icmp + 24, end);
	default:
		return src_unspec ? V_SPOOF_IP : V_OK;
	}
}

static __always_inline int check_ipv6(const struct hvnet_vm_config *cfg, struct flow *f,
				      void *l3, void *end)
{
	struct ipv6hdr *ip6 = l3;
	void *l4 = 0;
	int src_unspec;

	if (parse_ipv6(f, l3, end, &l4) != PARSE_OK)
		return V_MALFORMED;
	src_unspec = (f->src6_hi | f->src6_lo) == 0;
	if (!src_unspec && !ipv6_is_vm(cfg, ip6->saddr.in6_u.u6_addr32))
		return V_SPOOF_IP;
	if (f->proto == IPPROTO_ICMPV6)
		return check_icmpv6(cfg, src_unspec, l4, end);
	/* The unspecified source is allowed for DAD and MLD only (RFC 4862 5.4, RFC 3810 5.2.13). */
	return src_unspec ? V_SPOOF_IP : V_OK;
}

/* Adds the VM's 802.1Q tag: the head grows by 4 bytes and the MAC addresses move down. */
static __always_inline int push_vlan(struct xdp_md *ctx, __u16 vid)
{
	void *data, *end;
	__u32 macs[3];
	struct vlan_tag *tag;

	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct vlan_tag)))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + ETH_HLEN + sizeof(struct vlan_tag) > end)
		return -1;
	__builtin_memcpy(macs, data + sizeof(struct vlan_tag), sizeof(macs));
	__builtin_memcpy(data, macs, sizeof(macs));
	tag = data + 2 * ETH_ALEN;
	/* The original ethertype stays where it was, now right after the tag. */
	*(__be16 *)tag = ETH_P_8021Q_BE;
	*((__be16 *)tag + 1) = bpf_htons(vid & VLAN_VID_MASK);
	return 0;
}

/* Bond leg by an L3+L4 hash, so one flow stays on one leg (no reordering). */
static __always_inline __u32 pick_leg(const struct flow *f)
{
	__u64 h;

	if (f->family == 4)
		h = f->src4 ^ f->dst4;
	else
		h = f->src6_hi ^ f->src6_lo ^ f->dst6_hi ^ f->dst6_lo;
	h ^= ((__u64)f->sport << 16 | f->dport) ^ f->proto;
	h ^= h >> 32;
	h ^= h >> 16;
	h ^= h >> 8;
	h ^= h >> 4;
	h ^= h >> 2;
	h ^= h >> 1;
	return h & 1;
}

static __always_inline __u32 verdict_counter(int v)
{
	switch (v) {
	case V_SPOOF_IP:
		return HVNET_CNT_DROP_SPOOF_IP;
	case V_SPOOF_ARP:
		return HVNET_CNT_DROP_SPOOF_ARP;
	case V_SPOOF_ND:
		return HVNET_CNT_DROP_SPOOF_ND;
	case V_ETHERTYPE:
		return HVNET_CNT_DROP_ETHERTYPE;
	default:
		return HVNET_CNT_DROP_MALFORMED;
	}
}

SEC("xdp")
int vm_egress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 len = end - data;
	struct ethhdr *eth = data;
	struct hvnet_vm_config *cfg;
	struct flow f = {};
	__u32 zero = 0, ifindex;
	int v;

	cfg = bpf_map_lookup_elem(&vm_config, &zero);
	if (!cfg || !(cfg->flags & HVNET_VM_F_ENABLED)) {
		count(&stats, HVNET_CNT_DROP_NO_CONFIG, len);
		return XDP_DROP;
	}
	if ((void *)(eth + 1) > end) {
		count(&stats, HVNET_CNT_DROP_MALFORMED, len);
		return XDP_DROP;
	}
	if (eth->h_proto == ETH_P_8021Q_BE || eth->h_proto == ETH_P_8021AD_BE) {
		count(&stats, HVNET_CNT_DROP_VLAN_TAGGED, len);
		return XDP_DROP;
	}
	if (!mac_equal(eth->h_source, cfg->mac)) {
		count(&stats, HVNET_CNT_DROP_SPOOF_MAC, len);
		return XDP_DROP;
	}

	if (eth->h_proto == ETH_P_IP_BE) {
		void *l4;

		if (parse_ipv4(&f, eth + 1, end, &l4) != PARSE_OK)
			v = V_MALFORMED;
		else
			v = ipv4_is_vm(cfg, bpf_htonl(f.src4)) ? V_OK : V_SPOOF_IP;
	} else if (eth->h_proto == ETH_P_IPV6_BE) {
		v = check_ipv6(cfg, &f, eth + 1, end);
	} else if (eth->h_proto == ETH_P_ARP_BE) {
		v = check_arp(cfg, eth + 1, end);
	} else {
		v = V_ETHERTYPE;
	}
	if (v > V_OK_NO_ACL) {
		count(&stats, verdict_counter(v), len);
		return XDP_DROP;
	}
	if (v == V_OK) {
		struct hvnet_acl *rules = bpf_map_lookup_elem(&acl, &zero);

		if (!rules || hvnet_acl_decide(rules, &f) != HVNET_ACL_PASS) {
			count(&stats, HVNET_CNT_DROP_ACL, len);
			return XDP_DROP;
		}
	}
	if (is_group_mac(eth->h_dest)) {
		count(&stats, HVNET_CNT_PASS_BCAST_MCAST, len);
		return XDP_PASS;
	}

	if (cfg->bond_count == 0)
		ifindex = cfg->uplink_ifindex;
	else if (cfg->bond_count == 1 || f.family == 0)
		ifindex = cfg->bond_ifindex[0];
	else
		ifindex = cfg->bond_ifindex[pick_leg(&f)];

	if (cfg->vlan) {
		if (push_vlan(ctx, cfg->vlan)) {
			count(&stats, HVNET_CNT_DROP_ADJUST, len);
			return XDP_DROP;
		}
		len += sizeof(struct vlan_tag);
	}
	count(&stats, HVNET_CNT_REDIRECT, len);
	return bpf_redirect(ifindex, 0);
}
