#!/usr/bin/env bash
# Benchmarks (DESIGN.md "Testing layers" 5), written to BENCHMARKS.md.
#
#   scripts/bench.sh [all|helper|runtime|stack|fdbtable|fleet|datapath]...
#
#   helper    the helper process locally (scratch netns, private mount ns, own bpffs):
#             10,000 FDB entries in one batch, pipelined single requests, start → hello
#   runtime   the provider runtime over SSH to a one-host lab: 2,000 FdbEntry creates,
#             against one `ssh … bpftool map update` per entry
#   stack     the Pulumi CLI: up / refresh / destroy of N FdbEntry against a no-op dynamic
#             resource with the same inputs, interleaved (scripts/bench/stack.ts; the curve
#             goes to docs/bench/stack-curve.svg). Quick run: BENCH_STACK_ARGS="--sizes 50,200"
#             "--checkpoints final" runs it with PULUMI_SKIP_CHECKPOINTS=true (README "Large stacks")
#   fdbtable  the Pulumi CLI: one FdbTable of 1,000 and 10,000 entries, up / one entry
#             changed / refresh / destroy, against no-op resources with the same inputs
#             (scripts/bench/fdbtable.ts). Quick run: BENCH_FDBTABLE_ARGS="--sizes 1000"
#   fleet     the fleet runner: the same hosts × resources sharded into stacks (at each
#             --concurrency, default 1,2,5 shards in flight), as one stack, and as no-op
#             resources sharded the same way (scripts/bench/fleet.ts). Default 50 hosts × 20;
#             quick run: BENCH_FLEET_ARGS="--hosts 10 --resources 20 --concurrency 2"
#   datapath  XDP packets per second (scripts/bench-datapath.ts)
#
# Each benchmark writes its Markdown section to dist/bench/NAME.md; BENCHMARKS.md is put
# together from every section there, so running one benchmark keeps the others' last
# numbers (each section says when it was measured). Extra options for one benchmark go in
# BENCH_HELPER_ARGS, BENCH_RUNTIME_ARGS, BENCH_STACK_ARGS, BENCH_FDBTABLE_ARGS, BENCH_FLEET_ARGS, BENCH_DATAPATH_ARGS (e.g. "--rounds 3").
# Exit status: 0 when every benchmark run met its targets, 1 otherwise.
set -euo pipefail

REPO="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
OUT_DIR="$REPO/dist/bench"
ALL=(helper runtime stack fdbtable fleet datapath)

die() {
  echo "bench: $*" >&2
  exit 1
}

usage() {
  sed -n '4,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

((EUID == 0)) || die "benchmarks need root (network and mount namespaces, XDP, BPF maps, the lab's sshd)"

selected=()
for arg in "${@:-all}"; do
  case "$arg" in
  all) selected+=("${ALL[@]}") ;;
  helper | runtime | stack | fdbtable | fleet | datapath) selected+=("$arg") ;;
  -h | --help | help) usage ;;
  *) echo "bench: unknown benchmark '$arg'" >&2; usage ;;
  esac
done

[[ -f dist/helper/helper.js && -f dist/bpf/l2fwd.o ]] || die "dist/ is not built: run 'make build' (or 'make bench', which does)"
ESBUILD="$REPO/node_modules/.bin/esbuild"
[[ -x "$ESBUILD" ]] || die "esbuild is missing: run 'make npm'"
mkdir -p "$OUT_DIR"

