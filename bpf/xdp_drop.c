// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * xdp_drop: the benchmark's sink. Drops every frame and counts it, so a benchmark can
 * prove that every frame it sent reached the far side of the veth (and not the stack).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "hvnet.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* One slot: HVNET_CNT_REDIRECT is reused as "frames received". */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hvnet_counter);
} sink_stats SEC(".maps");

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct hvnet_counter *c = bpf_map_lookup_elem(&sink_stats, &zero);

	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	return XDP_DROP;
}
