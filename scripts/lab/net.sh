# shellcheck shell=bash
# Network side of the lab: the address block, the management bridge in the root
# namespace, the switch and external namespaces, and each host's namespace and links.
#
# Every link gets addrgenmode none so the kernel adds no IPv6 link-local address: the
# lab owns only the IPv4 addresses it assigns inside 198.18.0.0/15.

subnet_in_use() {
  local k="$1" net
  for net in "198.18.$k.0/24" "198.19.$k.0/24"; do
    # "root" lists every route (local table included, so every address) inside net.
    if [[ -n "$(ip -4 -o route show table all root "$net")" ]]; then
      return 0
    fi
  done
  return 1
}

# choose_subnet: sets SUBNET_K. Keeps the one this lab had (stable addresses keep
# known_hosts valid across a repair), else starts at a hash of the prefix so that two
# labs made at once by different test workers rarely probe the same block.
choose_subnet() {
  local previous k crc off
  previous="$(state_get subnet)"
  if [[ "$previous" =~ ^[0-9]+$ ]] && ((previous >= LAB_K_BASE && previous < LAB_K_BASE + LAB_K_COUNT)) &&
    ! subnet_in_use "$previous"; then
    SUBNET_K="$previous"
    return 0
  fi
  read -r crc _ < <(printf '%s' "$PREFIX" | cksum)
  for ((off = 0; off < LAB_K_COUNT; off++)); do
    k=$((LAB_K_BASE + (crc + off) % LAB_K_COUNT))
    if ! subnet_in_use "$k"; then
      SUBNET_K="$k"
      return 0
    fi
  done
  die "no free /24 left in 198.18.0.0/15 for the lab"
}

net_make_switch() {
  ip netns add "$NS_SW"
  ip -n "$NS_SW" link set lo up
  ip -n "$NS_SW" link add "$BR_SW" type bridge
  ip -n "$NS_SW" link set "$BR_SW" addrgenmode none up

  ip netns add "$NS_EXT"
  ip -n "$NS_EXT" link set lo up
  ip link add ext0 netns "$NS_EXT" type veth peer name ext netns "$NS_SW"
  ip -n "$NS_EXT" link set ext0 addrgenmode none
  # No checksum offload at the "outside world": a veth would hand frames on with their
  # checksums unfinished, which a real wire never carries (a guest behind vm-egress and
  # l2fwd counted every such UDP datagram as InCsumErrors).
  ip netns exec "$NS_EXT" ethtool -K ext0 tx off >/dev/null
  ip -n "$NS_EXT" addr add "$(ext_addr)/24" dev ext0
  ip -n "$NS_EXT" link set ext0 up
  ip -n "$NS_SW" link set ext addrgenmode none master "$BR_SW" up
}

net_make_mgmt_bridge() {
  ip link add "$BR_MGMT" type bridge
  ip link set "$BR_MGMT" addrgenmode none
  ip addr add "$(mgmt_gw)/24" dev "$BR_MGMT"
  ip link set "$BR_MGMT" up
}

# net_make_host I: the host's namespace with lo, mgmt0 (bridged to the root namespace)
# and uplink0 (its "NIC", bridged in the switch namespace, no address: VMs use it).
net_make_host() {
  local i="$1" ns mlink
  ns="$(host_ns "$i")"
  mlink="$(host_mgmt_link "$i")"
  ip netns add "$ns"
  ip -n "$ns" link set lo up

  ip link add "$mlink" type veth peer name mgmt0 netns "$ns"
  ip link set "$mlink" addrgenmode none master "$BR_MGMT" up
  ip -n "$ns" link set mgmt0 addrgenmode none
  ip -n "$ns" addr add "$(host_addr "$i")/24" dev mgmt0
  ip -n "$ns" link set mgmt0 up

  # Four queues each way so the NIC has channels/queues to slice, like a real one.
  ip link add uplink0 netns "$ns" numtxqueues 4 numrxqueues 4 \
    type veth peer name "hv$i" netns "$NS_SW" numtxqueues 4 numrxqueues 4
  ip -n "$ns" link set uplink0 addrgenmode none up
  ip -n "$NS_SW" link set "hv$i" addrgenmode none master "$BR_SW" up
  # A veth delivers frames an XDP program redirects into it (vm-egress → uplink0) only
  # when its peer has GRO or an XDP program; a NIC's wire has no such condition.
  ip netns exec "$NS_SW" ethtool -K "hv$i" gro on >/dev/null
}

# Root-namespace links of this lab: the bridge and the host ends of the mgmt veths.
lab_root_links() {
  local path name
  for path in /sys/class/net/*; do
    name="${path##*/}"
    if [[ "$name" =~ ^"$PREFIX"-(mgmt|m[0-9]+)$ ]]; then
      printf '%s\n' "$name"
    fi
  done
}

net_teardown() {
  local link ns
  # Deleting a veth end removes its peer, so the root side goes first: then nothing
  # waits on the asynchronous cleanup of a deleted namespace.
  while read -r link; do
    [[ -n "$link" ]] || continue
    if ! ip link del "$link" 2>/dev/null; then
      # A veth whose peer's namespace was just deleted goes away on its own, a moment
      # later (the kernel cleans namespaces up asynchronously): only a link still there is
      # a failure.
      [[ ! -e "/sys/class/net/$link" ]] || { log "cannot delete $link"; return 1; }
    fi
  done < <(lab_root_links)
  while read -r ns; do
    [[ -n "$ns" ]] || continue
    # Listed a moment ago; only one still there is a failure.
    ip netns del "$ns" 2>/dev/null || ! netns_exists "$ns" || { log "cannot delete namespace $ns"; return 1; }
  done < <(lab_netns_list)
}
