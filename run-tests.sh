#!/usr/bin/env bash
# Builds everything and runs the whole test suite. This is what CI runs (.ci/run).
#
#   ./run-tests.sh
#
# Installs the Debian packages the tests use when any is missing (needs root or sudo), builds the
# libraries and C examples with make (the shipped libraries are release builds), runs
# `cargo test --workspace` (the default test profile: it compiles in about half the time of
# --release, whose thin LTO is redone for every test binary), and checks that the generated
# header include/fcgi_rs.h is current.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

PACKAGES=(nginx libfcgi-dev libfcgi-bin fcgiwrap spawn-fcgi pkg-config strace valgrind
          build-essential curl)

ensure_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
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

ensure_packages
ensure_cargo

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "==> make all"
make -j2 all

echo "==> cargo test --workspace"
cargo test --workspace --no-fail-fast

echo "==> make check-headers"
make check-headers
