// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * pass: hands every frame to the kernel stack. A placeholder for a device that must have
 * an XDP program without filtering anything; a veth needs one on the receiving end before
 * frames redirected to its peer are accepted (KERNEL.md).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
