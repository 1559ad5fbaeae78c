#!/usr/bin/env bash
# Build the images the container tests run, without any registry.
#
# medic-test/busybox:1 is a root tree holding only /bin/busybox (static) and the
# applet symlinks the tests use, imported with `docker import`. Skipped when the image
# exists already, so this is quick on every run after the first.
set -euo pipefail

IMAGE=medic-test/busybox:1
APPLETS=(sh sleep httpd wget kill echo cat rm touch test ls ps id true false printf head seq yes)

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi

BUSYBOX=/bin/busybox
if ! [ -x "$BUSYBOX" ]; then
    echo "build-test-images: $BUSYBOX is missing; run scripts/provision-docker.sh first" >&2
    exit 1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/www"
chmod 1777 "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
for applet in "${APPLETS[@]}"; do
    ln -s busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
echo 'nogroup:x:65534:' >>"$root/etc/group"

tar -C "$root" -c . | docker import --change 'ENV PATH=/bin' - "$IMAGE" >/dev/null
echo "build-test-images: built $IMAGE"
