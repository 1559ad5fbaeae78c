#!/usr/bin/env bash
# Install a real Alertmanager (and Prometheus, through provision-prometheus.sh), for
# the Alertmanager receiver's end-to-end test.
#
# Idempotent and quick when already done: the binary on PATH means nothing to install.
# Otherwise (as root, on Debian bookworm) it installs the Debian package without its
# recommends and checks that the binary runs.
#
# It does not start the system service: the test starts its own Alertmanager on a
# free port with its config and storage under its tmp directory, clustering off (see
# tests/integration/test_alertmanager_e2e.py), so tests never share an instance.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ALERTMANAGER=/usr/bin/prometheus-alertmanager

# The end-to-end test needs a Prometheus to evaluate the alert rule as well.
bash "$HERE/provision-prometheus.sh"

if [ ! -x "$ALERTMANAGER" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "provision-alertmanager: prometheus-alertmanager is not installed and installing it needs root" >&2
        exit 1
    fi
    bash "$HERE/apt-install.sh" prometheus-alertmanager
fi

if ! "$ALERTMANAGER" --version >/dev/null 2>&1; then
    echo "provision-alertmanager: $ALERTMANAGER does not run after installing it:" >&2
    "$ALERTMANAGER" --version >&2 || true
    exit 1
fi
echo "provision-alertmanager: $("$ALERTMANAGER" --version 2>&1 | head -1)"
