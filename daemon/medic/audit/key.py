"""The audit chain's key: kept outside the database it protects.

By default it is ``audit.key`` next to ``audit.db``: 64 random hex characters in a
file of mode 0600, created by the agent's first start. The agent config can name it
instead (``audit: {key: {file: /etc/medic/audit.key}}`` or ``{env: MEDIC_AUDIT_KEY}``),
which lets the key live where the database's writers cannot read it (a credential
store, another mount). A key shorter than 32 characters, or a key file others can
read or write, is refused with the fix.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from medic import secrets as refs
from medic.audit.chain import ChainKey
from medic.errors import MedicError
from medic.regular_file import open_regular, read_bounded

KEY_NAME = "audit.key"
MIN_LENGTH = 32
MAX_FILE_BYTES = 4096  # 64 hex characters; a key file of more is not one


class AuditKeyError(MedicError):
    """The audit key cannot be read, created or trusted."""


def default_key_path(db_path: Path) -> Path:
    return Path(db_path).parent / KEY_NAME


def load_key(
    ref: Mapping[str, str] | None, db_path: Path, *, create: bool = False
) -> ChainKey | None:
    """The key named by ``ref``, else the key file next to ``db_path``; created there
    when ``create`` and absent. None when there is no key and ``create`` is false."""
    if ref is not None:
        try:
            value = refs.resolve(ref)
        except refs.SecretError as exc:
            raise AuditKeyError(f"audit.key: {exc.message}", hint=exc.hint) from exc
        return _checked(value, refs.describe(ref))
    path = default_key_path(db_path)
    if create:
        _create(path)
    try:
        path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditKeyError(f"cannot read the audit key {path}: {exc.strerror}") from exc
    return read_key_file(path)


def read_key_file(path: Path) -> ChainKey:
    """The key in ``path``, a regular file (checked on the opened file: a FIFO or a
    device is refused, never waited on); refused when group or others may read or
    write it."""
    try:
        fd = open_regular(str(path))
        try:
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
            if mode & 0o077:
                raise AuditKeyError(
                    f"the audit key {path} is open to other users (mode {mode:04o})",
                    hint=f"chmod 600 {path}",
                )
            text = read_bounded(fd, MAX_FILE_BYTES, str(path)).decode("utf-8").strip()
        finally:
            os.close(fd)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise AuditKeyError(
            f"cannot read the audit key {path}: {reason}",
            hint="run medic as the agent's user, or pass --key-file",
        ) from exc
    return _checked(text, f"file {path}")


def _checked(value: str, source: str) -> ChainKey:
    if len(value) < MIN_LENGTH:
        raise AuditKeyError(
            f"the audit key from {source} is {len(value)} characters; it needs {MIN_LENGTH}",
            hint="e.g. python3 -c 'import secrets; print(secrets.token_hex(32))'",
        )
    return ChainKey(value.encode(), source)


def _create(path: Path) -> None:
    """Write a new random key, mode 0600, unless the file exists (never overwrite)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise AuditKeyError(
            f"cannot create the audit key {path}: {exc.strerror}",
            hint="check that the state_dir is writable by the agent's user",
        ) from exc
    try:
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
