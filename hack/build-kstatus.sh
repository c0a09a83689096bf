#!/usr/bin/env bash
# Builds hack/kstatus (a tiny command around kstatus, sigs.k8s.io/cli-utils/pkg/kstatus/status,
# the library Flux uses to tell whether a resource is Current, InProgress or Failed) from the
# Go module proxy into a cache outside the repository, once per version of its sources.
# Prints the path of the binary on stdout.
#
#   hack/build-kstatus.sh                  # build once, then reuse the cache
#   KSTATUS=/path/to/kstatus hack/...      # use that binary, build nothing
set -euo pipefail
source "$(dirname "$0")/lib/cached-build.sh"
cd "$(dirname "$0")/kstatus"

build_kstatus() {
  local bin="$1"
  echo "build-kstatus: building hack/kstatus into $bin (first time only, about a minute)" >&2
  CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$bin.tmp.$$" . >&2
  mv "$bin.tmp.$$" "$bin"
}

# A new go.mod, go.sum or main.go is a new cache entry: a stale binary is never used.
digest="$(cat go.mod go.sum main.go | sha256sum | cut -c1-16)"
cached_binary kstatus KSTATUS "$CACHE_ROOT/kstatus-$digest/kstatus" build_kstatus
