"""Run the real `medic run` in a subprocess and read its real audit database."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from kit.ports import free_port


def spawn_agent(config: Path, root: Path, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """``medic run --config <config>`` in ``root``, its output appended to ``log``, with
    ``env`` on top of this process's environment; not waited for."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "medic", "run", "--config", str(config)],
            stdout=out,
            stderr=out,
            cwd=root,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )


class AgentProcess:
    """A medic agent with its own config, policies directory and audit DB under tmp."""

    def __init__(self, root: Path, *, dry_run: bool = False, watch: bool = False) -> None:
        self.root = root
        self.policies = root / "policies"
        self.policies.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = root / "medic.yaml"
        self.config.write_text(
            yaml.safe_dump(
                {
                    "state_dir": "state",
                    "policies": ["policies"],
                    "dry_run": dry_run,
                    "watch": watch,
                    "api": {"listen": f"127.0.0.1:{self.port}"},
                    "log": {"format": "json", "level": "debug"},
                }
            )
        )
        self.db = root / "state" / "audit.db"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "agent.log"

    def write_policy(self, name: str, policies: list[dict[str, Any]] | str) -> Path:
        path = self.policies / name
        if isinstance(policies, str):
            path.write_text(policies)
        else:
            path.write_text(yaml.safe_dump({"version": 1, "policies": policies}, sort_keys=False))
        return path

    def start(self) -> None:
        self.proc = spawn_agent(self.config, self.root, self.log)
        self.wait_for(lambda: self.kinds().count("agent.started") >= 1, what="agent.started")

    def run_until(self, kind: str, *, what: str, timeout: float = 20.0) -> None:
        """Start the agent, wait for its first ``kind`` event, and stop it (also on failure)."""
        try:
            self.start()
            self.wait_for(lambda: bool(self.events(kind)), what=what, timeout=timeout)
        finally:
            self.stop()

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        code = self.proc.returncode
        self.proc = None
        return code

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(5)
        self.proc = None

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.db.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        conn.row_factory = sqlite3.Row
        try:
            sql = "select * from events"
            args: tuple[str, ...] = ()
            if kind:
                sql += " where kind = ?"
                args = (kind,)
            rows = [dict(r) for r in conn.execute(sql + " order by id", args)]
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()
        for row in rows:
            for col in ("values", "details"):
                if isinstance(row.get(col), str):
                    row[col] = json.loads(row[col])
        return rows

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.events()]

    def wait_for(self, check: Callable[[], bool], *, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    f"agent exited ({self.proc.returncode}) waiting for {what}:\n"
                    + self.log.read_text()[-4000:]
                )
            time.sleep(0.05)
        raise AssertionError(
            f"timed out waiting for {what}; events: {self.kinds()}\n" + self.log.read_text()[-4000:]
        )
