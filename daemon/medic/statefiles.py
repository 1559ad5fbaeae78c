"""Secrets the agent makes for itself and keeps in its state directory, mode 0600.

Two live there: ``api.token`` (the API's bearer token when the config names none, so
an operator on the host can use ``medic silence`` and ``medic approve`` at once) and
``links.key`` (the key that signs the approve, deny and acknowledge links in
messages). Each is made on the agent's first start, with ``O_EXCL`` so that two starts
never race, and read back on every later one. A file that others may read is refused:
its secret is no longer one.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from medic.errors import ConfigError
from medic.regular_file import open_regular, read_bounded

API_TOKEN_FILE = "api.token"  # noqa: S105 -- a file name, not a secret
LINKS_KEY_FILE = "links.key"
MAX_BYTES = 4096  # a token or a key of a few dozen characters
_REMAKE = "delete it and restart medic to make a new one"


def _read_private(path: Path) -> str:
    """The text of ``path``, a regular file only its owner may read (checked on the
    opened file: a FIFO or a device put there is an OSError, never a hang)."""
    fd = open_regular(str(path))
    try:
        mode = os.fstat(fd).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"{path} may be read by others (mode {stat.filemode(mode)})",
                hint=f"chmod 600 {path}, or delete it and restart medic to make a new one",
            )
        return read_bounded(fd, MAX_BYTES, str(path)).decode("utf-8", "replace").strip()
    finally:
        os.close(fd)


def read_secret(path: Path) -> str | None:
    """The secret in ``path``; None when there is no such file (or no permission to read
    it); ConfigError when others may read it or it is not a regular file."""
    try:
        value = _read_private(path)
    except (FileNotFoundError, PermissionError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", hint=_REMAKE) from exc
    return value or None


def ensure_secret(path: Path) -> str:
    """The secret in ``path``, made there (random, 0600) if there is none yet; the
    folder (the state directory the audit log opened) must exist. ConfigError when it
    cannot be made or is readable by others."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(
            f"cannot make {path}: {exc.strerror or exc}",
            hint="make state_dir writable for the user medic runs as",
        ) from exc
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
    try:
        value = _read_private(path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", hint=_REMAKE) from exc
    if not value:
        raise ConfigError(f"{path} is empty", hint=f"delete {path} and restart medic")
    return value
