#!/usr/bin/env bash
# Make a real Docker Engine answer on this machine, for the container tests.
#
# Idempotent and quick when already done: if `docker version` reaches a server, it
# exits at once. Otherwise (as root, on Debian bookworm, with only the package
# registries reachable) it installs docker.io and busybox-static when missing,
# starts dockerd in its own session, logging to /var/log/dockerd.log, and waits
# until the engine answers (60 s at most).
set -euo pipefail

LOG=/var/log/dockerd.log
SOCK=/var/run/docker.sock
WAIT_SECONDS=60

server_answers() {
    # The client alone succeeds at printing its own part; ask for the server's.
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# Repair: an earlier systemd-in-a-container run that bound /sys/fs/cgroup read-write
# may have left empty directories and symlinks (cpu,cpuacct, net_cls, ...) in the host's
# cgroup v1 tmpfs; with them dockerd reports no memory stats and marks no OOM kills.
# The tmpfs is read-only here, so the clean-up runs in a short-lived container.
repair_cgroups() {
    local stray=() entry
    if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = "tmpfs" ]; then
        for entry in /sys/fs/cgroup/*; do
            if [ -L "$entry" ] || { [ -d "$entry" ] && ! mountpoint -q "$entry"; }; then
                stray+=("$(basename "$entry")")
            fi
        done
    fi
    if [ ${#stray[@]} -gt 0 ] && docker image inspect medic-test/busybox:1 >/dev/null 2>&1; then
        echo "provision-docker: removing stray cgroup entries: ${stray[*]}"
        local mode
        mode=$(awk '$2 == "/sys/fs/cgroup" {split($4, o, ","); print o[1]}' /proc/mounts)
        MODE=${mode:-ro} docker run -e MODE --rm --network none --cap-add SYS_ADMIN --security-opt apparmor=unconfined \
            --security-opt seccomp=unconfined --cgroupns=host -v /sys/fs/cgroup:/cg:rw \
            medic-test/busybox:1 sh -c 'mount -o remount,rw /cg && cd /cg &&
                for e in *; do if [ -L "$e" ]; then rm -f "$e"; fi; done &&
                for e in *; do [ -d "$e" ] && ! grep -q " /cg/$e " /proc/mounts && rmdir "$e"; done;
                mount -o remount,"$MODE" /cg' || echo "provision-docker: could not clean /sys/fs/cgroup" >&2
    fi
}

if command -v docker >/dev/null 2>&1 && server_answers; then
    repair_cgroups
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "provision-docker: the Docker engine is not reachable and installing it needs root" >&2
    exit 1
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
[ -x /bin/busybox ] || missing+=(busybox-static)
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    # Refresh the package lists only when they are absent or the install fails on them.
    if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null \
        || ! apt-get install -y --no-install-recommends "${missing[@]}"; then
        apt-get update
        apt-get install -y --no-install-recommends "${missing[@]}"
    fi
fi

# A client-only docker on PATH (e.g. /usr/local/bin/docker) is fine; dockerd must exist.
if ! command -v docker >/dev/null 2>&1; then
    echo "provision-docker: no docker client after installing docker.io" >&2
    exit 1
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
    # A socket left by a dead daemon would make dockerd refuse to start.
    [ -S "$SOCK" ] && rm -f "$SOCK"
    setsid dockerd --host "unix://$SOCK" >>"$LOG" 2>&1 </dev/null &
fi

deadline=$((SECONDS + WAIT_SECONDS))
until server_answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "provision-docker: dockerd did not answer within ${WAIT_SECONDS}s; last log lines:" >&2
        tail -n 40 "$LOG" >&2 || true
        exit 1
    fi
    sleep 0.5
done
echo "provision-docker: engine $(docker version --format '{{.Server.Version}}') is up"

repair_cgroups
