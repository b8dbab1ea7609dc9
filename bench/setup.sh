#!/bin/sh
# Installs the Debian packages the benchmark suite runs, each only when it is missing:
# nginx, wrk, spawn-fcgi and php8.2-fpm for the end-to-end section, strace and valgrind for
# the per-request counts, a C compiler for the two helpers the runner builds. Needs root (apt-get).
set -eu
missing=""
for pkg in nginx wrk spawn-fcgi php8.2-fpm strace valgrind gcc libfcgi-dev; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    apt-get update
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
else
    echo "all benchmark packages are installed"
fi
