# Sourced by run-tests.sh and run-demo.sh: installs the Debian packages they use when any is
# missing (needs root or sudo) and puts cargo on PATH.
#
#   . scripts/ensure-deps.sh
#   ensure_packages
#   ensure_cargo

FCGI_RS_PACKAGES=(nginx libfcgi-dev libfcgi-bin fcgiwrap spawn-fcgi pkg-config strace valgrind
                  build-essential curl bosixnet-webui systemd)

ensure_packages() {
    local missing=() p
    for p in "${FCGI_RS_PACKAGES[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    echo "==> installing: ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" </dev/null
}

ensure_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install a Rust toolchain" >&2; exit 1; }
}
