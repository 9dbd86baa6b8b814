#!/usr/bin/env bash
# Installs the hvnet package into example projects the way a user gets it: from the
# `npm pack` tarball, copied into node_modules. Never a path or a symlink: Pulumi
# serializes code reached through a symlink by value, which breaks the dynamic provider.
#
#   scripts/pack-examples.sh [EXAMPLE_DIR...]     (default: every examples/*/)
#
# Each example's package.json names the tarball as file:../.pack/hvnet-pulumi.tgz, so the
# tarball goes to .pack/ beside the example (a temp copy of an example gets its own).
# Needs `make build` first. Idempotent: a rebuilt package replaces the installed one.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "pack-examples: $*" >&2; exit 1; }

[[ -f "$repo/dist/sdk/index.js" && -f "$repo/dist/helper/helper.js" ]] ||
  die "the package is not built (no dist/sdk or dist/helper): run 'make build' first"

if (($# == 0)); then
  set -- "$repo"/examples/*/
fi

packed=""
pack_into() {
  local dir="$1" tgz
  mkdir -p -- "$dir"
  # One pack per run; copies for further .pack dirs.
  if [[ -z "$packed" ]]; then
    tgz=$(cd "$repo" && npm pack --silent --pack-destination "$dir" 2>/dev/null | tail -n 1)
    [[ -f "$dir/$tgz" ]] || die "npm pack did not write $dir/$tgz"
    mv -f -- "$dir/$tgz" "$dir/hvnet-pulumi.tgz"
    packed="$dir/hvnet-pulumi.tgz"
  elif [[ "$packed" != "$dir/hvnet-pulumi.tgz" ]]; then
    cp -f -- "$packed" "$dir/hvnet-pulumi.tgz"
  fi
}

for ex in "$@"; do
  ex=$(cd "$ex" && pwd) || die "no example directory $ex"
  [[ -f "$ex/package.json" && -f "$ex/Pulumi.yaml" ]] || die "$ex is not an example (no package.json/Pulumi.yaml)"
  pack_into "$(dirname "$ex")/.pack"
  # Same version, new content: npm would keep the installed copy (and a lock file would
  # pin the old tarball's hash), so both go before installing.
  rm -rf -- "$ex/node_modules/@hvnet/pulumi" "$ex/package-lock.json"
  (cd "$ex" && npm install --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null) ||
    die "npm install failed in $ex"
  [[ -f "$ex/node_modules/@hvnet/pulumi/dist/sdk/index.js" && ! -L "$ex/node_modules/@hvnet/pulumi" ]] ||
    die "@hvnet/pulumi is not installed as a copy in $ex/node_modules"
  echo "pack-examples: installed @hvnet/pulumi into $ex"
done
