"""A wheel of this checkout, built once per session from a copy of the files it needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.wheel import build_wheel


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel --no-deps`` of a copy of this checkout (the shared tree is not written)."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))