# What each benchmark creates gets a name chosen here, so that whatever way a benchmark
# ends (even killed), this trap removes it. The benchmarks clean up after themselves; this
# is the second line.
SUFFIX="$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
BENCH_NETNS="hvt-bench-h$SUFFIX"
LAB_NAME="hvb${SUFFIX:0:4}"
cleanup() {
  local d
  if [[ -e "/run/netns/$BENCH_NETNS" ]]; then
    ip netns del "$BENCH_NETNS" 2>/dev/null || echo "bench: could not remove netns $BENCH_NETNS" >&2
  fi
  # labUp makes its directory with mkdtemp under the temp dir, named after the lab.
  for name in "$LAB_NAME" "${LAB_NAME}s" "${LAB_NAME}t" "${LAB_NAME}f"; do
    for d in "${TMPDIR:-/tmp}/$name"-*; do
      [[ -d "$d" ]] || continue
      scripts/lab.sh down --name "$name" --dir "$d" >/dev/null 2>&1 || echo "bench: could not remove lab $name ($d)" >&2
      rm -rf -- "$d"
    done
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

bundle() { # bundle ENTRY OUTFILE: native and SSH modules stay external (loaded from node_modules)
  "$ESBUILD" "$1" --bundle --platform=node --target=node20 --external:koffi --external:ssh2 \
    --outfile="$2" --log-level=warning
}

title_of() {
  case "$1" in
  helper) echo "Helper (local)" ;;
  runtime) echo "Runtime over SSH (1-host lab)" ;;
  stack) echo "Stack: pulumi up / refresh / destroy vs the no-op floor" ;;
  fdbtable) echo "FdbTable: pulumi up / update / refresh / destroy vs the no-op floor" ;;
  fleet) echo "Fleet: sharded stacks vs one stack vs the no-op floor" ;;
  datapath) echo "Datapath (XDP, live frames)" ;;
  esac
}

# run_one NAME: runs one benchmark, leaves dist/bench/NAME.md (its section, or a FAILED
# section) and dist/bench/NAME.status (PASS, MISS or FAILED and the time it ran).
run_one() {
  local name="$1" md="$OUT_DIR/$1.md" err="$OUT_DIR/$1.stderr" rc=0 status extra
  local -a cmd
  rm -f -- "$md"
  case "$name" in
  helper)
    bundle scripts/bench/helper.ts "$OUT_DIR/helper.js"
    read -r -a extra <<<"${BENCH_HELPER_ARGS:-}"
    cmd=(node "$OUT_DIR/helper.js" "$md" --netns "$BENCH_NETNS" "${extra[@]}")
    ;;
  runtime)
    bundle scripts/bench/runtime.ts "$OUT_DIR/runtime.js"
    read -r -a extra <<<"${BENCH_RUNTIME_ARGS:-}"
    cmd=(node "$OUT_DIR/runtime.js" "$md" --lab-name "$LAB_NAME" "${extra[@]}")
    ;;
  stack)
    [[ -x "$(. scripts/pulumi-version.sh && echo "$HVNET_PULUMI_BIN")/pulumi" ]] || die "the Pulumi CLI is not built: run 'make pulumi'"
    bundle scripts/bench/stack.ts "$OUT_DIR/stack.js"
    read -r -a extra <<<"${BENCH_STACK_ARGS:-}"
    # The stack benchmark's lab gets its own name: the runtime one may still be going down.
    cmd=(node "$OUT_DIR/stack.js" "$md" --lab-name "${LAB_NAME}s" --svg "$REPO/docs/bench/stack-curve.svg" "${extra[@]}")
    ;;
  fdbtable)
    [[ -x "$(. scripts/pulumi-version.sh && echo "$HVNET_PULUMI_BIN")/pulumi" ]] || die "the Pulumi CLI is not built: run 'make pulumi'"
    bundle scripts/bench/fdbtable.ts "$OUT_DIR/fdbtable.js"
    read -r -a extra <<<"${BENCH_FDBTABLE_ARGS:-}"
    cmd=(node "$OUT_DIR/fdbtable.js" "$md" --lab-name "${LAB_NAME}t" "${extra[@]}")
    ;;
  fleet)
    [[ -x "$(. scripts/pulumi-version.sh && echo "$HVNET_PULUMI_BIN")/pulumi" ]] || die "the Pulumi CLI is not built: run 'make pulumi'"
    # --packages=external: the Automation API is loaded from node_modules, not bundled.
    "$ESBUILD" scripts/bench/fleet.ts --bundle --platform=node --target=node20 --packages=external \
      --outfile="$OUT_DIR/fleet.js" --log-level=warning
    read -r -a extra <<<"${BENCH_FLEET_ARGS:-}"
    cmd=(node "$OUT_DIR/fleet.js" "$md" --lab-name "${LAB_NAME}f" "${extra[@]}")
    ;;
  datapath)
    # The build line scripts/bench-datapath.ts documents.
    bundle scripts/bench-datapath.ts dist/bench-datapath.js
    read -r -a extra <<<"${BENCH_DATAPATH_ARGS:-}"
    cmd=(node dist/bench-datapath.js "$md" --bpf-dir dist/bpf "${extra[@]}")
    ;;
  esac
  echo "== $name: ${cmd[*]}" >&2
  # stdout (the section) to the terminal, stderr to the terminal and a file for the report.
  "${cmd[@]}" 2> >(tee "$err" >&2) || rc=$?
  wait # for tee
  if [[ ! -s "$md" ]]; then
    status=FAILED
    {
      printf '## %s\n\n**FAILED** (exit %s), no numbers. Last lines of its output:\n\n```\n' "$(title_of "$name")" "$rc"
      tail -n 20 "$err"
      printf '```\n'
    } >"$md"
  elif ((rc == 0)); then
    status=PASS
  elif grep -qE '\| MISS \||MISSED' "$md"; then
    status=MISS
  else
    status=FAILED
  fi
  printf '%s %s\n' "$status" "$(date -u '+%Y-%m-%d %H:%M UTC')" >"$OUT_DIR/$name.status"
  echo "== $name: $status" >&2
  [[ "$status" == PASS ]]
}

