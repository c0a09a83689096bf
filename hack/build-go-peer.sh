#!/usr/bin/env bash
# Builds the Go peer of `make bench` (movetokube/postgres-operator, "ext-postgres-operator": a
# controller-runtime operator doing the same work as Kompost) from its source into a cache outside
# the repository, keyed by the source's commit, and prints the binary's path on stdout. Beside the
# binary (../config) it keeps the source's config/crd/bases and config/rbac, which the bench applies
# at run time: nothing of the peer is copied into this repository.
#
#   BENCH_PEER_SRC=/path/to/checkout hack/build-go-peer.sh   # a directory, or a bare git dir
#   BENCH_PEER_REF=2.4.0 hack/build-go-peer.sh               # a tag or commit of a git source (default HEAD)
#
# Without BENCH_PEER_SRC it uses the snapshot /work/.mirror/movetokube+postgres-operator/repo when
# that exists. With no source at all it prints nothing and exits 3 ("no peer source").
# The module is not served by the Go module proxy; its dependencies are.
set -euo pipefail

CACHE_ROOT="${KOMPOST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kompost}"
DEFAULT_SRC=/work/.mirror/movetokube+postgres-operator/repo
SRC="${BENCH_PEER_SRC:-}"
REF="${BENCH_PEER_REF:-HEAD}"

log() { echo "build-go-peer: $*" >&2; }

if [[ -z "$SRC" ]]; then
  [[ -d "$DEFAULT_SRC" ]] || { log "no peer source: set BENCH_PEER_SRC to a checkout of github.com/movetokube/postgres-operator"; exit 3; }
  SRC="$DEFAULT_SRC"
fi
[[ -d "$SRC" ]] || { log "BENCH_PEER_SRC=$SRC is not a directory"; exit 1; }

# A bare git dir (HEAD and objects/ at its top) is read with git archive; a checkout as it is.
if [[ -f "$SRC/HEAD" && -d "$SRC/objects" ]]; then
  kind=git
  commit="$(git --git-dir="$SRC" rev-parse --verify "$REF^{commit}")"
elif git -C "$SRC" rev-parse --verify HEAD >/dev/null 2>&1 && [[ -z "$(git -C "$SRC" status --porcelain)" ]]; then
  kind=dir
  commit="$(git -C "$SRC" rev-parse HEAD)"
else
  # A tree without git, or with edits: keyed by its content.
  kind=dir
  commit="tree-$(cd "$SRC" && find . -type f -not -path './.git/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
fi

OUT="$CACHE_ROOT/go-peer-${commit:0:16}"
BIN="$OUT/bin/ext-postgres-operator"
if [[ -x "$BIN" && -d "$OUT/config/crd/bases" ]]; then
  echo "$BIN"
  exit 0
fi

# One build at a time: a second caller waits for the first, then finds the cache.
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build-go-peer.lock"
flock 9
if [[ -x "$BIN" && -d "$OUT/config/crd/bases" ]]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { log "Go is required to build the peer (https://go.dev/doc/install)"; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/out/bin" "$work/out/config"
if [[ "$kind" == git ]]; then
  git --git-dir="$SRC" archive "$commit" | tar -x -C "$work/src"
else
  (cd "$SRC" && tar -c --exclude=./.git .) | tar -x -C "$work/src"
fi
[[ -f "$work/src/go.mod" && -d "$work/src/config/crd/bases" ]] ||
  { log "$SRC ($commit) does not look like movetokube/postgres-operator (no go.mod or config/crd/bases)"; exit 1; }
main_pkg=./cmd
[[ -f "$work/src/cmd/main.go" ]] || main_pkg=.  # before 2.0 the main package was the module's root

log "building the peer at ${commit:0:12} into $OUT (first time only, a few minutes)"
(cd "$work/src" && GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 \
  go build -trimpath -ldflags "-s -w" -o "$work/out/bin/ext-postgres-operator" "$main_pkg") >&2
cp -r "$work/src/config/crd" "$work/src/config/rbac" "$work/out/config/"
echo "$commit" >"$work/out/commit"

rm -rf "$OUT.tmp" "$OUT"
mv "$work/out" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
echo "$BIN"
