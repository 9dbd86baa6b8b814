/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The forwarding tables of an L2 switch attachment: the <vlan, mac> FDB and the ports
 * devmap it redirects through. Defined once for l2fwd and for the benchmark's classic
 * forwarder, so both are timed over the very same tables (layouts in hvnet.h).
 */
#ifndef HVNET_FDB_MAPS_H
#define HVNET_FDB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "hvnet.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HVNET_FDB_MAX_ENTRIES);
	__type(key, struct hvnet_fdb_key);
	__type(value, struct hvnet_fdb_value);
} fdb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, HVNET_PORTS_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} ports SEC(".maps");

#endif
