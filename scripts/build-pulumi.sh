#!/usr/bin/env bash
# Builds the Pulumi CLI (`pulumi`) and a Node.js language host
# (`pulumi-language-nodejs`) from Go modules into a cache outside the repo:
#   ${HVNET_CACHE:-$HOME/.cache/hvnet}/pulumi/<version>/bin
# and puts @pulumi/pulumi's dynamic-provider plugin beside them.
#
# Why build: no prebuilt Pulumi download is reachable from this project's machines,
# and the `pulumi` npm package only downloads one. Only package registries are, and
# the CLI is a Go module. Nothing built here is ever committed.
#
# Idempotent and quick (well under a second) when the binaries are current. A build
# happens in a temporary directory and is moved into place only when complete, so an
# interrupted build leaves the cache as it was (and Go's own build cache keeps the
# compiled packages, so the next attempt is much faster).
#
# Environment:
#   HVNET_CACHE               cache root (default ~/.cache/hvnet)
#   HVNET_PULUMI_CLI_VERSION  build this pulumi/pkg version instead of the default
#   HVNET_PULUMI_FORCE=1      rebuild even if current
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=pulumi-version.sh
. "$here/pulumi-version.sh"

host_src="$hvnet_repo_root/tools/pulumi-language-nodejs/main.go"
t0=$SECONDS

say() { printf '[build-pulumi %3ds] %s\n' "$((SECONDS - t0))" "$*"; }
die() { printf 'build-pulumi: error: %s\n' "$*" >&2; exit 1; }

# The stamp ties a build to everything it was made from, so a change to any of them
# (the host's source, the npm SDK whose plugin script we copy) triggers a rebuild.
stamp_for() {
  local host_sum
  host_sum=$(sha256sum <"$host_src")
  printf 'cli=%s npm=%s host=%s\n' "$1" "$HVNET_PULUMI_NPM_VERSION" "${host_sum%% *}"
}

is_current() {
  local bin="$HVNET_PULUMI_ROOT/$1/bin"
  [ -z "${HVNET_PULUMI_FORCE:-}" ] &&
    [ -x "$bin/pulumi" ] && [ -x "$bin/pulumi-language-nodejs" ] && [ -f "$bin/.stamp" ] &&
    [ "$(cat "$bin/.stamp")" = "$(stamp_for "$1")" ]
}

[ -f "$host_src" ] || die "missing $host_src"
[ -n "$HVNET_PULUMI_NPM_VERSION" ] ||
  die "node_modules/@pulumi/pulumi is not installed in $hvnet_repo_root: run npm ci first"

if is_current "$HVNET_PULUMI_VERSION"; then
  echo "Pulumi CLI v$HVNET_PULUMI_VERSION is ready in $HVNET_PULUMI_BIN"
  exit 0
fi

command -v go >/dev/null || die "the Go toolchain (go) is needed to build the Pulumi CLI"

mkdir -p "$HVNET_PULUMI_ROOT"
exec 9>"$HVNET_PULUMI_ROOT/.lock"
if ! flock -n 9; then
  say "another build is running; waiting for it"
  flock 9
fi
# It may have finished what we came to do.
if is_current "$HVNET_PULUMI_VERSION"; then
  echo "Pulumi CLI v$HVNET_PULUMI_VERSION is ready in $HVNET_PULUMI_BIN"
  exit 0
fi

