"""Secrets the agent keeps in its state directory: made once, 0600, refused when shared."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from medic.errors import ConfigError
from medic.statefiles import ensure_secret, read_secret


def test_made_once_private_and_read_back(tmp_path: Path) -> None:
    """The first call makes a random 0600 secret; later calls return the same one."""
    path = tmp_path / "links.key"
    first = ensure_secret(path)
    assert len(first) >= 40 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_secret(path) == first == read_secret(path)


def test_a_shared_secret_is_refused(tmp_path: Path) -> None:
    """A secret file others may read is an error naming the fix, and never read."""
    path = tmp_path / "api.token"
    path.write_text("x" * 40)
    path.chmod(0o644)
    with pytest.raises(ConfigError) as err:
        ensure_secret(path)
    assert err.value.message == f"{path} may be read by others (mode -rw-r--r--)"
    with pytest.raises(ConfigError, match="may be read by others"):
        read_secret(path)


def test_no_state_dir_no_secret(tmp_path: Path) -> None:
    """A missing state directory is not made here: the error says to make it writable."""
    with pytest.raises(ConfigError, match="cannot make"):
        ensure_secret(tmp_path / "absent" / "api.token")
    assert read_secret(tmp_path / "absent" / "api.token") is None
