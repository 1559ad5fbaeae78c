"""The real Docker Engine's fixtures (tests/kit/containers.py says what each one makes)."""

from kit.containers import (  # noqa: F401  (fixtures, found by pytest by name)
    busybox_image,
    container_state,
    docker_client,
    run_container,
    unique,
    wait_until,
)