# We hold the lock, so any build directory left is from a run that was killed.
rm -rf "$HVNET_PULUMI_ROOT"/.build-*
work=$(mktemp -d "$HVNET_PULUMI_ROOT/.build-XXXXXX")
bg_pid=""
cleanup() {
  local rc=$?
  # Stop a running go command and let it finish dying first, or it may still be
  # writing into $work while we delete it.
  if [ -n "$bg_pid" ]; then
    kill "$bg_pid" 2>/dev/null || true
    wait "$bg_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"
# Go's own scratch space goes inside $work too, so an interrupted build leaves none.
mkdir -p "$work/gotmp"
export GOTMPDIR="$work/gotmp"

# Prints the module's directory in the module cache, downloading it if needed;
# fails (status 1, reason in $work/dl.why) if the proxy does not serve it.
fetch_module() {
  local json
  json=$(go mod download -json "$1@v$2" 2>"$work/dl.err") || true
  if grep -q '"Error"' <<<"$json" || ! grep -q '"Dir"' <<<"$json"; then
    { sed -n 's/.*"Error": "\(.*\)",\{0,1\}$/\1/p' <<<"$json"; cat "$work/dl.err"; } >"$work/dl.why"
    return 1
  fi
  sed -n 's/.*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json"
}

# Runs a long command with a heartbeat, so a 10-minute compile does not look hung.
with_heartbeat() {
  local label=$1
  shift
  "$@" &
  bg_pid=$!
  local waited=0
  while kill -0 "$bg_pid" 2>/dev/null; do
    sleep 1
    waited=$((waited + 1))
    if [ $((waited % 30)) -eq 0 ]; then say "$label: still working (${waited}s)"; fi
  done
  local rc=0
  wait "$bg_pid" || rc=$?
  bg_pid=""
  return "$rc"
}

version=$HVNET_PULUMI_VERSION
[ -n "$version" ] || die "cannot tell the @pulumi/pulumi version: run npm ci first"
say "fetching Go modules github.com/pulumi/pulumi/{pkg,sdk}/v3@v$version"
pkg_dir=$(fetch_module github.com/pulumi/pulumi/pkg/v3 "$version") &&
  sdk_dir=$(fetch_module github.com/pulumi/pulumi/sdk/v3 "$version") ||
  die "v$version is not available from the Go module proxy: $(head -n 1 "$work/dl.why" | sed 's/\\n.*//')"

# go build refuses to work inside the read-only module cache, and pkg's go.mod
# points at the SDK through `replace ... => ../sdk`: lay both out as the
# repository does, in a writable copy.
say "preparing sources"
mkdir -p "$work/src" "$work/bin"
cp -R "$pkg_dir" "$work/src/pkg"
cp -R "$sdk_dir" "$work/src/sdk"
chmod -R u+w "$work/src"
# Built as a command of the pkg module so it shares pkg's pinned go.sum.
mkdir -p "$work/src/pkg/cmd/hvnet-language-nodejs"
cp "$host_src" "$work/src/pkg/cmd/hvnet-language-nodejs/main.go"

cd "$work/src/pkg"
say "downloading dependencies of pkg/v3@v$version"
with_heartbeat "go mod download" go mod download
ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version"
say "compiling pulumi (about 10 minutes on 2 cores the first time)"
with_heartbeat "go build pulumi" go build -trimpath -ldflags "$ldflags" -o "$work/bin/pulumi" ./cmd/pulumi
say "compiling pulumi-language-nodejs"
with_heartbeat "go build pulumi-language-nodejs" \
  go build -trimpath -ldflags "$ldflags" -o "$work/bin/pulumi-language-nodejs" ./cmd/hvnet-language-nodejs
cd "$hvnet_repo_root"

# The engine runs dynamic providers through this plugin script, found on PATH.
npm_pulumi="$hvnet_repo_root/node_modules/@pulumi/pulumi"
for plugin in pulumi-resource-pulumi-nodejs pulumi-analyzer-policy; do
  if [ -f "$npm_pulumi/$plugin" ]; then
    cp "$npm_pulumi/$plugin" "$work/bin/$plugin"
    chmod 755 "$work/bin/$plugin"
  fi
done
[ -x "$work/bin/pulumi-resource-pulumi-nodejs" ] || die "$npm_pulumi/pulumi-resource-pulumi-nodejs is missing"

got=$(PULUMI_SKIP_UPDATE_CHECK=true PULUMI_HOME="$work/home" "$work/bin/pulumi" version)
[ "$got" = "v$version" ] || die "built pulumi reports version '$got', expected v$version"
stamp_for "$version" >"$work/bin/.stamp"

final="$HVNET_PULUMI_ROOT/$version/bin"
mkdir -p "$HVNET_PULUMI_ROOT/$version"
if [ -d "$final" ]; then mv "$final" "$work/old-bin"; fi
mv "$work/bin" "$final"
say "Pulumi CLI v$version is ready in $final"
