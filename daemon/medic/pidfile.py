"""Reading a pidfile without ever blocking the event loop.

The ``process`` probe and the ``process.signal`` action read pidfiles on the event
loop, and a path in a policy is not to be trusted: opening a FIFO that has no writer
blocks until one comes, which on the loop stops all of Medic (an action's timeout
cannot interrupt a blocking call either). So the file is opened non-blocking and must
be a regular file; anything else is an :class:`OSError` saying so, which each caller
words in its own message. Three system calls and no file object: the probe reads its
pidfile on every run.
"""

from __future__ import annotations

import errno
import os
import stat

_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK
NOT_REGULAR = "not a regular file"


def read_pidfile(path: str, limit: int) -> bytes:
    """Up to ``limit`` bytes of the regular file ``path``; OSError when it is missing
    (FileNotFoundError), unreadable, or not a regular file (a FIFO, a device)."""
    fd = os.open(path, _FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, NOT_REGULAR, path)
        return os.read(fd, limit)
    finally:
        os.close(fd)
