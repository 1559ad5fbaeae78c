"""Count (or prune) what Docker keeps that nothing uses: a Nagios-style check for Medic.

    docker_garbage.py            count dangling images and stopped containers, print
                                 one Nagios line with perfdata, exit 0 (3 when the
                                 engine cannot be reached)
    docker_garbage.py --prune    remove exactly what the count counts, print what went

Counted, and pruned, are: dangling images (layers no tag and no container refers to)
and stopped containers created more than ``--age`` ago (default 24h), leaving out any
container labelled ``medic.ignore=true``. Running containers and the images they use
are never touched. It talks to the engine through the Docker SDK that Medic's own
virtualenv holds, so it needs no docker CLI (the sidecar image has none).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import docker
from docker.errors import DockerException

OK, UNKNOWN = 0, 3
IGNORE = "medic.ignore=true"
TIMEOUT = 60


def filters(age: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The prune filters: (dangling images, stopped containers created before ``age``)."""
    return {"dangling": True}, {"until": age, "label!": IGNORE}


def seconds(age: str) -> float:
    """``24h``, ``90m``, ``3600s`` or a bare number of seconds (what the engine accepts)."""
    units = {"s": 1, "m": 60, "h": 3600}
    if age and age[-1] in units:
        return float(age[:-1]) * units[age[-1]]
    return float(age)


def is_garbage(summary: dict[str, Any], cutoff: float) -> bool:
    """A stopped container that ``prune`` would remove: created before ``cutoff``, not ignored."""
    key, _, value = IGNORE.partition("=")
    ignored = str((summary.get("Labels") or {}).get(key, "")).lower() == value
    return float(summary.get("Created") or 0) < cutoff and not ignored


def count(client: Any, age: str) -> str:
    """One Nagios line: a summary, then perfdata Medic turns into fields."""
    image_filter, _ = filters(age)
    dangling = client.api.images(filters=image_filter, quiet=True)
    cutoff = time.time() - seconds(age)
    stopped = client.api.containers(all=True, filters={"status": ["exited", "created", "dead"]})
    garbage = [c for c in stopped if is_garbage(c, cutoff)]
    return (
        f"OK - {len(dangling)} dangling images, {len(garbage)} stopped containers older "
        f"than {age} | dangling_images={len(dangling)};;;0 stopped_containers={len(garbage)};;;0"
    )


def prune(client: Any, age: str) -> str:
    """Remove what :func:`count` counts; a one-line account of what went."""
    image_filter, container_filter = filters(age)
    images = client.api.prune_images(filters=image_filter)
    containers = client.api.prune_containers(filters=container_filter)
    removed_images = len(images.get("ImagesDeleted") or [])
    removed_containers = len(containers.get("ContainersDeleted") or [])
    freed = int(images.get("SpaceReclaimed") or 0) + int(containers.get("SpaceReclaimed") or 0)
    return (
        f"pruned {removed_images} image layers and {removed_containers} stopped containers, "
        f"{freed / 1024 / 1024:.1f} MiB freed"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prune", action="store_true", help="remove instead of counting")
    parser.add_argument("--age", default="24h", help="stopped containers older than this")
    args = parser.parse_args(argv)
    try:
        seconds(args.age)
    except ValueError:
        print(f"UNKNOWN - --age {args.age!r} is not like 24h, 90m or 3600s")
        return UNKNOWN
    try:
        client = docker.from_env(timeout=TIMEOUT)
        print(prune(client, args.age) if args.prune else count(client, args.age))
    except DockerException as exc:
        print(f"UNKNOWN - the Docker engine cannot be reached: {exc}")
        return UNKNOWN
    return OK


if __name__ == "__main__":
    sys.exit(main())
