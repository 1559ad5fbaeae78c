#!/usr/bin/env bash
# Build medic-test/python:1, the base image the agent image is built on in tests.
#
# No container registry is reachable on the build machines, so the base comes from
# debootstrap: Debian bookworm, minbase variant, plus python3, python3-venv,
# python3-pip and ca-certificates, imported with `docker import`. The downloaded
# packages are kept in /var/cache/medic-test/debootstrap so a rebuild does not fetch
# them again. Needs root and a running engine; exits at once when the image exists.
#   scripts/build-python-base.sh            # then:
#   docker build --build-arg BASE=medic-test/python:1 -t medic-test/medic:1 .
set -euo pipefail

IMAGE=${MEDIC_PYTHON_BASE:-medic-test/python:1}
PACKAGES=python3,python3-venv,python3-pip,ca-certificates
CACHE=/var/cache/medic-test/debootstrap
HERE=$(cd "$(dirname "$0")" && pwd)

if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    echo "build-python-base: the Docker engine does not answer; run scripts/provision-docker.sh" >&2
    exit 1
fi
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "build-python-base: building $IMAGE needs root (debootstrap)" >&2
    exit 1
fi

bash "$HERE/apt-install.sh" debootstrap

# The same mirror the host's apt uses (it may be a local proxy), else Debian's own.
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)$/\1/p' \
    /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$CACHE"
work=$(mktemp -d /var/tmp/medic-python-rootfs.XXXXXX)
cleanup() {
    # debootstrap may leave /proc or /sys mounted inside the tree when it fails.
    for m in proc sys dev/pts dev; do
        if mountpoint -q "$work/rootfs/$m" 2>/dev/null; then umount -l "$work/rootfs/$m"; fi
    done
    rm -rf "$work"
}
trap cleanup EXIT

echo "build-python-base: debootstrap bookworm ($PACKAGES) from $mirror"
if ! debootstrap --variant=minbase --include="$PACKAGES" --cache-dir="$CACHE" \
    bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    echo "build-python-base: debootstrap failed; last log lines:" >&2
    tail -n 40 "$work/debootstrap.log" >&2 || true
    tail -n 20 "$work/rootfs/debootstrap/debootstrap.log" >&2 2>/dev/null || true
    exit 1
fi

root=$work/rootfs
: >"$root/etc/machine-id"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc \
    "$root"/usr/share/man "$root"/usr/share/locale "$root"/usr/share/info

tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$IMAGE" >/dev/null
echo "build-python-base: built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE") bytes)"
