// Capacities of the datapath maps and arrays: the #defines of bpf/include/hvnet.h
// (test/unit/bpf-layout-btf compares the map capacities against the built objects).
// HVNET_ACL_MAX_RULES is the users' limit too, so it lives with the ACL input reader:
// MAX_ACL_RULES in provider/common/args/common.ts.

export const FDB_MAX_ENTRIES = 65536;
export const PORTS_MAX_ENTRIES = 4096;
export const INGRESS_ACL_MAX_ENTRIES = 4096;
export const VM_MAX_IPV4 = 8;
export const VM_MAX_IPV6 = 8;
/** Intervals per classifier field of struct hvnet_acl (the C search runs log2 of it steps). */
export const ACL_SLOTS = 256;
