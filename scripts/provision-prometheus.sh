#!/usr/bin/env bash
# Install a real Prometheus server and node exporter, for the metrics tests.
#
# Idempotent and quick when already done: both programs on PATH means nothing to do.
# Otherwise (as root, on Debian bookworm) it installs the Debian packages without
# their recommends (about 25 MB to download) and checks that both binaries run.
#
# It does not start the system services: every test starts its own instances on free
# ports with a config and a storage directory under its tmp directory (see
# tests/metrics/conftest.py), so tests never share a server or depend on its history.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROMETHEUS=/usr/bin/prometheus
NODE_EXPORTER=/usr/bin/prometheus-node-exporter

if [ -x "$PROMETHEUS" ] && [ -x "$NODE_EXPORTER" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "provision-prometheus: prometheus is not installed and installing it needs root" >&2
    exit 1
fi

# The packages' maintainer scripts would start the system services (their init scripts
# run on a machine without systemd). Tests start their own instances, so keep the
# services from starting while installing, the way Debian chroots do: a policy-rc.d
# that says no, present only during the install and only if there was none before.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# provision-prometheus.sh: no service starts during the install\nexit 101\n' >"$POLICY"
    chmod 755 "$POLICY"
    trap 'rm -f "$POLICY"' EXIT
fi

bash "$HERE/apt-install.sh" prometheus prometheus-node-exporter

for program in "$PROMETHEUS" "$NODE_EXPORTER"; do
    if ! "$program" --version >/dev/null 2>&1; then
        echo "provision-prometheus: $program does not run after installing it:" >&2
        "$program" --version >&2 || true
        exit 1
    fi
done
echo "provision-prometheus: $("$PROMETHEUS" --version 2>&1 | head -1)"
