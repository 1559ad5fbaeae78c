#!/usr/bin/env bash
# Build the Medic agent image from this tree, unless an image of exactly this tree
# exists already, and print its tag.
#
# The tag is medic-test/medic:<hash>, the hash covering the base image's id and every
# file the build context holds (Dockerfile, .dockerignore, pyproject.toml, README.md,
# daemon/, container/). An unchanged tree costs one hash; a changed one rebuilds,
# reusing the dependency layer while pyproject.toml is unchanged. The newest build is
# also tagged medic-test/medic:1; older hash tags are removed.
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

PIP=("$ROOT/.venv/bin/python" -m pip)
[ -x "$ROOT/.venv/bin/python" ] || PIP=(python3 -m pip)
WHEELS=$ROOT/container/wheels

# The wheelhouse: binary wheels for the base's Python (its version decides markers such
# as python_full_version < "3.11.3"), filled once per dependency list and Python.
fill_wheelhouse() {
    local requirements python_version deps_hash
    requirements=$(python3 -c "import tomllib, sys; print('\n'.join(tomllib.load(open(sys.argv[1], 'rb'))['project']['dependencies']))" "$ROOT/pyproject.toml")
    python_version=$(docker run --rm --network none --entrypoint python3 "$BASE" \
        -c 'import platform; print(platform.python_version())')
    deps_hash=$(printf '%s\n%s\n' "$python_version" "$requirements" | sha256sum | cut -c1-12)
    [ -e "$WHEELS/.complete-$deps_hash" ] && return 0
    printf '%s\n' "$requirements" >"$WHEELS/.requirements.txt"
    # Every manylinux tag bookworm's glibc (2.36) runs, spelled out: pip does not
    # widen a --platform to the older ones.
    local platforms=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64
        --platform manylinux1_x86_64 --platform linux_x86_64)
    local minor
    for minor in $(seq 5 36); do
        platforms+=(--platform "manylinux_2_${minor}_x86_64")
    done
    if ! "${PIP[@]}" download --quiet --dest "$WHEELS" --only-binary=:all: \
        --implementation cp --python-version "$python_version" \
        "${platforms[@]}" \
        "setuptools>=68" wheel -r "$WHEELS/.requirements.txt" >"$WHEELS/.pip.log" 2>&1; then
        echo "build-medic-image: the host's pip could not fetch the wheels; last lines:" >&2
        tail -n 20 "$WHEELS/.pip.log" >&2
        exit 1
    fi
    touch "$WHEELS/.complete-$deps_hash"
}

tree_hash() {
    cd "$ROOT"
    {
        echo "base $base_id"
        find Dockerfile .dockerignore pyproject.toml README.md daemon container -type f \
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
if ! DOCKER_BUILDKIT=0 docker build --build-arg "BASE=$BASE" \
    --build-arg "PIP_INSTALL_OPTIONS=--no-index --find-links /src/container/wheels" \
    -t "$tag" -t "$REPO:1" "$ROOT" >"$log" 2>&1; then
    echo "build-medic-image: docker build failed; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
fi
rm -f "$log"
# Earlier builds of other trees: drop their tags (an image still in use stays).
docker image ls "$REPO" --format '{{.Repository}}:{{.Tag}}' | while read -r old; do
    case "$old" in
        "$tag" | "$REPO:1") ;;
        *) docker image rm "$old" >/dev/null 2>&1 || true ;;
    esac
done
echo "$tag"
