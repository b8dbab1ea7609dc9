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

# The package list and the install step are shared with run-demo.sh.
. scripts/ensure-deps.sh

ensure_packages
ensure_cargo

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "==> make all"
make -j2 all

echo "==> cargo test --workspace"
cargo test --workspace --no-fail-fast

echo "==> make check-headers"
make check-headers
