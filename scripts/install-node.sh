#!/usr/bin/env bash
# Install (or upgrade) Medic on a Debian host as a systemd service.
#
#   sudo scripts/install-node.sh [--wheel FILE] [--wheelhouse DIR] [--start]
#
# From a checkout of the repository (this script finds systemd/ and docs/ next to it):
#   - a virtualenv in /opt/medic/venv with Medic and its dependencies: the wheel given
#     with --wheel, else one built from this checkout; --wheelhouse DIR installs from
#     that directory of wheels only (no index), for hosts without PyPI;
#   - /usr/local/bin/medic, a link to the venv's entry point;
#   - /etc/systemd/system/medic.service, replaced on every run (customise it with a
#     drop-in: `systemctl edit medic`);
#   - /etc/medic/medic.yaml (dry-run) and /etc/medic/policies/, and /etc/default/medic
#     for secrets, created only when missing: your edits are never overwritten;
#   - the docs and example policies under /opt/medic/.
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
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
[ -f "$ROOT/systemd/medic.service" ] || die "no systemd/medic.service next to this script in $ROOT"
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
    [ -f "$ROOT/pyproject.toml" ] || die "no --wheel given and no pyproject.toml in $ROOT to build one"
    say "building a wheel from $ROOT"
    "$VENV/bin/pip" wheel --quiet --disable-pip-version-check "${pip_index[@]}" \
        --no-deps --wheel-dir "$tmp" "$ROOT" >/dev/null
    wheel=$(ls "$tmp"/medic-*.whl)
fi
say "installing $(basename "$wheel")"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${pip_index[@]}" "$wheel"
# The same version number may hold new code (a rebuilt wheel): always replace Medic itself.
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall "$wheel"
"$VENV/bin/medic" --version >/dev/null || die "the installed medic does not run"
ln -sfn "$VENV/bin/medic" "$LINK"

# 3. Configuration, created once; secrets go to $ENV_FILE (root only).
install -d -m 0750 "$ETC" "$ETC/policies"
if [ ! -e "$ETC/medic.yaml" ]; then
    say "writing $ETC/medic.yaml (dry-run: Medic decides and audits, acts on nothing)"
    cat >"$ETC/medic.yaml" <<'YAML'
# Medic on this node: see /opt/medic/docs/deployment.md.
# Start in dry-run; after a week of `medic audit list --kind action.would_run`
# showing what it would have done, set dry_run: false and `systemctl reload medic`.
dry_run: true
state_dir: /var/lib/medic
policies:
  - /etc/medic/policies      # copy packs from /opt/medic/examples/policies/
api:
  listen: 127.0.0.1:9325
log:
  format: json
  level: info
notifiers: {}
  # oncall: {type: webhook, url: https://alerts.example.org/medic, secret_env: MEDIC_WEBHOOK_SECRET}
YAML
    chmod 0640 "$ETC/medic.yaml"
fi
if [ ! -e "$ENV_FILE" ]; then
    install -m 0600 "$ROOT/systemd/medic.default" "$ENV_FILE"
fi

# 4. Docs and examples, replaced with this version's.
install -d -m 0755 "$PREFIX/docs" "$PREFIX/examples"
[ -f "$ROOT/docs/deployment.md" ] && install -m 0644 "$ROOT/docs/deployment.md" "$PREFIX/docs/"
if [ -d "$ROOT/policies" ]; then
    rm -rf "$PREFIX/examples/policies"
    cp -r "$ROOT/policies" "$PREFIX/examples/policies"
fi

# 5. The unit.
unit_note="unit unchanged"
if ! cmp -s "$ROOT/systemd/medic.service" "$UNIT"; then
    install -m 0644 "$ROOT/systemd/medic.service" "$UNIT"
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
