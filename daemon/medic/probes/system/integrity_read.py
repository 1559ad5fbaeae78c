"""What the ``file.integrity`` probe reads of one file: digest, mode, owner, size.

Symbolic links are not followed unless asked: the link itself is read (its mode and
owner) and its digest is that of the path it points to, so pointing it elsewhere is a
change. A regular file is opened non-blocking with ``O_NOFOLLOW`` (so a link swapped in
between the look and the read is refused, not followed, and a FIFO swapped in is an
error, not a wait) and read to its end, at most ``max_bytes``;
a bigger file is a probe error that names the bound. Other kinds of file (folders,
sockets) have no digest.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import stat
from pathlib import Path
from typing import Any

from medic.errors import ProbeError
from medic.regular_file import NotRegularFileError, open_regular

CHUNK = 1024 * 1024
ALGORITHMS = ("sha256", "sha512", "blake2b", "sha1")
# What a change is: content, permissions, ownership, kind. mtime alone (touch) is not.
COMPARED = ("exists", "digest", "mode", "owner", "group", "symlink")


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def missing() -> dict[str, Any]:
    """The reading of a file that is not there."""
    return {
        "exists": False,
        "digest": None,
        "mode": None,
        "owner": None,
        "group": None,
        "symlink": False,
        "size": None,
        "mtime": None,
    }


def _digest_fd(fd: int, algorithm: str, max_bytes: int, path: str) -> str:
    digest = hashlib.new(algorithm)
    done = 0
    while chunk := os.read(fd, CHUNK):
        done += len(chunk)
        if done > max_bytes:
            raise ProbeError(
                f"{path} is bigger than max_bytes ({max_bytes} bytes); it was not hashed",
                hint="raise max_bytes, or leave this file out of path",
            )
        digest.update(chunk)
    return digest.hexdigest()


def read_file(path: str, algorithm: str, max_bytes: int, follow: bool) -> dict[str, Any]:
    """One file's reading (blocking: runs in a thread)."""
    try:
        st = Path(path).stat() if follow else Path(path).lstat()
    except (FileNotFoundError, NotADirectoryError):
        return missing()
    except OSError as exc:
        raise ProbeError(f"cannot look at {path}: {exc.strerror}", hint=_HINT) from exc
    out = {
        "exists": True,
        "digest": None,
        "mode": f"{stat.S_IMODE(st.st_mode):04o}",
        "owner": _owner(st.st_uid),
        "group": _group(st.st_gid),
        "symlink": stat.S_ISLNK(st.st_mode),
        "size": st.st_size,
        "mtime": st.st_mtime,
    }
    if stat.S_ISLNK(st.st_mode):
        target = os.fsencode(Path(path).readlink())
        out["digest"] = hashlib.new(algorithm, target).hexdigest()
    elif stat.S_ISREG(st.st_mode):
        if st.st_size > max_bytes:
            raise ProbeError(
                f"{path} is {st.st_size} bytes, more than max_bytes ({max_bytes}); "
                "it was not hashed",
                hint="raise max_bytes, or leave this file out of path",
            )
        try:  # the opened file must still be regular: a FIFO swapped in is not waited on
            fd = open_regular(path, follow=follow)
        except FileNotFoundError:
            return missing()
        except NotRegularFileError as exc:
            raise ProbeError(
                f"{path} changed to a FIFO, a device or a socket while it was read",
                hint="the next run reads it again; if it stays, leave it out of path",
            ) from exc
        except OSError as exc:
            raise ProbeError(f"cannot read {path}: {exc.strerror}", hint=_HINT) from exc
        try:
            out["digest"] = _digest_fd(fd, algorithm, max_bytes, path)
        finally:
            os.close(fd)
    return out


_HINT = "give Medic read access to the file and its folder, or fix path"
