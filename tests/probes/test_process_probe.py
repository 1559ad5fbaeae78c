"""The process probe against real processes: selection, usage, and pidfd death watch."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from medic.errors import ProbeError
from medic.probes.system.process import ProcessProbe
from medic.regular_file import NOT_REGULAR

pytestmark = pytest.mark.integration

Spawn = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def program(tmp_path: Path) -> str:
    """A copy of sleep under a name no other process on the host has."""
    name = f"mdc-{secrets.token_hex(4)}"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", tmp_path / name)
    return str(tmp_path / name)


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start processes that are killed and reaped after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*argv: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv)
        started.append(proc)
        # Popen returns once exec closed its pipe; the kernel renames the process a
        # moment later. Wait for the name, as a real restart would be seen later anyway.
        comm = Path(f"/proc/{proc.pid}/comm")
        for _ in range(1000):
            if comm.read_text().strip() == Path(argv[0]).name[:15]:
                break
            time.sleep(0.001)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


async def fields_of(probe: ProcessProbe) -> dict[str, Any]:
    out = await probe.measure()
    assert list(out) == [probe.target]
    return out[probe.target]


def open_fds() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


@pytest.mark.asyncio
async def test_name_selects_running_process(program: str, spawn: Spawn) -> None:
    """A process found by exact name yields every declared field with real values."""
    proc = spawn(program, "60")
    fields = await fields_of(ProcessProbe({"name": Path(program).name}))
    assert set(fields) == set(ProcessProbe.field_names())
    assert fields["running"] is True
    assert fields["count"] == 1
    assert fields["pids"] == [proc.pid]
    assert fields["rss_bytes"] > 0
    assert fields["threads"] == 1
    assert fields["open_files"] >= 3
    assert 0 <= fields["uptime"] < 60
    assert fields["cpu_percent"] == 0.0


@pytest.mark.asyncio
async def test_nothing_matches_is_a_target() -> None:
    """With no matching process the target still exists and reads not running."""
    fields = await fields_of(ProcessProbe({"name": f"absent-{secrets.token_hex(3)}"}))
    assert fields == {
        "running": False,
        "count": 0,
        "pids": [],
        "rss_bytes": 0,
        "cpu_percent": 0.0,
        "open_files": 0,
        "uptime": None,
        "threads": 0,
    }


@pytest.mark.asyncio
async def test_new_process_is_seen_at_once(program: str, spawn: Spawn) -> None:
    """A process started right after a measurement is found by the next one."""
    probe = ProcessProbe({"name": Path(program).name})
    assert (await fields_of(probe))["running"] is False
    proc = spawn(program, "60")
    assert (await fields_of(probe))["pids"] == [proc.pid]


@pytest.mark.asyncio
async def test_cmdline_regex_counts_each_match(program: str, spawn: Spawn) -> None:
    """cmdline is a regex searched in the joined command line; every match counts."""
    a, b = spawn(program, "61"), spawn(program, "62")
    spawn(program, "63")
    probe = ProcessProbe({"cmdline": rf"{Path(program).name} 6[12]$"})
    fields = await fields_of(probe)
    assert fields["pids"] == sorted([a.pid, b.pid])
    assert fields["count"] == 2 and fields["threads"] == 2


@pytest.mark.asyncio
async def test_long_name_beyond_kernel_limit(tmp_path: Path, spawn: Spawn) -> None:
    """A name longer than the kernel's 15 bytes still matches exactly."""
    name = f"medic-long-name-{secrets.token_hex(4)}"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", tmp_path / name)
    proc = spawn(str(tmp_path / name), "60")
    assert (await fields_of(ProcessProbe({"name": name})))["pids"] == [proc.pid]
    assert (await fields_of(ProcessProbe({"name": name + "x"})))["running"] is False


@pytest.mark.asyncio
async def test_pidfile_selects_that_pid(tmp_path: Path, program: str, spawn: Spawn) -> None:
    """pidfile selects the pid written in it; missing or garbage files read not running."""
    proc = spawn(program, "60")
    pidfile = tmp_path / "app.pid"
    probe = ProcessProbe({"pidfile": str(pidfile)})
    assert (await fields_of(probe))["running"] is False
    pidfile.write_text("garbage\n")
    assert (await fields_of(probe))["running"] is False
    pidfile.write_text(f"{proc.pid}\n")
    fields = await fields_of(probe)
    assert probe.target == str(pidfile)
    assert fields["pids"] == [proc.pid]


