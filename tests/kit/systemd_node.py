"""A real systemd, PID 1 of a container, with Medic installed the documented way
(the ``node`` and ``bare_node`` fixtures of tests/systemd and the pack end-to-end tests).

The host has no systemd as PID 1, so the systemd tests run in a container made from
``medic-test/systemd:1`` (built by scripts/provision-systemd.sh). One container serves
the whole session: Medic goes in once with scripts/install-node.sh, copied alone (no
checkout), from a wheel built from this checkout and an offline wheelhouse of its
dependencies (cached under /var/tmp, resolved for the container's Python), and the
tests drive it with ``docker exec``. When Docker or the image is missing, the tests
fail and name the script to run; they are never skipped.
"""

from __future__ import annotations

import contextlib
import email.parser
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from kit.wheel import ROOT, build_wheel
from medic.clock import parse_iso

IMAGE = "medic-test/systemd:1"
PROVISION = "scripts/provision-systemd.sh (after scripts/provision-docker.sh), or `make provision`"
WHEEL_CACHE = Path("/var/tmp/medic-test-wheelhouse")
STAGE = "/var/tmp/medic-install"  # not /tmp: that is a tmpfs `docker cp` cannot see
AS_INSTALLED = "/var/tmp/etc-medic-as-installed"  # /etc/medic as install-node.sh left it
AUDIT_DB = "/var/lib/medic/audit.db"
VENV_PYTHON = "/opt/medic/venv/bin/python"
LABEL = "medic.test"
STALE_AFTER = 15 * 60
CGROUP_CONTROLLERS = sorted(
    p.name for p in Path("/sys/fs/cgroup").iterdir() if p.is_dir() and os.path.ismount(p)
)
RUN_FLAGS = [
    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "SYS_PTRACE",
    "--cap-add", "DAC_READ_SEARCH",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    # systemd needs the cgroup controllers writable, but NOT the host's /sys/fs/cgroup
    # tmpfs itself: bound read-write, systemd remounts it and leaves directories there
    # that break Docker's memory stats and OOM marking for every later container. So the
    # container gets a private tmpfs with just the host's controllers bound into it.
    "--cgroupns=host", "--tmpfs", "/sys/fs/cgroup:rw,mode=755",
    *(flag for c in CGROUP_CONTROLLERS
      for flag in ("-v", f"/sys/fs/cgroup/{c}:/sys/fs/cgroup/{c}:rw")),
    "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
    "-v", "/var/run/docker.sock:/run/docker.sock",
    "-e", "container=docker",
]  # fmt: skip


def docker_cli() -> str:
    path = shutil.which("docker")
    if path is None:
        pytest.fail(f"no docker client on this machine; run {PROVISION}", pytrace=False)
    return path


def _docker(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [docker_cli(), *args], capture_output=True, text=True, timeout=timeout, check=check
        )
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"docker {' '.join(args[:3])} failed: {exc.stderr.strip()}", pytrace=False)


