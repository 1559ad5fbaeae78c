#!/usr/bin/env bash
# Images the sidecar tests need: the Python base (debootstrap, no registry) and the
# Medic agent image built on it from this tree.
#
# The Makefile runs the provision scripts in alphabetical order, which puts this one
# before provision-docker.sh, so it makes sure the engine answers first (that script
# is quick when it does). Each step is skipped when its image exists already: a few
# seconds on every run after the first; about three minutes on a fresh machine.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)

bash "$HERE/provision-docker.sh"
bash "$HERE/build-python-base.sh"
tag=$(bash "$HERE/build-medic-image.sh")
echo "provision-docker-images: $tag is ready"
