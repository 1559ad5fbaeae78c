"""What a probe keeps across restarts of the agent: one small JSON file per probe.

A probe that must neither reread nor skip after a restart (the ``journald`` cursor) or
that compares with a baseline (``file.integrity``) asks :func:`state_file` for its
file. The agent names the folder once when it starts, ``<state_dir>/probes``
(:func:`set_root`); ``medic probe`` and ``medic test`` name none, and then the state
lives in memory only (the probe starts afresh each time).

The file is named for the probe's type and a digest of its options, so the same
probe finds its file again after a restart and a probe whose options changed (another
unit, another path) starts afresh. Two policies with the very same probe options share
the file. Writes go to a temporary file renamed over the old one (mode 0600), so a
crash leaves the old state or the new, never half of one. A file that cannot be read
back (damaged, too big) counts as no state; one that cannot be written is a probe
error naming the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medic.errors import ProbeError
from medic.logsetup import get_logger
from medic.regular_file import FileTooBigError, read_regular

log = get_logger("medic.probes.state")

SUBDIR = "probes"
MAX_STATE_BYTES = 4 * 1024 * 1024
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")
_where: dict[str, Path] = {}  # "root" -> the folder, while the agent keeps state


def set_root(path: Path | None) -> None:
    """Keep probe state under ``path`` from now on (None: in memory only)."""
    if path is None:
        _where.pop("root", None)
    else:
        _where["root"] = path


def root() -> Path | None:
    """The folder probe state goes to, None when nothing is kept."""
    return _where.get("root")


def state_key(probe_type: str, options: Mapping[str, Any]) -> str:
    """``<type>-<16 hex digits>``: the same type and options give the same name."""
    canonical = json.dumps(dict(options), sort_keys=True, default=str, separators=(",", ":"))
    digest = hashlib.sha256(f"{probe_type}\n{canonical}".encode()).hexdigest()[:16]
    return f"{_SLUG.sub('_', probe_type)}-{digest}"


class StateFile:
    """One probe's JSON state on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Any:
        """What was saved last; None when nothing was, or it cannot be read back."""
        try:  # a FIFO or a device put in the state folder is refused, never waited on
            raw = read_regular(str(self.path), MAX_STATE_BYTES)
        except FileNotFoundError:
            return None
        except FileTooBigError:
            log.warning("probe.state_too_big", path=str(self.path), limit=MAX_STATE_BYTES)
            return None
        except OSError as exc:
            log.warning("probe.state_unreadable", path=str(self.path), error=exc.strerror)
            return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            log.warning("probe.state_damaged", path=str(self.path))
            return None

    def save(self, data: Any) -> None:
        """Replace the state with ``data`` (JSON), atomically."""
        text = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        if len(text) > MAX_STATE_BYTES:
            raise ProbeError(
                f"probe state for {self.path.name} would be {len(text)} bytes, "
                f"more than {MAX_STATE_BYTES}",
                hint="narrow the probe (fewer files, a tighter glob)",
            )
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp.unlink(missing_ok=True)  # whatever was left there (a FIFO would block)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(self.path)
        except OSError as exc:
            raise ProbeError(
                f"cannot keep probe state in {self.path.parent}: {exc.strerror or exc}",
                hint="make state_dir writable for the user medic runs as",
            ) from exc


def state_file(probe_type: str, options: Mapping[str, Any]) -> StateFile | None:
    """The state file of a probe of ``probe_type`` with ``options``; None: keep nothing."""
    folder = root()
    if folder is None:
        return None
    return StateFile(folder / f"{state_key(probe_type, options)}.json")
