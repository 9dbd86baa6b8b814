# shellcheck shell=bash
# known_hosts and inventory.json. Every value is an address, a name checked by
# lab_init, a path checked to be [A-Za-z0-9._/-] or an ssh-keygen fingerprint
# (base64 and ':'), so none needs JSON escaping and jq is not required. Hosts are reached
# as root, or as the lab's deploy user under --user-mode sudo (see users.sh).

write_known_hosts() {
  local i keytype key
  : >"$KNOWN_HOSTS.tmp"
  for ((i = 1; i <= HOSTS; i++)); do
    read -r keytype key _ <"$(host_dir "$i")/ssh_host_ed25519_key.pub"
    printf '%s %s %s\n' "$(host_addr "$i")" "$keytype" "$key" >>"$KNOWN_HOSTS.tmp"
  done
  mv -f -- "$KNOWN_HOSTS.tmp" "$KNOWN_HOSTS"
}

write_inventory() {
  local i sep="" tmp="$INVENTORY.tmp" user
  user="$(users_login)"
  {
    printf '{\n  "name": "%s",\n  "dir": "%s",\n  "hosts": [' "$PREFIX" "$DIR"
    for ((i = 1; i <= HOSTS; i++)); do
      printf '%s\n    {"name": "hv%s", "address": "%s", "port": 22, "user": "%s", ' \
        "$sep" "$i" "$(host_addr "$i")" "$user"
      printf '"privateKeyPath": "%s", "hostKey": "%s", ' "$CLIENT_KEY" "$(host_key_fingerprint "$i")"
      printf '"netns": "%s", "mountns": "%s", "uplink": "uplink0"}' \
        "$(host_ns "$i")" "$(host_mntns "$i")"
      sep=","
    done
    printf '\n  ],\n  "knownHosts": "%s",\n' "$KNOWN_HOSTS"
    printf '  "management": {"bridge": "%s", "address": "%s", "subnet": "198.18.%s.0/24"},\n' \
      "$BR_MGMT" "$(mgmt_gw)" "$SUBNET_K"
    printf '  "external": {"netns": "%s", "device": "ext0", "address": "%s", "subnet": "198.19.%s.0/24"},\n' \
      "$NS_EXT" "$(ext_addr)" "$SUBNET_K"
    printf '  "switch": {"netns": "%s", "bridge": "%s"}\n}\n' "$NS_SW" "$BR_SW"
  } >"$tmp"
  mv -f -- "$tmp" "$INVENTORY"
}
