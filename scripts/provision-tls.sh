#!/usr/bin/env bash
# Install the real TLS peers the web tests run against: nginx, pebble, certbot, openssl.
#
# Nothing long-running is left behind: every test starts its own nginx (own prefix and
# config under tmp) and its own pebble ACME server on free loopback ports, so this
# script only installs the programs. Debian starts the packaged nginx service on
# install where services may start; that one is stopped again, because it would hold
# port 80 and the tests never use it. Idempotent and quick when already done.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROGRAMS=(/usr/sbin/nginx /usr/bin/pebble /usr/bin/certbot /usr/bin/openssl)

all_present() {
    local p
    for p in "${PROGRAMS[@]}"; do
        [ -x "$p" ] || return 1
    done
}

stop_system_nginx() {
    # Only the packaged service: its pid file is /run/nginx.pid (test instances keep
    # theirs under their own tmp prefix).
    local pidfile=/run/nginx.pid
    [ -s "$pidfile" ] || return 0
    local pid
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
        echo "provision-tls: stopping the system nginx (pid $pid); tests run their own"
        /usr/sbin/nginx -s quit >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    if command -v update-rc.d >/dev/null 2>&1; then
        update-rc.d nginx disable >/dev/null 2>&1 || true
    fi
}

if ! all_present; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "provision-tls: nginx, pebble or certbot is missing and installing needs root" >&2
        exit 1
    fi
    bash "$HERE/apt-install.sh" nginx pebble certbot openssl ca-certificates
    if ! all_present; then
        echo "provision-tls: after installing, one of ${PROGRAMS[*]} is still missing" >&2
        exit 1
    fi
fi

if [ "$(id -u)" -eq 0 ]; then
    stop_system_nginx
fi

# The ssl module is what the tests need from nginx; fail here rather than in a test.
if ! /usr/sbin/nginx -V 2>&1 | grep -q -- '--with-http_ssl_module'; then
    echo "provision-tls: /usr/sbin/nginx lacks the ssl module; install nginx from Debian" >&2
    exit 1
fi
echo "provision-tls: $(/usr/sbin/nginx -v 2>&1), pebble, $(/usr/bin/certbot --version 2>&1) ready"
