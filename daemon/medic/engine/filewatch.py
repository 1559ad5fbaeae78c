"""Policy files watched with inotify: one wake-up per burst of edits, no thread, no polling.

The agent reloads when something changes under a policy path (``watch: true``). The
kernel reports each change on one file descriptor that the event loop reads, so
watching costs no thread and no library (watchfiles, with anyio and a worker thread,
cost the agent 1 to 2 MB). A directory is watched with every directory below it, and
directories made later are added as they appear; a file path is watched through its
directory, so an editor that saves by renaming a new file over it is seen too (as is a
Kubernetes ConfigMap's ``..data`` swap). Editors' scratch files (``.x.swp``, ``x~``,
``.#x``) and version-control folders wake nothing.

Changes are debounced: after the first, the watch waits until ``debounce`` seconds
pass without another, then yields once.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import os
import re
import struct
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from medic.logsetup import get_logger

log = get_logger("medic.filewatch")

# From <sys/inotify.h>.
IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000  # the kernel dropped a watch (its folder is gone)
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
MASK = (
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO
    | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
)  # fmt: skip
HEADER = struct.Struct("iIII")  # wd, mask, cookie, length of the name that follows

IGNORED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".idea"})
SCRATCH = re.compile(r"\.sw.$|~$|^\.#|^4913$|^\.DS_Store$")  # 4913: vim's write test


class FileWatch:
    """An inotify instance watching ``paths``; use as a context manager."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.roots = [Path(p) for p in paths]
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            raise _os_error("inotify_init1")
        self._dirs: dict[int, Path] = {}  # watch descriptor -> directory
        self._files: dict[Path, set[str]] = {}  # directory -> the watched files in it
        self._full = False  # the kernel's watch limit was reached (warned once)
        try:
            self._watch_roots()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> FileWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def watched(self) -> int:
        """How many folders are watched now."""
        return len(self._dirs)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    async def changes(self, debounce: float = 0.3) -> AsyncIterator[None]:
        """Yield once per burst of relevant changes, ``debounce`` seconds after the last."""
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        loop.add_reader(self._fd, ready.set)
        try:
            while True:
                await ready.wait()
                ready.clear()
                if not self._drain():
                    continue
                while True:  # wait for the burst to end
                    try:
                        async with asyncio.timeout(debounce):
                            await ready.wait()
                    except TimeoutError:
                        break
                    ready.clear()
                    self._drain()
                self._watch_roots()  # a root removed and made again is watched again
                yield
        finally:
            loop.remove_reader(self._fd)

    # -- inside --------------------------------------------------------------------

    def _watch_roots(self) -> None:
        for root in self.roots:
            if root.is_dir():
                self._watch_tree(root)
            elif root.parent.is_dir():
                self._files.setdefault(root.parent, set()).add(root.name)
                self._watch_dir(root.parent)

    def _watch_tree(self, top: Path) -> None:
        # Symlinked folders are not followed, as the loader does not load from them: two
        # links back up (a -> ., b -> .) would make the walk 2**40 folders long.
        for here, dirs, _files in os.walk(top):
            dirs[:] = [d for d in dirs if d not in IGNORED_DIRS]
            self._watch_dir(Path(here))

    def _watch_dir(self, directory: Path) -> None:
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(directory), MASK)
        if wd >= 0:
            self._dirs[wd] = directory
            return
        err = ctypes.get_errno()
        if err == errno.ENOSPC and not self._full:  # else: gone in between, its parent saw it
            self._full = True
            log.warning(
                "policy.watch_limit",
                folder=str(directory),
                hint="edits in folders past the limit reload nothing: raise the sysctl"
                " fs.inotify.max_user_watches, or reload by hand (systemctl reload medic)",
            )

    def _drain(self) -> bool:
        """Read every pending event; True when one of them matters."""
        relevant = False
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return relevant
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, length = HEADER.unpack_from(data, offset)
                offset += HEADER.size
                name = os.fsdecode(data[offset : offset + length].rstrip(b"\0"))
                offset += length
                relevant |= self._event(wd, mask, name)

    def _event(self, wd: int, mask: int, name: str) -> bool:
        if mask & IN_Q_OVERFLOW:
            return True  # events were lost: reload to be sure
        if mask & IN_IGNORED:
            self._dirs.pop(wd, None)
            return False
        directory = self._dirs.get(wd)
        if directory is None:
            return False
        if mask & (IN_DELETE_SELF | IN_MOVE_SELF):
            return True
        if mask & IN_ISDIR:
            if name in IGNORED_DIRS:
                return False
            if mask & (IN_CREATE | IN_MOVED_TO):
                self._watch_tree(directory / name)
            return True
        if SCRATCH.search(name):
            return False
        if any(directory == r or r in directory.parents for r in self.roots):
            return True
        # A directory watched for a file in it: that file, or a ConfigMap's ..data swap.
        return name in self._files.get(directory, ()) or name.startswith("..")


def _os_error(call: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{call}: {os.strerror(err)}")
