#!/usr/bin/env bash
# Live demo: nginx in front of the C echo example, run as a pool of 4 workers by fcgi_rs's
# built-in process manager.
#
#   ./run-demo.sh            serves http://127.0.0.1:8080/ until Ctrl-C
#   PORT=9000 ./run-demo.sh  another port
#   FCGI_RS_BUILD_DIR=/tmp/b ./run-demo.sh   build and run from another build directory
#
# The echo example is an unmodified C program linked with fcgi_rs. It gets its pool purely
# from configuration (library mode): FCGI_RS_PM in its environment makes its first FCGX_Init
# fork 4 workers and turn the process into their master, which keeps the pool at size,
# recycles workers every ~500 requests and serves php-fpm's status and ping pages through
# the workers (/status, /ping).
#
# Everything runs from build/demo/ (socket, nginx config, logs, pid file); the system's nginx
# configuration and service are never touched. nginx keeps its FastCGI connections open
# (fastcgi_keep_conn + upstream keepalive), the case where libfcgi's accept loop stalls.
# Ctrl-C stops gracefully: SIGQUIT to the master (workers finish their requests), then nginx.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
REPO=$(pwd)
PORT=${PORT:-8080}
BUILD=${FCGI_RS_BUILD_DIR:-$REPO/build}
DEMO=$BUILD/demo
SOCK=$DEMO/echo.sock
APP=$BUILD/bin/echo

# The package list and the install step are shared with run-tests.sh.
. scripts/ensure-deps.sh
ensure_packages
ensure_cargo

echo "==> building"
make -j2 BUILD="$BUILD" all
[ -x "$APP" ] || { echo "$APP was not built" >&2; exit 1; }

NGINX=$(command -v nginx || echo /usr/sbin/nginx)

mkdir -p "$DEMO/tmp"
rm -f "$SOCK"

APP_PID=
NGINX_PID=
stop() {
    trap - INT TERM HUP EXIT
    if [ -n "$APP_PID" ] && kill -0 "$APP_PID" 2>/dev/null; then
        # Graceful stop: idle workers leave at once, busy ones after their request; the
        # master exits when none is left and removes its socket.
        kill -QUIT "$APP_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.1; done
        kill -TERM "$APP_PID" 2>/dev/null || true
        wait "$APP_PID" 2>/dev/null || true
    fi
    if [ -n "$NGINX_PID" ]; then
        kill -TERM "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    rm -f "$SOCK"
    echo "==> stopped"
}
trap stop INT TERM HUP EXIT

# Library mode: the pool comes from this variable alone. The process started here becomes
# the master ($APP_PID); its log (and the workers' stderr) goes to build/demo/pm.log.
# setsid (no fork here: a background job is not a group leader, so $! stays the program's
# pid) keeps the terminal's Ctrl-C away from the pool and nginx, so that stop() can end them
# in order: the pool gracefully, then nginx.
FCGI_RS_PM="static:4,pm.max_requests=500,pm.status_path=/status,ping.path=/ping"
FCGI_RS_PM+=",listen=$SOCK,listen.mode=0666"
FCGI_RS_PM="$FCGI_RS_PM" setsid "$APP" </dev/null >/dev/null 2>"$DEMO/pm.log" &
APP_PID=$!
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { echo "the echo pool did not create $SOCK; its log:" >&2; cat "$DEMO/pm.log" >&2; exit 1; }

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
        keepalive 16;
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
setsid "$NGINX" -p "$DEMO" -c "$DEMO/nginx.conf" -e "$DEMO/error.log" &
NGINX_PID=$!

URL="http://127.0.0.1:$PORT/"
STATUS_URL="http://127.0.0.1:$PORT/status?full"
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
if ! status=$(curl -fsS "$STATUS_URL") || ! pong=$(curl -fsS "${URL}ping") || [ "$pong" != pong ]; then
    echo "the status or ping page did not answer; pool log:" >&2
    tail -n 20 "$DEMO/pm.log" >&2 || true
    exit 1
fi
echo "==> first response from $URL:"
printf '%s\n' "$body" | head -n 20
echo
echo "==> pool status ($STATUS_URL):"
printf '%s\n' "$status" | head -n 20
echo
echo "==> serving $URL (echo example, 4 workers under fcgi_rs's process manager, behind nginx)"
echo "    status: $STATUS_URL   (also ?json, ?xml, ?html, ?openmetrics, each with &full)"
echo "    ping:   ${URL}ping"
echo "    pool log: $DEMO/pm.log; master pid $APP_PID (kill -USR2 reloads, -QUIT stops)"
echo "    Ctrl-C to stop"

# Stay in the foreground until Ctrl-C or until either process exits.
wait -n "$APP_PID" "$NGINX_PID" || true
