# Sourced by hack/build-*.sh: the cache outside the repository, the variable that
# names a binary you already have, and one Go build at a time on this machine.
CACHE_ROOT="${KOMPOST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kompost}"

# cached_binary NAME OVERRIDE_VAR BIN BUILD_FUNCTION
# Prints the path of NAME's binary: $OVERRIDE_VAR when set, else BIN from the
# cache, built first by `BUILD_FUNCTION BIN` when missing. A second caller waits
# for the first build (the lock hack/build-control-plane.sh takes too), then finds
# the cache.
cached_binary() {
  local name="$1" override="$2" bin="$3" build="$4"
  if [[ -n "${!override:-}" ]]; then
    [[ -x "${!override}" ]] || { echo "build-$name: $override=${!override} is not an executable" >&2; exit 1; }
    echo "${!override}"
    return
  fi
  if [[ ! -x "$bin" ]]; then
    mkdir -p "$CACHE_ROOT"
    exec 9>"$CACHE_ROOT/.build.lock"
    flock 9
    if [[ ! -x "$bin" ]]; then
      command -v go >/dev/null || { echo "build-$name: Go is required to build $name (https://go.dev/doc/install)" >&2; exit 1; }
      mkdir -p "$(dirname "$bin")"
      "$build" "$bin"
    fi
    exec 9>&-
  fi
  echo "$bin"
}
