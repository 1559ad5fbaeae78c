"""Reading a file named from outside (a policy, the config) without ever blocking.

A path in a policy or a config is not to be trusted. Opening a FIFO that has no writer
blocks until one comes, and a blocking call on the event loop stops all of Medic; in a
worker thread it holds that thread for good (a timeout cannot interrupt it), and a few
such threads fill the pool every ``asyncio.to_thread`` shares. A device reads forever
(``/dev/zero``) or waits for input (``/dev/tty``), and a huge file fills memory.

So a path that names a FIFO, a device or a socket is refused before it is opened
(opening some devices acts: a watchdog arms, a tape rewinds, a terminal may become
Medic's own), the open is non-blocking and never takes a controlling terminal, the
opened descriptor must still be a regular file (the path could be swapped between the
look and the open), and at most a given number of bytes is read. Anything else is an
:class:`OSError` whose ``strerror`` says what is wrong, which each caller words in its
own message with the path and the fix.
"""

from __future__ import annotations

import errno
import os
import stat

from medic.bounds import ascii_int

_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY
# What is refused before opening: kinds whose open may block or act.
_SPECIAL = frozenset({stat.S_IFIFO, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFSOCK})
NOT_REGULAR = "not a regular file (a FIFO, a device or a socket)"


class NotRegularFileError(OSError):
    """The path names a FIFO, a device, a socket or a folder, not a regular file."""


class FileTooBigError(OSError):
    """The file holds more than the bytes a caller will read."""


def open_regular(path: str, *, follow: bool = True) -> int:
    """A read-only descriptor of the regular file ``path``; OSError when it is missing
    (FileNotFoundError), unreadable or not a regular file (NotRegularFileError). With
    ``follow=False`` a symbolic link is refused (ELOOP)."""
    looked = os.stat(path, follow_symlinks=follow)  # noqa: PTH116 - hot path: no Path
    if stat.S_IFMT(looked.st_mode) in _SPECIAL:
        raise NotRegularFileError(errno.EINVAL, NOT_REGULAR, path)
    fd = os.open(path, _FLAGS if follow else _FLAGS | os.O_NOFOLLOW)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFileError(errno.EINVAL, NOT_REGULAR, path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_head(path: str, limit: int) -> bytes:
    """Up to ``limit`` bytes from the start of the regular file ``path`` (the rest is
    not read); OSError as :func:`open_regular`. Five system calls and no file object:
    the process probe reads its pidfile on every run."""
    fd = open_regular(path)
    try:
        return os.read(fd, limit)
    finally:
        os.close(fd)


# A pidfile holds a pid and a newline; more than this is not a pidfile.
PIDFILE_LIMIT = 64


def read_pidfile(path: str) -> tuple[int | None, str]:
    """The pid on the first line of the pidfile ``path`` (None when it holds none, or
    more than :data:`PIDFILE_LIMIT` bytes) and that line as read, for messages;
    OSError as :func:`open_regular`. Shared by the process probe and ``process.signal``."""
    raw = read_head(path, PIDFILE_LIMIT + 1)
    text = raw.decode("ascii", "replace").strip()
    first = text.splitlines()[0].strip() if text else ""
    if len(raw) > PIDFILE_LIMIT:
        return None, first
    return ascii_int(first), first


def read_regular(path: str, limit: int) -> bytes:
    """The whole regular file ``path``; FileTooBigError when it holds more than
    ``limit`` bytes, else OSError as :func:`open_regular`."""
    fd = open_regular(path)
    try:
        return read_bounded(fd, limit, path)
    finally:
        os.close(fd)


def read_bounded(fd: int, limit: int, path: str) -> bytes:
    """The rest of the open file ``fd`` (from :func:`open_regular`, whose mode a caller
    may check first); FileTooBigError naming ``path`` when it is over ``limit`` bytes."""
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0 and (chunk := os.read(fd, left)):
        chunks.append(chunk)
        left -= len(chunk)
    if left <= 0:
        raise FileTooBigError(errno.EFBIG, f"bigger than {limit} bytes", path)
    return b"".join(chunks)
