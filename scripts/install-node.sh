#!/usr/bin/env bash
# Install (or upgrade) Medic on a Debian host as a systemd service.
#
#   sudo install-node.sh --wheel FILE [--wheelhouse DIR] [--start]
#   sudo scripts/install-node.sh [--wheelhouse DIR] [--start]      (in a checkout)
#
# With --wheel, this script alone and the wheel (medic_agent-*.whl) are all it needs:
# the unit, the example packs and the docs come out of the installed package. Without
# --wheel it builds one from the checkout it sits in. --wheelhouse DIR installs from
# that directory of wheels only (no index), for hosts without PyPI. It makes:
#   - a virtualenv in /opt/medic/venv with Medic and its dependencies;
#   - /usr/local/bin/medic, a link to the venv's entry point;
#   - /etc/systemd/system/medic.service, replaced on every run (customise it with a
#     drop-in: `systemctl edit medic`);
#   - on first install, /etc/medic/ from `medic init` (medic.yaml in dry-run with the
#     host pack on, the example packs under policies/) and /etc/default/medic for
#     secrets: files already there are never overwritten;
#   - the docs and example packs of this version under /opt/medic/.
# Then `systemctl daemon-reload`; a running medic is restarted onto the new version;
# --start also enables and starts it. Running it again is safe (idempotent).
#
# Needs root, python3 (3.11 or newer) with python3-venv, and systemd.
set -euo pipefail

PREFIX=/opt/medic
VENV=$PREFIX/venv
ETC=/etc/medic
UNIT=/etc/systemd/system/medic.service
ENV_FILE=/etc/default/medic
LINK=/usr/local/bin/medic
ROOT=$(cd "$(dirname "$0")/.." && pwd)

wheel="" wheelhouse="" start=no
while [ $# -gt 0 ]; do
    case "$1" in
        --wheel) wheel=$(realpath "$2"); shift 2 ;;
        --wheelhouse) wheelhouse=$(realpath "$2"); shift 2 ;;
        --start) start=yes; shift ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install-node: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

say() { echo "install-node: $*"; }
die() { echo "install-node: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (sudo $0 ...)"
command -v python3 >/dev/null || die "python3 is missing: apt-get install python3 python3-venv"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Medic needs Python 3.11 or newer; this host has $(python3 -V 2>&1)"
python3 -c 'import ensurepip, venv' 2>/dev/null \
    || die "the venv module is missing: apt-get install python3-venv"
[ -z "$wheel" ] || [ -f "$wheel" ] || die "no such wheel: $wheel"
[ -z "$wheelhouse" ] || [ -d "$wheelhouse" ] || die "no such wheelhouse directory: $wheelhouse"

pip_index=()
[ -n "$wheelhouse" ] && pip_index=(--no-index --find-links "$wheelhouse")

# 1. The virtualenv: made again when its interpreter no longer runs (a Python upgrade).
if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    say "creating $VENV"
    rm -rf "$VENV"
    install -d -m 0755 "$PREFIX"
    python3 -m venv "$VENV"
fi

# 2. Medic and its dependencies.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$wheel" ]; then
    [ -f "$ROOT/pyproject.toml" ] && [ -f "$ROOT/setup.py" ] \
        || die "no --wheel given, and $ROOT is no checkout of Medic to build one from"
    say "building a wheel from $ROOT"
    "$VENV/bin/pip" wheel --quiet --disable-pip-version-check "${pip_index[@]}" \
        --no-deps --wheel-dir "$tmp" "$ROOT" >/dev/null
    wheel=$(ls "$tmp"/medic_agent-*.whl)
fi
say "installing $(basename "$wheel")"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${pip_index[@]}" "$wheel"
# The same version number may hold new code (a rebuilt wheel): always replace Medic itself.
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall "$wheel"
"$VENV/bin/medic" --version >/dev/null || die "the installed medic does not run"
ln -sfn "$VENV/bin/medic" "$LINK"

# What the package ships beside its code (the unit, the packs, the docs).
shared() {
    "$VENV/bin/python" -c 'import sys; from medic.packaged import shared; print(shared(sys.argv[1]))' "$1" \
        || die "the installed medic lacks $1; install a wheel built with setup.py"
}
unit_source=$(shared systemd/medic.service)
default_source=$(shared systemd/medic.default)
docs_source=$(shared docs/deployment.md)
packs_source=$(shared policies)

# 3. Configuration, on first install only; secrets go to $ENV_FILE (root only).
install -d -m 0750 "$ETC"
if [ ! -e "$ETC/medic.yaml" ]; then
    say "writing $ETC/ with medic init (dry-run: Medic decides and audits, acts on nothing)"
    "$VENV/bin/medic" init "$tmp/etc" --state-dir /var/lib/medic >/dev/null
    cp -r --no-clobber "$tmp/etc/." "$ETC/"   # your own files there stay as they are
fi
install -d -m 0750 "$ETC/policies"
if [ ! -e "$ENV_FILE" ]; then
    install -m 0600 "$default_source" "$ENV_FILE"
fi

# 4. Docs and examples, replaced with this version's.
install -d -m 0755 "$PREFIX/docs" "$PREFIX/examples"
install -m 0644 "$docs_source" "$PREFIX/docs/"
rm -rf "$PREFIX/examples/policies"
cp -r "$packs_source" "$PREFIX/examples/policies"

# 5. The unit.
unit_note="unit unchanged"
if ! cmp -s "$unit_source" "$UNIT"; then
    install -m 0644 "$unit_source" "$UNIT"
    unit_note="unit installed"
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if [ "$start" = yes ]; then
        systemctl enable --quiet medic.service
        if systemctl is-active --quiet medic.service; then
            systemctl restart medic.service
        else
            systemctl start medic.service
        fi
        say "medic is $(systemctl is-active medic.service)"
    elif systemctl is-active --quiet medic.service; then
        say "restarting the running medic onto the new version"
        systemctl restart medic.service
    fi
else
    say "systemd is not running here: start medic later with systemctl enable --now medic"
fi
say "done: $("$VENV/bin/medic" --version), $unit_note"
