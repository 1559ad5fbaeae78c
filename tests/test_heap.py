"""The agent's C heap: at most two malloc arenas, free pages handed back (glibc)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from medic import heap


def test_trim_runs_on_glibc() -> None:
    """malloc_trim is there on this (glibc) system and returns."""
    assert heap.trim() is True


def test_threads_share_two_arenas() -> None:
    """With the limit set first, eight busy threads leave at most two malloc arenas."""
    code = textwrap.dedent(
        """
        import threading
        from medic import heap
        assert heap.limit_arenas()
        hold = threading.Barrier(8)
        def work():
            blocks = [bytearray(4096) for _ in range(200)]  # above pymalloc's limit
            hold.wait()
            del blocks
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(open("/proc/self/smaps").read())
        """
    )
    smaps = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert thread_arenas(smaps) <= 1  # the main heap (brk) plus at most one more


def thread_arenas(smaps: str) -> int:
    """Anonymous mappings at 64 MB boundaries: where glibc puts a thread's arena."""
    count = 0
    for line in smaps.splitlines():
        fields = line.split()
        if len(fields) == 5 and "-" in fields[0] and fields[4] == "0":
            start = int(fields[0].split("-")[0], 16)
            if start % (64 << 20) == 0 and fields[1].startswith("rw"):
                count += 1
    return count
