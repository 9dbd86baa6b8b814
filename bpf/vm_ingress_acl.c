// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * vm-ingress-acl: a devmap program (runs on XDP_REDIRECT, after l2fwd chose the VM's port
 * and before the frame reaches it). One loaded program serves every VM: the ACL is looked
 * up by the device the frame is going to (ctx->egress_ifindex), so adding a VM writes one
 * map entry instead of loading a program.
 *
 * A port that has this program but no ACL entry drops everything (fail closed): the
 * helper writes the ACL before it points the devmap entry at the program. Frames that are
 * neither IPv4 nor IPv6 (ARP) pass: the ACL speaks of IP; IP frames with truncated
 * headers are dropped.
 */
#include "datapath.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HVNET_INGRESS_ACL_MAX_ENTRIES);
	/* Entries are ~28 KiB: allocate them when written, not all up front. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32); /* the VM device's ifindex */
	__type(value, struct hvnet_acl);
} ingress_acl SEC(".maps");

HVNET_STATS_MAP;

SEC("xdp/devmap")
int vm_ingress_acl(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 len = end - data;
	struct ethhdr *eth = data;
	__u32 ifindex = ctx->egress_ifindex;
	struct hvnet_acl *rules;
	struct flow f = {};
	void *l3, *l4;
	__be16 proto;
	int ret;

	rules = bpf_map_lookup_elem(&ingress_acl, &ifindex);
	if (!rules) {
		count(&stats, HVNET_CNT_DROP_NO_CONFIG, len);
		return XDP_DROP;
	}
	if ((void *)(eth + 1) > end) {
		count(&stats, HVNET_CNT_DROP_MALFORMED, len);
		return XDP_DROP;
	}
	l3 = eth + 1;
	proto = eth->h_proto;
	/* A trunk port (FDB entry with the keep-tag flag) gets tagged frames: judge what is
	 * inside the one tag l2fwd lets through (it passes QinQ to the stack). */
	if (proto == ETH_P_8021Q_BE) {
		struct vlan_tag *tag = l3;

		if ((void *)(tag + 1) > end) {
			count(&stats, HVNET_CNT_DROP_MALFORMED, len);
			return XDP_DROP;
		}
		proto = tag->encap_proto;
		l3 = tag + 1;
	}
	if (proto == bpf_htons(ETH_P_IP))
		ret = parse_ipv4(&f, l3, end, &l4);
	else if (proto == bpf_htons(ETH_P_IPV6))
		ret = parse_ipv6(&f, l3, end, &l4);
	else {
		count(&stats, HVNET_CNT_ACL_ACCEPT, len);
		return XDP_PASS;
	}
	if (ret != PARSE_OK) {
		count(&stats, HVNET_CNT_DROP_MALFORMED, len);
		return XDP_DROP;
	}
	if (hvnet_acl_decide(rules, &f) != HVNET_ACL_PASS) {
		count(&stats, HVNET_CNT_DROP_ACL, len);
		return XDP_DROP;
	}
	count(&stats, HVNET_CNT_ACL_ACCEPT, len);
	return XDP_PASS;
}
