#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine, and is quick
# when it is all there already: npm packages, Debian's PostgreSQL, psql, openssl
# and lua5.1, the test control plane (kube-apiserver, etcd, kubectl,
# kube-controller-manager), helm and hack/kstatus (each built once, then cached).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "setup-test-env: $*" >&2; }

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund >&2
fi

# Debian package for each command the tests run.
declare -A PACKAGES=(
  [initdb]=postgresql
  [psql]=postgresql-client
  [openssl]=openssl
  [lua5.1]=lua5.1
  [flock]=util-linux
)
found() {
  case "$1" in
    initdb) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 ;;
    *) command -v "$1" >/dev/null ;;
  esac
}
missing=()
for cmd in "${!PACKAGES[@]}"; do found "$cmd" || missing+=("${PACKAGES[$cmd]}"); done
if [[ ${#missing[@]} -gt 0 ]]; then
  log "installing Debian packages: ${missing[*]}"
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    log "cannot install them here: run 'apt-get install ${missing[*]}' as root, then run again"
    exit 1
  fi
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# pgJDBC for the JDBC_URL test of controllers/postgres-database/secret-clients.test.ts, where a
# JVM is present (the test skips itself without one); Debian's package, nothing from elsewhere.
if command -v java >/dev/null && [[ ! -e /usr/share/java/postgresql.jar ]] && [[ $(id -u) -eq 0 ]]; then
  log "installing Debian package: libpostgresql-jdbc-java"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libpostgresql-jdbc-java >&2 ||
    log "could not install libpostgresql-jdbc-java; the JDBC test will be skipped"
fi

hack/build-control-plane.sh >/dev/null
hack/build-kstatus.sh >/dev/null
# helm, for the chart tests of test/deploy/helm*.test.ts.
hack/build-helm.sh >/dev/null
