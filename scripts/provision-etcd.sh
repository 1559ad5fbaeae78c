#!/usr/bin/env bash
# Install etcd (server and etcdctl) for the fleet tests; they start their own 3-member
# cluster as local processes on free loopback ports, so nothing is started here.
#
# Idempotent and quick when already done: if `etcd` and `etcdctl` are on PATH it exits.
# Otherwise (as root, on Debian bookworm) it installs etcd-server and etcd-client (3.4).
# Debian's postinst may try to start a system etcd on 2379; the tests do not use it.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if command -v etcd >/dev/null 2>&1 && command -v etcdctl >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "provision-etcd: etcd is not installed and installing it needs root" >&2
    exit 1
fi

"$HERE/apt-install.sh" etcd-server etcd-client
echo "provision-etcd: $(etcd --version | head -1)"