def test_a_fifo_pidfile_is_an_error_not_a_hang(tmp_path: Path) -> None:
    """A pidfile that is a FIFO fails the read at once, naming the file: the read runs
    on the event loop, and opening a FIFO with no writer would block it for good."""
    pidfile = tmp_path / "app.pid"
    os.mkfifo(pidfile)
    probe = ProcessProbe({"pidfile": str(pidfile)})
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            probe.read()
            outcome.append(None)
        except ProbeError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(2)
    if reader.is_alive():  # stuck in open(): a writer lets it go, then the test fails
        os.close(os.open(pidfile, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(2)
    assert not reader.is_alive() and len(outcome) == 1 and outcome[0] is not None
    assert outcome[0].args[0] == f"cannot read pidfile {pidfile}: {NOT_REGULAR}"


@pytest.mark.asyncio
async def test_pidfile_never_matches_medic(tmp_path: Path) -> None:
    """A pidfile naming Medic's own pid does not count as the watched process."""
    pidfile = tmp_path / "self.pid"
    pidfile.write_text(str(os.getpid()))
    assert (await fields_of(ProcessProbe({"pidfile": str(pidfile)})))["running"] is False


@pytest.mark.asyncio
async def test_own_process_is_never_matched() -> None:
    """A pattern that matches Medic's command line still leaves Medic out."""
    fields = await fields_of(ProcessProbe({"cmdline": "."}))
    assert os.getpid() not in fields["pids"]
    assert fields["count"] > 0


def state_of(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def make_zombie(program: str) -> subprocess.Popen[bytes]:
    """A child that has exited but is not reaped yet."""
    proc = subprocess.Popen([program, "60"])
    proc.kill()
    for _ in range(1000):
        if state_of(proc.pid) == "Z":
            return proc
        time.sleep(0.001)
    pytest.fail("the killed child did not become a zombie")


@pytest.mark.asyncio
async def test_zombie_counts_as_dead(program: str) -> None:
    """An exited but unreaped process (a zombie) is not running."""
    proc = make_zombie(program)
    try:
        fields = await fields_of(ProcessProbe({"name": Path(program).name}))
        assert state_of(proc.pid) == "Z"
        assert (fields["running"], fields["count"], fields["pids"]) == (False, 0, [])
    finally:
        proc.wait()


@pytest.mark.asyncio
async def test_user_filter(program: str, spawn: Spawn) -> None:
    """user narrows the match to one owner, by name or uid; an unknown user is an error."""
    proc = spawn(program, "60")
    me = str(os.getuid())
    name = Path(program).name
    assert (await fields_of(ProcessProbe({"name": name, "user": me})))["pids"] == [proc.pid]
    other = str(os.getuid() + 4242)
    assert (await fields_of(ProcessProbe({"name": name, "user": other})))["running"] is False
    with pytest.raises(ProbeError) as info:
        await ProcessProbe({"name": name, "user": "no-such-user-x"}).measure()
    assert str(info.value) == "user 'no-such-user-x' does not exist on this host"


@pytest.mark.asyncio
async def test_cpu_percent_since_previous_measure(spawn: Spawn) -> None:
    """cpu_percent covers the time since the previous measurement of this policy."""
    tag = secrets.token_hex(4)
    spawn(sys.executable, "-c", f"import time\nwhile True: pass  # {tag}")
    probe = ProcessProbe({"cmdline": tag})
    assert (await fields_of(probe))["cpu_percent"] == 0.0
    await asyncio.sleep(0.3)
    assert (await fields_of(probe))["cpu_percent"] > 5


@pytest.fixture
async def watched(program: str) -> AsyncIterator[tuple[ProcessProbe, AsyncIterator[Any]]]:
    probe = ProcessProbe({"name": Path(program).name})
    stream = probe.watch()
    yield probe, stream
    await stream.aclose()  # type: ignore[attr-defined]
    await probe.close()


async def start_waiting(stream: AsyncIterator[Any]) -> asyncio.Future[Any]:
    """The next event of ``stream`` as a future; the watch is running when this returns."""
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    return waiting


async def event(waiting: asyncio.Future[Any]) -> Any:
    return await asyncio.wait_for(waiting, 2.0)


@pytest.mark.asyncio
async def test_watch_reports_death_at_once(program: str, spawn: Spawn) -> None:
    """watch() yields the target as soon as a matched process is killed."""
    proc = spawn(program, "60")
    probe = ProcessProbe({"name": Path(program).name})
    await probe.measure()
    stream = probe.watch()
    waiting = await start_waiting(stream)
    await asyncio.sleep(0.05)
    assert not waiting.done()
    proc.kill()
    assert await event(waiting) == probe.target
    assert (await fields_of(probe))["running"] is False
    await stream.aclose()  # type: ignore[attr-defined]
    await probe.close()


@pytest.mark.asyncio
async def test_watch_picks_up_new_pids(program: str, spawn: Spawn) -> None:
    """A process that appears later is watched from the next measurement on."""
    probe = ProcessProbe({"name": Path(program).name})
    stream = probe.watch()
    waiting = await start_waiting(stream)
    await probe.measure()
    proc = spawn(program, "60")
    assert (await fields_of(probe))["pids"] == [proc.pid]
    proc.kill()
    assert await event(waiting) == probe.target
    await stream.aclose()  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_watch_holds_no_stale_descriptors(program: str, spawn: Spawn) -> None:
    """Many measure/kill cycles leave the descriptor count flat; close() frees the rest."""
    before = open_fds()
    probe = ProcessProbe({"name": Path(program).name})
    stream = probe.watch()
    for _ in range(10):
        waiting = await start_waiting(stream)
        procs = [spawn(program, "60") for _ in range(3)]
        await probe.measure()
        assert open_fds() == before + 3
        for proc in procs:
            proc.kill()
            proc.wait()
        assert await event(waiting) == probe.target
        await probe.measure()
        assert open_fds() == before
    spawn(program, "60")
    await probe.measure()
    waiting = await start_waiting(stream)
    assert open_fds() == before + 1
    waiting.cancel()
    await probe.close()
    assert open_fds() == before


@pytest.mark.parametrize(
    ("options", "problems"),
    [
        ({"name": "nginx"}, []),
        ({}, ["give exactly one of name, cmdline or pidfile to select the process."]),
        (
            {"name": "a", "pidfile": "/run/a.pid"},
            ["give exactly one of name, cmdline or pidfile to select the process "
             "(found: name, pidfile)."],
        ),
        (
            {"cmdline": "worker("},
            ["cmdline 'worker(': invalid regex: missing ) to close `(` (character 7 of the "
             "pattern); close the group, or write \\( for a literal (. Escape special "
             "characters with a backslash."],
        ),
        (
            {"cmdline": "x*"},
            ["cmdline 'x*' matches an empty command line, so it would select every process; "
             "make the pattern more specific."],
        ),
    ],
)  # fmt: skip
def test_validate(options: dict[str, Any], problems: list[str]) -> None:
    """Selector mistakes are reported as sentences with the fix."""
    assert ProcessProbe.validate(options) == problems


@pytest.mark.asyncio
async def test_usage_read_from_stat_matches_psutil(spawn: Spawn) -> None:
    """Memory and threads read from the one stat line agree with psutil's readings."""
    code = "import threading,time; threading.Timer(60, int).start(); time.sleep(60)"
    proc = spawn(sys.executable, "-c", code)
    ps = psutil.Process(proc.pid)
    for _ in range(300):  # the child has started its timer thread (slow on a loaded host)
        if ps.num_threads() == 2:
            break
        await asyncio.sleep(0.05)
    settled = -1
    for _ in range(100):  # and its memory has settled (the new thread touches pages)
        if (rss := ps.memory_info().rss) == settled:
            break
        settled = rss
        await asyncio.sleep(0.1)
    fields = await fields_of(ProcessProbe({"cmdline": f"^{sys.executable} -c import threading"}))
    assert fields["pids"] == [proc.pid]
    assert fields["threads"] == ps.num_threads() == 2
    assert abs(fields["rss_bytes"] - ps.memory_info().rss) <= 64 * 4096
    assert fields["open_files"] == ps.num_fds()


@pytest.mark.asyncio
async def test_unread_costly_fields_are_left_null(program: str, spawn: Spawn) -> None:
    """A policy that reads neither open_files nor uptime gets them null (no extra reads)."""
    spawn(program, "60")
    probe = ProcessProbe({"name": Path(program).name})
    probe.uses(frozenset({"running"}))
    fields = await fields_of(probe)
    assert fields["running"] is True
    assert fields["open_files"] is None
    assert fields["uptime"] is None
    assert fields["rss_bytes"] > 0
    probe.uses(frozenset({"open_files", "uptime"}))
    fields = await fields_of(probe)
    assert fields["open_files"] >= 3
    assert fields["uptime"] is not None


@pytest.mark.asyncio
async def test_user_is_looked_up_once(
    program: str, spawn: Spawn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user name is resolved on the first run only, not on every run on the loop."""
    import pwd

    proc = spawn(program, "60")
    me = pwd.getpwuid(os.getuid())
    calls: list[str] = []

    def getpwnam(name: str) -> pwd.struct_passwd:
        calls.append(name)
        return me

    monkeypatch.setattr(pwd, "getpwnam", getpwnam)
    probe = ProcessProbe({"name": Path(program).name, "user": "someone"})
    assert (await fields_of(probe))["pids"] == [proc.pid]
    assert (await fields_of(probe))["pids"] == [proc.pid]
    assert calls == ["someone"]
