#!/usr/bin/env bash
# Hooks our RSS/ntuple bookkeeping (nsim_rss.c) into a netdevsim source tree taken from
# Debian's linux-source, at image build time. Four one-line insertions, each after an
# anchor that must occur exactly once, so a changed netdevsim fails loudly here instead
# of building a module without the ops:
#   Makefile       links nsim_rss.o into netdevsim.ko
#   netdevsim.h    includes nsim_rss.h and gives struct nsim_ethtool our state
#   ethtool.c      calls nsim_rss_init() right after netdevsim sets its ethtool_ops
#
#   scripts/vmlab/netdevsim/hook.sh NETDEVSIM_SOURCE_DIR
set -euo pipefail
here="$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")"
src="${1:?usage: hook.sh NETDEVSIM_SOURCE_DIR}"

fail() { printf 'vmlab: netdevsim hook: %s\n' "$*" >&2; exit 1; }

# insert_after FILE ANCHOR_REGEX LINE: inserts LINE after the one line matching ANCHOR.
insert_after() {
  local file="$src/$1" anchor="$2" line="$3" n
  [[ -f "$file" ]] || fail "no $1 in $src"
  n="$(grep -cE -- "$anchor" "$file" || true)"
  [[ "$n" == 1 ]] ||
    fail "$1: expected one line matching '$anchor', found $n: this netdevsim differs from the one hook.sh knows; update scripts/vmlab/netdevsim/hook.sh"
  grep -qxF -- "$line" "$file" && fail "$1 is already hooked (run on a fresh copy of the source)"
  awk -v anchor="$anchor" -v line="$line" '{ print } $0 ~ anchor { print line }' "$file" >"$file.hooked"
  mv -f -- "$file.hooked" "$file"
}

insert_after netdevsim.h '^#include <linux/ethtool\.h>$' '#include "nsim_rss.h"'
insert_after netdevsim.h '^struct nsim_ethtool \{$' $'\tstruct nsim_rss rss;'
insert_after ethtool.c 'ethtool_ops = &nsim_ethtool_ops;$' $'\tnsim_rss_init(ns);'
grep -q '^netdevsim-objs :=' "$src/Makefile" || fail "Makefile: no 'netdevsim-objs :=' line; update hook.sh"
printf '\n# hvnet VM lab: RSS context and ntuple bookkeeping\nnetdevsim-objs += nsim_rss.o\n' >>"$src/Makefile"
install -m 644 "$here/nsim_rss.c" "$here/nsim_rss.h" "$src/"
