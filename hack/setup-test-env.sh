#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine, and is quick
# when it is all there already: npm packages, Debian's PostgreSQL, and the
# test control plane (kube-apiserver, etcd, kubectl; built once, then cached).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "setup-test-env: $*" >&2; }

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund >&2
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing PostgreSQL from Debian's packages"
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    log "PostgreSQL is missing and cannot be installed here: install Debian's 'postgresql' package (apt-get install postgresql), then run again"
    exit 1
  fi
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib openssl lua5.1 >&2
fi

hack/build-control-plane.sh >/dev/null
