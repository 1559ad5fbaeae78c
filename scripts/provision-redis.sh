#!/usr/bin/env bash
# Make a real Redis answer on 127.0.0.1:6379, for the redis probe tests and benchmark.
#
# Idempotent and quick when already done: if `redis-cli ping` answers, it exits at once.
# Otherwise (as root, on Debian bookworm) it installs redis-server (and redis-tools,
# which it depends on) when missing, starts it daemonized on loopback with no
# persistence, logging to /var/log/redis-medic.log, and waits for PING (60 s at most).
# The tests also start private redis-server instances on free ports (to set
# maxmemory), so the binary is what they need most.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG=/var/log/redis-medic.log
PORT=6379
WAIT_SECONDS=60

answers() {
    [ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" = "PONG" ]
}

if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && answers; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "provision-redis: Redis is not answering on 127.0.0.1:$PORT and installing it needs root" >&2
    exit 1
fi

# Debian's postinst tries to start the service; without systemd that fails harmlessly
# or starts it, and either way the check below decides.
"$HERE/apt-install.sh" redis-server

if ! answers; then
    # A persisted dump is not wanted: this instance is for tests only.
    redis-server --bind 127.0.0.1 --port "$PORT" --daemonize yes --save "" \
        --appendonly no --logfile "$LOG" --dir /tmp >/dev/null
fi

deadline=$((SECONDS + WAIT_SECONDS))
until answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "provision-redis: redis-server did not answer PING within ${WAIT_SECONDS}s; last log lines:" >&2
        tail -n 40 "$LOG" >&2 || true
        exit 1
    fi
    sleep 0.2
done
echo "provision-redis: $(redis-server --version | cut -d' ' -f1-3) answers on 127.0.0.1:$PORT"
