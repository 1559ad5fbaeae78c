#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests of the audit web page (tests/web/).
#
# Playwright drives this browser (/usr/bin/chromium); it never downloads one of its own.
# Installed without recommends: that leaves out upower, udev, libgl1-mesa-dri,
# notification-daemon and fonts-liberation, none of which headless Chromium needs
# (it renders with its bundled SwiftShader under --disable-gpu). It does need one font
# to render text, so fonts-dejavu-core comes along explicitly.
# Idempotent; on a provisioned machine it only checks that Chromium starts headless.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BROWSER=/usr/bin/chromium
LOG=/var/log/chromium-provision.log

bash "$HERE/apt-install.sh" chromium fonts-dejavu-core
if [ ! -x "$BROWSER" ]; then
    echo "provision-chromium: $BROWSER is still missing after installing chromium" >&2
    exit 1
fi

# The same flags the tests use. As root Chromium refuses to start with its sandbox.
page='data:text/html,<title>t</title><p id="x">medic-headless-ok</p>'
if ! timeout 60 "$BROWSER" --headless=new --no-sandbox --disable-gpu \
    --disable-background-networking --disable-component-update --disable-sync \
    --no-first-run --disable-quic --dump-dom "$page" >"$LOG" 2>&1 ||
    ! grep -q "medic-headless-ok" "$LOG"; then
    echo "provision-chromium: $BROWSER does not render a page headless; log tail:" >&2
    tail -n 30 "$LOG" >&2
    exit 1
fi
echo "provision-chromium: $("$BROWSER" --version 2>/dev/null | head -n 1) renders headless"
