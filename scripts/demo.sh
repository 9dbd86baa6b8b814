#!/usr/bin/env bash
# `make demo` (after `make setup`): a 2-host lab, the quickstart example applied to it
# through the Pulumi CLI, then what hvnet put on each host, seen with ip and bpftool.
# Idempotent: run it again and it converges (a lab that was taken down and brought back
# is found empty by `refresh`, and `up` makes it all again).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
example=examples/quickstart
stack=demo
lab="$repo/scripts/lab.sh"
pulumi="$repo/scripts/pulumi"
fdb=/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
started=$(date +%s)

step "lab: 2 hypervisors (network + mount namespaces, sshd, uplink0 on a lab switch)"
inventory=$("$lab" up --hosts 2 | tail -n 1)
echo "inventory: $inventory"

step "package: npm pack, installed into $example"
scripts/pack-examples.sh "$example"

step "pulumi: stack '$stack' of $example (state in $example/.pulumi-state)"
cd "$example"
# The lab's host keys identify it. A lab rebuilt since the last demo took everything the
# old stack made with it (and its hosts have new keys, so nothing could be refreshed):
# that state describes hosts that are gone, so it goes too.
marker=".pulumi-state/$stack.lab-keys"
keys=$(cat "$(node -p 'require(process.argv[1]).knownHosts' "$inventory")")
if [[ -f "$marker" && "$(cat "$marker")" != "$keys" ]]; then
  echo "the lab was rebuilt since the last demo: forgetting stack '$stack' of the old one"
  "$pulumi" stack rm --yes --force "$stack" --non-interactive >/dev/null
fi
"$pulumi" stack select --create "$stack" --non-interactive
# The example finds the lab at ../../.lab/inventory.json; say it, in case the default moves.
"$pulumi" config set --stack "$stack" hvnet:inventory "$inventory" --non-interactive
# A lab rebuilt since the last demo has none of what the state records: forget it first.
"$pulumi" refresh --yes --skip-preview --stack "$stack" --non-interactive >/dev/null
"$pulumi" up --yes --stack "$stack" --non-interactive
printf '%s\n' "$keys" >"$marker"
cd "$repo"

step "what hvnet put on each host"
hosts=$(node -e 'for (const h of require(process.argv[1]).hosts) console.log(h.name)' "$inventory")
for h in $hosts; do
  printf '\n--- %s\n' "$h"
  echo "links:"
  "$lab" exec "$h" -- ip -br link | sed 's/^/  /'
  echo "XDP programs (bpftool net):"
  "$lab" exec "$h" -- bpftool net show | sed -n '/^xdp:/,/^$/p' | sed '1d;/^$/d;s/^/  /'
  echo "VM taps:"
  "$lab" exec "$h" -- ip -br link show type tun | sed 's/^/  /'
  if "$lab" exec "$h" -- test -e "$fdb"; then
    n=$("$lab" exec "$h" -- bpftool -j map dump pinned "$fdb" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).length))')
    echo "FDB entries in $fdb: $n"
  else
    echo "FDB: none (the quickstart targets the first host only)"
  fi
done

step "QEMU arguments (pulumi stack output qemuArgs)"
(cd "$example" && "$pulumi" stack output qemuArgs --json --stack "$stack" --non-interactive)

step "done in $(($(date +%s) - started)) s. To remove it all:"
cat <<EOF
  (cd $example && ../../scripts/pulumi destroy --yes --stack $stack)
  make lab-down
EOF
