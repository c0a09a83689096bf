#!/usr/bin/env bash
# Builds hack/kstatus (a tiny command around kstatus, sigs.k8s.io/cli-utils/pkg/kstatus/status,
# the library Flux uses to tell whether a resource is Current, InProgress or Failed) from the
# Go module proxy into a cache outside the repository, once per version of its sources.
# Prints the path of the binary on stdout.
#
#   hack/build-kstatus.sh                  # build once, then reuse the cache
#   KSTATUS=/path/to/kstatus hack/...      # use that binary, build nothing
set -euo pipefail
cd "$(dirname "$0")/kstatus"

CACHE_ROOT="${KOMPOST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kompost}"

log() { echo "build-kstatus: $*" >&2; }

if [[ -n "${KSTATUS:-}" ]]; then
  [[ -x "$KSTATUS" ]] || { log "KSTATUS=$KSTATUS is not an executable"; exit 1; }
  echo "$KSTATUS"
  exit 0
fi

# A new go.mod, go.sum or main.go is a new cache entry: a stale binary is never used.
digest="$(cat go.mod go.sum main.go | sha256sum | cut -c1-16)"
BIN="$CACHE_ROOT/kstatus-$digest/kstatus"
if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi

# One Go build at a time (the same lock as hack/build-control-plane.sh): a second caller
# waits for the first, then finds the cache.
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build.lock"
flock 9
if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { log "Go is required to build hack/kstatus (https://go.dev/doc/install)"; exit 1; }
log "building hack/kstatus into $BIN (first time only, about a minute)"
tmp="$BIN.tmp.$$"
trap 'rm -f "$tmp"' EXIT
mkdir -p "$(dirname "$BIN")"
CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp" . >&2
mv "$tmp" "$BIN"
echo "$BIN"
