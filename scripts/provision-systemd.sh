#!/usr/bin/env bash
# Build the image in which the systemd tests run a real systemd as PID 1.
#
# medic-test/systemd:1 is a Debian bookworm root tree (debootstrap, minbase variant)
# with systemd, systemd-sysv, dbus, python3, python3-venv and procps, imported with
# `docker import` because no container registry is reachable. Runs after
# provision-docker.sh (the Makefile takes the scripts in alphabetical order), needs
# root, and exits at once when the image exists already. About a minute on a fresh
# machine; the apt caches are dropped from the image so it stays small.
#
# The tests start it like this (`--privileged` is refused on these machines):
#   docker run -d --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add SYS_PTRACE \
#     --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
#     --cgroupns=host --tmpfs /sys/fs/cgroup:rw,mode=755 \
#     -v /sys/fs/cgroup/<each controller>:/sys/fs/cgroup/<each controller>:rw --tmpfs /run \
#     --tmpfs /run/lock --tmpfs /tmp -e container=docker medic-test/systemd:1 /lib/systemd/systemd
# (never `-v /sys/fs/cgroup:/sys/fs/cgroup:rw`: systemd then writes into the host's
# cgroup tmpfs, and Docker loses memory stats and OOM marking; see tests/kit/systemd_node.py)
set -euo pipefail

IMAGE=medic-test/systemd:1
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-venv,procps
HERE=$(cd "$(dirname "$0")" && pwd)

if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    echo "provision-systemd: the Docker engine does not answer; run scripts/provision-docker.sh" >&2
    exit 1
fi
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "provision-systemd: building $IMAGE needs root (debootstrap)" >&2
    exit 1
fi

bash "$HERE/apt-install.sh" debootstrap

# The same mirror the host's apt uses (it may be a local proxy), else Debian's own.
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)$/\1/p' \
    /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d /var/tmp/medic-systemd-rootfs.XXXXXX)
cleanup() {
    # debootstrap may leave /proc or /sys mounted inside the tree when it fails.
    for m in proc sys dev/pts dev; do
        mountpoint -q "$work/rootfs/$m" 2>/dev/null && umount -l "$work/rootfs/$m"
    done
    rm -rf "$work"
}
trap cleanup EXIT

echo "provision-systemd: debootstrap bookworm ($PACKAGES) from $mirror"
if ! debootstrap --variant=minbase --include="$PACKAGES" bookworm "$work/rootfs" "$mirror" \
    >"$work/debootstrap.log" 2>&1; then
    echo "provision-systemd: debootstrap failed; last log lines:" >&2
    tail -n 40 "$work/debootstrap.log" >&2 || true
    tail -n 20 "$work/rootfs/debootstrap/debootstrap.log" >&2 2>/dev/null || true
    exit 1
fi

root=$work/rootfs
# A fresh machine id on every boot; nothing from the build host leaks into the image.
: >"$root/etc/machine-id"
echo medic-node >"$root/etc/hostname"
# Units that only make sense on real hardware or a console stay out of the way.
for unit in getty@tty1.service console-getty.service systemd-firstboot.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc \
    "$root"/usr/share/man "$root"/usr/share/locale

tar -C "$root" -c . | docker import \
    --change 'ENV container=docker' \
    --change 'CMD ["/lib/systemd/systemd"]' \
    - "$IMAGE" >/dev/null
echo "provision-systemd: built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE") bytes)"
