// The datapath's counters by name, in the order of the C enum hvnet_counter_index: the
// helper reads them from the maps, the operator tools (hvnet stats, metrics) print them.
/** enum hvnet_counter_index, in index order (the BTF test compares names and values). */
export const COUNTERS = [
  "redirect",
  "pass_unknown",
  "pass_bcast_mcast",
  "pass_qinq",
  "drop_malformed",
  "drop_no_port",
  "drop_adjust",
  "drop_no_config",
  "drop_vlan_tagged",
  "drop_spoof_mac",
  "drop_spoof_ip",
  "drop_spoof_arp",
  "drop_spoof_nd",
  "drop_ethertype",
  "drop_acl",
  "acl_accept",
] as const;

export type CounterName = (typeof COUNTERS)[number];
