#!/usr/bin/env bash
# Live demo: nginx in front of the C echo example linked with fcgi_rs.
#
#   ./run-demo.sh            serves http://127.0.0.1:8080/ until Ctrl-C
#   PORT=9000 ./run-demo.sh  another port
#
# Everything runs from build/demo/ (socket, nginx config, logs, pid file); the system's nginx
# configuration and service are never touched. nginx keeps its FastCGI connections open
# (fastcgi_keep_conn + upstream keepalive), the case where libfcgi's accept loop stalls.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
REPO=$(pwd)
PORT=${PORT:-8080}
DEMO=$REPO/build/demo
SOCK=$DEMO/echo.sock
APP=$REPO/build/bin/echo

PACKAGES=(nginx libfcgi-dev libfcgi-bin fcgiwrap spawn-fcgi pkg-config strace valgrind
          build-essential curl)
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "==> installing: ${missing[*]}"
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" </dev/null
fi
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

echo "==> building"
make -j2 all
[ -x "$APP" ] || { echo "$APP was not built" >&2; exit 1; }

NGINX=$(command -v nginx || echo /usr/sbin/nginx)

mkdir -p "$DEMO/tmp"
rm -f "$SOCK"

APP_PID=
NGINX_PID=
stop() {
    trap - INT TERM EXIT
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null && wait "$APP_PID" 2>/dev/null
    rm -f "$SOCK"
    echo "==> stopped"
}
trap stop INT TERM EXIT

# spawn-fcgi creates the socket, puts it on fd 0 and, with -n, execs the app in the same
# process, so $! is the application itself.
spawn-fcgi -n -s "$SOCK" -M 0666 -- "$APP" &
APP_PID=$!
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { echo "the echo app did not create $SOCK" >&2; exit 1; }

# nginx workers drop to an unprivileged user when the master runs as root.
user_line=
if [ "$(id -u)" -eq 0 ]; then
    user_line="user nobody nogroup;"
    chmod 0777 "$DEMO/tmp"
fi

cat >"$DEMO/nginx.conf" <<EOF
# Written by run-demo.sh; regenerated on every run.
$user_line
worker_processes 1;
daemon off;
pid $DEMO/nginx.pid;
error_log $DEMO/error.log notice;

events {
    worker_connections 256;
}

http {
    access_log $DEMO/access.log;
    client_body_temp_path $DEMO/tmp/body;
    fastcgi_temp_path $DEMO/tmp/fastcgi;
    proxy_temp_path $DEMO/tmp/proxy;
    uwsgi_temp_path $DEMO/tmp/uwsgi;
    scgi_temp_path $DEMO/tmp/scgi;

    upstream fcgi_rs_echo {
        server unix:$SOCK;
        keepalive 8;
    }

    server {
        listen 127.0.0.1:$PORT;

        location / {
            fastcgi_pass fcgi_rs_echo;
            fastcgi_keep_conn on;

            fastcgi_param GATEWAY_INTERFACE CGI/1.1;
            fastcgi_param SERVER_SOFTWARE nginx/\$nginx_version;
            fastcgi_param SERVER_PROTOCOL \$server_protocol;
            fastcgi_param SERVER_NAME \$server_name;
            fastcgi_param SERVER_ADDR \$server_addr;
            fastcgi_param SERVER_PORT \$server_port;
            fastcgi_param REMOTE_ADDR \$remote_addr;
            fastcgi_param REMOTE_PORT \$remote_port;
            fastcgi_param REQUEST_METHOD \$request_method;
            fastcgi_param REQUEST_URI \$request_uri;
            fastcgi_param DOCUMENT_URI \$document_uri;
            fastcgi_param SCRIPT_NAME \$fastcgi_script_name;
            fastcgi_param QUERY_STRING \$query_string;
            fastcgi_param CONTENT_TYPE \$content_type;
            fastcgi_param CONTENT_LENGTH \$content_length;
            fastcgi_param HTTPS \$https if_not_empty;
        }
    }
}
EOF

"$NGINX" -t -q -p "$DEMO" -c "$DEMO/nginx.conf" -e "$DEMO/error.log"
"$NGINX" -p "$DEMO" -c "$DEMO/nginx.conf" -e "$DEMO/error.log" &
NGINX_PID=$!

URL="http://127.0.0.1:$PORT/"
ok=
for _ in $(seq 50); do
    if body=$(curl -fsS "${URL}?demo=1" 2>/dev/null); then ok=1; break; fi
    sleep 0.1
done
if [ -z "$ok" ]; then
    echo "no answer from $URL; nginx log:" >&2
    tail -n 20 "$DEMO/error.log" >&2 || true
    exit 1
fi
echo "==> first response from $URL:"
printf '%s\n' "$body" | head -n 20
echo
echo "==> serving $URL (echo example on fcgi_rs behind nginx); Ctrl-C to stop"

# Stay in the foreground until Ctrl-C or until either process exits.
wait -n "$APP_PID" "$NGINX_PID" || true
