// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * classic_fwd: the yardstick of the datapath benchmark, the minimal <vlan, mac> forwarder
 * as commonly written: FDB hash lookup, an explicit devmap lookup to check the port, then
 * bpf_redirect_map. No counters, no VLAN rewrite, no group-address check. l2fwd must be at
 * least as fast and vm-egress at least 0.85 times as fast (scripts/bench-datapath.ts).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "hvnet.h"
#include "fdb_maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";


SEC("xdp")
int classic_fwd(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct hvnet_fdb_key key = {};
	struct hvnet_fdb_value *dst;

	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	if (eth->h_proto == bpf_htons(0x8100)) {
		__be16 *tci = (void *)(eth + 1);

		if ((void *)(tci + 2) > end)
			return XDP_DROP;
		key.vlan = bpf_ntohs(*tci) & 0x0fff;
	}
	__builtin_memcpy(key.mac, eth->h_dest, ETH_ALEN);
	dst = bpf_map_lookup_elem(&fdb, &key);
	if (!dst)
		return XDP_PASS;
	if (!bpf_map_lookup_elem(&ports, &dst->ifindex))
		return XDP_PASS;
	return bpf_redirect_map(&ports, dst->ifindex, 0);
}
