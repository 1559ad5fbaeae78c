#!/usr/bin/env bash
# Install stress-ng from Debian: real memory and CPU pressure for the container tests.
#
# The memory tests run the host's stress-ng inside a test container's cgroup
# (`chroot /host stress-ng ...` with / mounted read-only), so it must be on the host.
# Idempotent; a no-op when stress-ng is installed already.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)

if command -v stress-ng >/dev/null 2>&1; then
    exit 0
fi
bash "$HERE/apt-install.sh" stress-ng
if ! command -v stress-ng >/dev/null 2>&1; then
    echo "provision-stress: stress-ng is still missing after installing it" >&2
    exit 1
fi
echo "provision-stress: $(stress-ng --version 2>&1 | head -n 1)"