overall=0
for name in "${selected[@]}"; do
  run_one "$name" || overall=1
done

machine() {
  local cpu mem commit dirty=""
  cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  mem="$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  [[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]] || dirty=" (with uncommitted changes)"
  echo "| | |"
  echo "|---|---|"
  echo "| CPUs (nproc) | $(nproc) × ${cpu:-unknown} |"
  echo "| memory | $mem |"
  echo "| kernel | $(uname -sr) |"
  echo "| Node | $(node --version) |"
  echo "| commit | $commit$dirty |"
  echo "| written | $(date -u '+%Y-%m-%d %H:%M UTC') |"
  echo "| load average when written | $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine shows in the numbers) |"
}

# A benchmark not run here (and not since dist/ was cleaned) keeps its section and status
# from the BENCHMARKS.md being replaced: running one benchmark never drops the others.
keep_previous() {
  local name="$1" title row
  title="$(title_of "$name")"
  [[ -f BENCHMARKS.md && ! -f "$OUT_DIR/$name.md" ]] || return 0
  awk -v t="## $title" '$0 == t { p = 1; print; next } p && /^## / { exit } p { print }' BENCHMARKS.md |
    sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >"$OUT_DIR/$name.md"
  [[ -s "$OUT_DIR/$name.md" ]] || { rm -f "$OUT_DIR/$name.md"; return 0; }
  row="$(grep -F "| [$title](" BENCHMARKS.md | head -n 1 || true)"
  [[ -n "$row" ]] && awk -F' [|] ' '{ sub(/ [|]$/, "", $3); print $2, $3 }' <<<"$row" >"$OUT_DIR/$name.status"
  return 0
}
for name in "${ALL[@]}"; do keep_previous "$name"; done

{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` (\`scripts/bench.sh\`); \`scripts/bench.sh helper|runtime|stack|fdbtable|fleet|datapath\` reruns one."
  echo "Each section says how it was measured; numbers are medians of the rounds it names."
  echo
  machine
  echo
  echo "| benchmark | result | measured |"
  echo "|---|---|---|"
  for name in "${ALL[@]}"; do
    if [[ -f "$OUT_DIR/$name.status" ]]; then
      read -r status when <"$OUT_DIR/$name.status"
      echo "| [$(title_of "$name")](#$(title_of "$name" | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9 -' | tr ' ' '-')) | $status | $when |"
    else
      echo "| $(title_of "$name") | not run | — |"
    fi
  done
  for name in "${ALL[@]}"; do
    [[ -f "$OUT_DIR/$name.md" ]] || continue
    echo
    cat "$OUT_DIR/$name.md"
  done
} >BENCHMARKS.md.tmp
mv BENCHMARKS.md.tmp BENCHMARKS.md
echo "bench: wrote BENCHMARKS.md" >&2
exit "$overall"