class Node:
    """One container running systemd, driven with ``docker exec``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run(
        self, *argv: str, check: bool = True, timeout: float = 60, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the node as root; fails the test on a non-zero exit if ``check``."""
        flags = ["-i"] if stdin is not None else []
        done = subprocess.run(
            [docker_cli(), "exec", *flags, self.name, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
            check=False,
        )
        if check and done.returncode != 0:
            pytest.fail(
                f"in the node, {' '.join(argv)[:200]} exited {done.returncode}:\n"
                f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}",
                pytrace=False,
            )
        return done

    def sh(self, script: str, check: bool = True, timeout: float = 60) -> str:
        return self.run("bash", "-euc", script, check=check, timeout=timeout).stdout

    def write(self, path: str, text: str, mode: str = "0644") -> None:
        self.run("sh", "-c", 'cat > "$1" && chmod "$2" "$1"', "-", path, mode, stdin=text)

    def add_unit(self, name: str, body: str) -> None:
        """Install ``/etc/systemd/system/<name>`` and make systemd read it."""
        self.write(f"/etc/systemd/system/{name}", body)
        self.run("systemctl", "daemon-reload")

    def show(self, unit: str) -> dict[str, str]:
        out = self.run("systemctl", "show", "--no-pager", "--", unit).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def python(self, code: str, *args: str, timeout: float = 60) -> Any:
        """Run ``code`` with Medic's venv Python in the node; its last stdout line as JSON."""
        done = self.run(VENV_PYTHON, "-c", code, *args, timeout=timeout)
        return json.loads(done.stdout.strip().splitlines()[-1])

    def audit(self, db: str = AUDIT_DB) -> list[dict[str, Any]]:
        """Every event of the node's audit log, oldest first (`medic audit export`: all of it)."""
        out = self.run("medic", "audit", "export", "--db", db, "--format", "jsonl")
        events = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
        return sorted(events, key=lambda e: e["id"])

    def wait_for(
        self, check: Callable[[], Any], *, what: str, timeout: float = 30.0, every: float = 0.25
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                journal = self.run("journalctl", "--no-pager", "-n", "40", check=False).stdout
                pytest.fail(f"timed out after {timeout}s waiting for {what}\n{journal}")
            time.sleep(every)


# -- building what gets installed ------------------------------------------------------


def _requirements(wheel: Path, env: dict[str, str]) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = email.parser.Parser().parsestr(archive.read(meta).decode())
    wanted = []
    for line in message.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({**env, "extra": ""}):
            wanted.append(req)
    return wanted


def _pip_download(dest: Path, python: str, *specs: str) -> None:
    argv = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
    done = subprocess.run(
        [*argv, "--python-version", python, "-d", str(dest), *specs],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"pip download for the wheelhouse failed:\n{done.stderr[-3000:]}")


def _wheelhouse(wheel: Path, python: str) -> Path:
    """Binary wheels of every dependency for ``python``, cached by dependency list.

    pip evaluates environment markers for the running interpreter even with
    ``--python-version``, so what only the target needs (``async-timeout`` below
    3.11.3) is found by reading the wheels' metadata and downloaded in a second round.
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    key = hashlib.sha256(json.dumps([project["dependencies"], python]).encode()).hexdigest()
    final = WHEEL_CACHE / key[:16]
    if final.is_dir():
        return final
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=WHEEL_CACHE, prefix=".building-"))
    _pip_download(work, python, str(wheel))
    for own in work.glob("medic_agent-*.whl"):
        own.unlink()
    env = {"python_full_version": python, "python_version": ".".join(python.split(".")[:2])}
    for _round in range(5):
        have = {canonicalize_name(parse_wheel_filename(w.name)[0]) for w in work.glob("*.whl")}
        missing = {
            str(req).split(";")[0]
            for w in [wheel, *work.glob("*.whl")]
            for req in _requirements(w, env)
            if canonicalize_name(req.name) not in have
        }
        if not missing:
            break
        _pip_download(work, python, *sorted(missing))
    with contextlib.suppress(OSError):  # a parallel session got there first: use theirs
        work.rename(final)
    shutil.rmtree(work, ignore_errors=True)
    return final


def _stage(wheel: Path, wheelhouse: Path, out: Path) -> Path:
    """What an operator copies to a node: the install script alone, and the wheels (the
    unit, packs and docs come out of the wheel: no checkout is needed)."""
    stage = out / "stage"
    stage.mkdir()
    shutil.copy(ROOT / "scripts" / "install-node.sh", stage / "install-node.sh")
    shutil.copytree(wheelhouse, stage / "wheelhouse")
    shutil.copy(wheel, stage / "wheelhouse")
    return stage


# -- the node --------------------------------------------------------------------------


def _remove_stale() -> None:
    listed = _docker("ps", "-a", "--filter", f"label={LABEL}.systemd=1", "--format", "{{.ID}}")
    for cid in listed.stdout.split():
        created = _docker("inspect", "-f", "{{.Created}}", cid, check=False).stdout.strip()
        with contextlib.suppress(ValueError):
            if time.time() - parse_iso(created) > STALE_AFTER:
                _docker("rm", "-f", cid, check=False)


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A running systemd container with Medic installed by scripts/install-node.sh."""
    if _docker("version", "--format", "{{.Server.Version}}", check=False).returncode != 0:
        pytest.fail(f"the Docker engine does not answer; run {PROVISION}", pytrace=False)
    if _docker("image", "inspect", IMAGE, check=False).returncode != 0:
        pytest.fail(f"image {IMAGE} is missing; run {PROVISION}", pytrace=False)
    _remove_stale()
    name = f"medic-test-systemd-{uuid.uuid4().hex[:10]}"
    _docker(
        "run", "-d", "--name", name, "--hostname", "medic-node",
        "--label", f"{LABEL}=1", "--label", f"{LABEL}.systemd=1",
        *RUN_FLAGS, IMAGE, "/lib/systemd/systemd",
    )  # fmt: skip
    node = Node(name)
    try:
        out = tmp_path_factory.mktemp("node-install")
        wheel = build_wheel(out)
        python = node.run("python3", "-c", "import platform; print(platform.python_version())")
        wheelhouse = _wheelhouse(wheel, python.stdout.strip())
        stage = _stage(wheel, wheelhouse, out)
        node.wait_for(
            lambda: (
                node.run("systemctl", "is-system-running", check=False).stdout.strip()
                in ("running", "degraded")
            ),
            what="systemd in the node to finish booting",
            timeout=60,
        )
        _docker("cp", str(stage), f"{name}:{STAGE}")
        node.run(
            "bash", f"{STAGE}/install-node.sh",
            "--wheel", f"{STAGE}/wheelhouse/{wheel.name}",
            "--wheelhouse", f"{STAGE}/wheelhouse",
            timeout=300,
        )  # fmt: skip
        node.run("cp", "-a", "/etc/medic", AS_INSTALLED)
        yield node
    finally:
        if not os.environ.get("MEDIC_KEEP_NODE"):  # set it to look around after a failure
            _docker("rm", "-f", name, check=False)


@pytest.fixture(scope="module")
def bare_node() -> Iterator[Node]:
    """A systemd container without Medic: for what the host reads of it (its journal)."""
    if _docker("image", "inspect", IMAGE, check=False).returncode != 0:
        pytest.fail(f"image {IMAGE} is missing; run {PROVISION}", pytrace=False)
    name = f"medic-test-bare-{uuid.uuid4().hex[:10]}"
    _docker(
        "run", "-d", "--name", name, "--label", f"{LABEL}=1", "--label", f"{LABEL}.systemd=1",
        *RUN_FLAGS, IMAGE, "/lib/systemd/systemd",
    )  # fmt: skip
    node = Node(name)
    try:
        node.wait_for(
            lambda: node.run("journalctl", "--quiet", "-n", "1", check=False).stdout.strip(),  # noqa: PLW0108 - runs each time
            what="journald in the node to start",
            timeout=60,
        )
        yield node
    finally:
        _docker("rm", "-f", name, check=False)
