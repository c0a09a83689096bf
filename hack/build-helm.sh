#!/usr/bin/env bash
# Builds helm (cmd/helm only) from the Go module proxy into a cache outside the
# repository, once; the chart tests and `make chart-lint` use it. Prints the
# path of the helm binary on stdout.
#
#   hack/build-helm.sh                 # build once, then reuse the cache
#   HELM=/usr/local/bin/helm hack/...  # use that helm, build nothing
set -euo pipefail
source "$(dirname "$0")/lib/cached-build.sh"

HELM_VERSION="${HELM_VERSION:-v3.22.0}"

build_helm() {
  local bin="$1"
  work="$(mktemp -d)" # global: the EXIT trap runs after this function returned
  trap 'rm -rf "$work"' EXIT
  echo "build-helm: building helm $HELM_VERSION into $(dirname "$bin") (first time only, a few minutes)" >&2
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
  mv "$work/helm" "$bin.tmp" && mv "$bin.tmp" "$bin"
}

cached_binary helm HELM "$CACHE_ROOT/helm-$HELM_VERSION/bin/helm" build_helm
