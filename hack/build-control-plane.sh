#!/usr/bin/env bash
# Builds kube-apiserver, etcd, kubectl and kube-controller-manager (for garbage
# collection and namespace deletion) from the Go module proxy into a cache
# outside the repository, like controller-runtime's setup-envtest but from source.
# Prints the directory holding the binaries (for KUBEBUILDER_ASSETS) on stdout.
#
#   hack/build-control-plane.sh            # build once, then reuse the cache
#   KUBEBUILDER_ASSETS=/dir hack/...       # use those binaries, build nothing
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
CACHE_ROOT="${KOMPOST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kompost}"
BIN_DIR="$CACHE_ROOT/k8s-$K8S_VERSION/bin"

log() { echo "build-control-plane: $*" >&2; }

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  for bin in kube-apiserver etcd; do
    [[ -x "$KUBEBUILDER_ASSETS/$bin" ]] || { log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no executable $bin"; exit 1; }
  done
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

BINARIES=(kube-apiserver etcd kubectl kube-controller-manager)
cache_complete() {
  local bin
  for bin in "${BINARIES[@]}"; do [[ -x "$BIN_DIR/$bin" ]] || return 1; done
}
if cache_complete; then
  echo "$BIN_DIR"
  exit 0
fi

# One build at a time: a second caller waits for the first, then finds the cache.
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build.lock"
flock 9
if cache_complete; then
  echo "$BIN_DIR"
  exit 0
fi

command -v go >/dev/null || { log "Go is required to build the test control plane (https://go.dev/doc/install)"; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log "building Kubernetes $K8S_VERSION into $BIN_DIR (first time only, 10-20 minutes)"

# The staging modules (k8s.io/api, ...) are replaced by local paths in
# k8s.io/kubernetes's own go.mod; a wrapper module must point them at their
# published versions instead. Read the list from that go.mod.
cd "$work"
go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >k8s.json
k8s_gomod="$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' k8s.json)"
mapfile -t staging < <(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$k8s_gomod")
[[ ${#staging[@]} -gt 10 ]] || { log "could not read the staging modules from $k8s_gomod"; exit 1; }

{
  echo "module kompost.local/control-plane"
  echo
  echo "go 1.24"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  for mod in "${staging[@]}"; do echo "	$mod => $mod $STAGING_VERSION"; done
  echo ")"
} >go.mod
cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
GOFLAGS=-mod=mod go mod tidy >&2

ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
  -X k8s.io/component-base/version.gitMajor=1 \
  -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$K8S_VERSION") \
  -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
mkdir -p "$work/bin"
export CGO_ENABLED=0
go build -pgo=off -trimpath -ldflags "$ldflags" -o "$work/bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver >&2
log "built kube-apiserver"
go build -pgo=off -trimpath -ldflags "$ldflags" -o "$work/bin/kubectl" k8s.io/kubernetes/cmd/kubectl >&2
log "built kubectl"
go build -pgo=off -trimpath -ldflags "$ldflags" -o "$work/bin/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager >&2
log "built kube-controller-manager"
go build -pgo=off -trimpath -ldflags "-s -w" -o "$work/bin/etcd" go.etcd.io/etcd/server/v3 >&2
log "built etcd"

mkdir -p "$(dirname "$BIN_DIR")"
rm -rf "$BIN_DIR.tmp" "$BIN_DIR"
mv "$work/bin" "$BIN_DIR.tmp" && mv "$BIN_DIR.tmp" "$BIN_DIR"
echo "$BIN_DIR"
