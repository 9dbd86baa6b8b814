// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * l2fwd: the uplink's XDP switch. A frame whose <vlan, destination MAC> is in the FDB goes
 * straight to the VM's device (bpf_redirect_map through the ports devmap, so a devmap
 * program can run the VM's ingress ACL on the way), with its 802.1Q tag popped. Anything
 * the FDB does not know, and every broadcast/multicast frame, is left to the kernel stack.
 *
 * QinQ (an 802.1ad outer tag, or two stacked 802.1Q tags) is passed to the stack: the FDB
 * is keyed by one VID, and guessing which of two tags a VM owns would let a frame with a
 * crafted inner tag reach the wrong VM.
 */
#include "datapath.h"
#include "fdb_maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";


HVNET_STATS_MAP;

/* Removes the 802.1Q tag that follows the MAC addresses: the addresses move 4 bytes up
 * over the tag, then the head moves with them. */
static __always_inline int pop_vlan(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 macs[3];

	if (data + ETH_HLEN + sizeof(struct vlan_tag) > end)
		return -1;
	__builtin_memcpy(macs, data, sizeof(macs));
	__builtin_memcpy(data + sizeof(struct vlan_tag), macs, sizeof(macs));
	return bpf_xdp_adjust_head(ctx, (int)sizeof(struct vlan_tag));
}

SEC("xdp")
int l2fwd(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 len = end - data;
	struct ethhdr *eth = data;
	struct hvnet_fdb_key key = {};
	struct hvnet_fdb_value *dst;
	int tagged = 0;

	if ((void *)(eth + 1) > end) {
		count(&stats, HVNET_CNT_DROP_MALFORMED, len);
		return XDP_DROP;
	}
	if (eth->h_proto == ETH_P_8021AD_BE) {
		count(&stats, HVNET_CNT_PASS_QINQ, len);
		return XDP_PASS;
	}
	if (eth->h_proto == ETH_P_8021Q_BE) {
		struct vlan_tag *tag = (void *)(eth + 1);

		if ((void *)(tag + 1) > end) {
			count(&stats, HVNET_CNT_DROP_MALFORMED, len);
			return XDP_DROP;
		}
		if (tag->encap_proto == ETH_P_8021Q_BE || tag->encap_proto == ETH_P_8021AD_BE) {
			count(&stats, HVNET_CNT_PASS_QINQ, len);
			return XDP_PASS;
		}
		/* VID 0 is a priority tag: the frame belongs to the untagged FDB (VLAN 0). */
		key.vlan = bpf_ntohs(tag->tci) & VLAN_VID_MASK;
		tagged = 1;
	}
	if (is_group_mac(eth->h_dest)) {
		count(&stats, HVNET_CNT_PASS_BCAST_MCAST, len);
		return XDP_PASS;
	}
	__builtin_memcpy(key.mac, eth->h_dest, ETH_ALEN);
	dst = bpf_map_lookup_elem(&fdb, &key);
	if (!dst) {
		count(&stats, HVNET_CNT_PASS_UNKNOWN, len);
		return XDP_PASS;
	}
	/* bpf_redirect_map does the devmap lookup itself: with flags 0 a missing port returns
	 * XDP_ABORTED, which doubles as the "is the port there" check without a second lookup. */
	if (bpf_redirect_map(&ports, dst->ifindex, 0) != XDP_REDIRECT) {
		count(&stats, HVNET_CNT_DROP_NO_PORT, len);
		return XDP_DROP;
	}
	if (tagged && !(dst->flags & HVNET_FDB_F_KEEP_TAG)) {
		if (pop_vlan(ctx)) {
			count(&stats, HVNET_CNT_DROP_ADJUST, len);
			return XDP_DROP;
		}
		len -= sizeof(struct vlan_tag);
	}
	count(&stats, HVNET_CNT_REDIRECT, len);
	return XDP_REDIRECT;
}
