#!/usr/bin/env bash
# Install Monit from Debian: the peer bench/bench_vs_monit.py compares Medic with.
#
# The bench runs its own Monit (its own control file, in the foreground); the Debian
# service is not needed and is left as the package sets it up. Idempotent.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)

if command -v monit >/dev/null 2>&1; then
    exit 0
fi
bash "$HERE/apt-install.sh" monit
if ! command -v monit >/dev/null 2>&1; then
    echo "provision-monit: monit is still missing after installing it" >&2
    exit 1
fi
echo "provision-monit: $(monit -V 2>&1 | head -n 1)"
