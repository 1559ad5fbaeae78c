#!/usr/bin/env bash
# Build the Medic agent image from this tree, unless an image of exactly this tree
# exists already, and print its tag.
#
# The tag is medic-test/medic:<hash>, the hash covering the base image's id and every
# file the build context holds (Dockerfile, .dockerignore, pyproject.toml, setup.py,
# MANIFEST.in, README.md, LICENSE, NOTICE, daemon/, container/, policies/, systemd/,
# docs/deployment.md). An unchanged tree costs one hash; a changed one rebuilds,
# reusing the dependency layer while pyproject.toml is unchanged. The newest build is
# also tagged medic-test/medic:1; hash tags older than two hours are removed.
#   scripts/build-medic-image.sh        -> prints e.g. medic-test/medic:3f2a9c1b7d4e
# The base is medic-test/python:1 (scripts/build-python-base.sh), or $MEDIC_BASE_IMAGE.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=${MEDIC_BASE_IMAGE:-medic-test/python:1}
REPO=medic-test/medic

if ! base_id=$(docker image inspect -f '{{.Id}}' "$BASE" 2>/dev/null); then
    echo "build-medic-image: base image $BASE is missing; run scripts/build-python-base.sh" \
        "as root (or scripts/provision-docker-images.sh)" >&2
    exit 1
fi

WHEELS=$ROOT/container/wheels

# The wheelhouse: binary wheels resolved by the base image's own pip and Python (its
# version decides markers such as python_full_version < "3.11.3"), in a throwaway
# container that trusts the host's certificates; once per dependency list and base.
fill_wheelhouse() {
    local requirements deps_hash ca
    requirements=$(python3 -c "import tomllib, sys; print('\n'.join(tomllib.load(open(sys.argv[1], 'rb'))['project']['dependencies']))" "$ROOT/pyproject.toml")
    deps_hash=$(printf '%s\n%s\n' "$base_id" "$requirements" | sha256sum | cut -c1-12)
    [ -e "$WHEELS/.complete-$deps_hash" ] && return 0
    printf '%s\n' "$requirements" >"$WHEELS/.requirements.txt"
    ca=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
    if ! docker run --rm -v "$WHEELS:/wheels" -v "$ca:/etc/medic-host-ca.crt:ro" \
        -e PIP_CERT=/etc/medic-host-ca.crt -e PIP_DISABLE_PIP_VERSION_CHECK=1 \
        -e PIP_INDEX_URL -e HTTPS_PROXY -e HTTP_PROXY -e NO_PROXY \
        --entrypoint python3 "$BASE" -m pip download --quiet --dest /wheels \
        --only-binary=:all: "setuptools>=77" wheel -r /wheels/.requirements.txt \
        >"$WHEELS/.pip.log" 2>&1; then
        echo "build-medic-image: pip could not download the wheels; last lines:" >&2
        tail -n 20 "$WHEELS/.pip.log" >&2
        exit 1
    fi
    touch "$WHEELS/.complete-$deps_hash"
}

tree_hash() {
    cd "$ROOT"
    {
        echo "base $base_id"
        find Dockerfile .dockerignore pyproject.toml setup.py MANIFEST.in README.md LICENSE \
            NOTICE daemon container policies systemd docs/deployment.md -type f \
            ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path '*.egg-info/*' \
            ! -path 'container/wheels/*' -print0 \
            | LC_ALL=C sort -z | xargs -0 sha256sum
    } | sha256sum | cut -c1-12
}

tag="$REPO:$(tree_hash)"
if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "$tag"
    exit 0
fi

fill_wheelhouse
log=$(mktemp /tmp/medic-image-build.XXXXXX.log)
if ! DOCKER_BUILDKIT=0 docker build --force-rm --build-arg "BASE=$BASE" \
    --build-arg "PIP_INSTALL_OPTIONS=--no-index --find-links /src/container/wheels" \
    -t "$tag" -t "$REPO:1" "$ROOT" >"$log" 2>&1; then
    echo "build-medic-image: docker build failed; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
fi
rm -f "$log"
# Earlier builds of other trees: drop their tags, and the untagged images their build
# stage left, once they are two hours old (a test run in parallel may still be using a
# younger one; an image in use stays anyway). The dependency stages stay: the cache.
now=$(date +%s)
{
    docker image ls "$REPO" --format '{{.Repository}}:{{.Tag}}'
    docker image ls --quiet --filter dangling=true --filter label=io.medic.stage=build
} | while read -r old; do
    case "$old" in
        "$tag" | "$REPO:1") continue ;;
    esac
    created=$(docker image inspect -f '{{.Created}}' "$old" 2>/dev/null) || continue
    if [ $((now - $(date -d "$created" +%s))) -gt 7200 ]; then
        docker image rm "$old" >/dev/null 2>&1 || true
    fi
done
echo "$tag"
