#!/usr/bin/env bash
# Builds helm (cmd/helm only) from the Go module proxy into a cache outside the
# repository, once; the chart tests and `make chart-lint` use it. Prints the
# path of the helm binary on stdout.
#
#   hack/build-helm.sh                 # build once, then reuse the cache
#   HELM=/usr/local/bin/helm hack/...  # use that helm, build nothing
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_ROOT="${KOMPOST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kompost}"
BIN="$CACHE_ROOT/helm-$HELM_VERSION/bin/helm"

log() { echo "build-helm: $*" >&2; }

if [[ -n "${HELM:-}" ]]; then
  [[ -x "$HELM" ]] || { log "HELM=$HELM is not an executable"; exit 1; }
  echo "$HELM"
  exit 0
fi
if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi

# One build at a time: a second caller waits for the first, then finds the cache.
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build-helm.lock"
flock 9
if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { log "Go is required to build helm (https://go.dev/doc/install)"; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log "building helm $HELM_VERSION into $(dirname "$BIN") (first time only, a few minutes)"

cd "$work"
cat >go.mod <<GOMOD
module kompost.local/helm

go 1.24

require helm.sh/helm/v3 $HELM_VERSION
GOMOD
cat >tools.go <<'GO'
//go:build tools

package tools

import _ "helm.sh/helm/v3/cmd/helm"
GO
GOFLAGS=-mod=mod go mod tidy >&2

# helm's own Makefile sets its version this way; without it `helm version` says v3.x-dev.
CGO_ENABLED=0 go build -pgo=off -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  -o "$work/helm" helm.sh/helm/v3/cmd/helm >&2

mkdir -p "$(dirname "$BIN")"
mv "$work/helm" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
log "built helm"
echo "$BIN"
