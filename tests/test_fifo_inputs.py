"""Every place that reads a path from a policy, the config or the state folder refuses
a FIFO at once with an error naming the path, instead of blocking (the loop, or a
worker thread for good). Each call runs in a thread with a time limit, so code that
blocks fails its test rather than hanging the suite."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import click
import pytest

from kit.fifo import make_fifo, outcome_within
from kit.receivers import make_certificate
from medic import secrets
from medic.audit.key import AuditKeyError, read_key_file
from medic.cli.audit_verify import read_checkpoints
from medic.config import load_config
from medic.errors import ConfigError, NotifyError, PolicyError, ProbeError
from medic.notify.email import EmailNotifier
from medic.patterns import compile_pattern
from medic.policy.loader import load_paths
from medic.policytest.spec import load_test_file
from medic.probes.logs import logfollow
from medic.probes.logs.logfollow import LogFollower, RunCount
from medic.probes.network.http import HttpProbe
from medic.probes.network.tls import TlsCertProbe
from medic.probes.probestate import StateFile
from medic.probes.system import integrity_read
from medic.regular_file import NOT_REGULAR
from medic.secret_notices import policy_file_notices
from medic.statefiles import ensure_secret, read_secret


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    """A FIFO with no writer, in a folder of its own."""
    return make_fifo(tmp_path / "named.pipe")


def test_secret_file_reference(fifo: Path) -> None:
    """{file: /path} naming a FIFO is a SecretError with the path and the fix."""
    outcome = outcome_within(lambda: secrets.resolve({"file": str(fifo)}), fifo)
    assert isinstance(outcome, secrets.SecretError)
    assert outcome.message == f"cannot read secret file {fifo}: {NOT_REGULAR}"
    assert outcome.hint == "point file at a regular file that holds only the secret"


def test_agent_config(fifo: Path) -> None:
    """--config naming a FIFO is a ConfigError naming the file."""
    outcome = outcome_within(lambda: load_config(fifo), fifo)
    assert isinstance(outcome, ConfigError)
    assert (outcome.message, outcome.file) == (f"cannot read: {NOT_REGULAR}", str(fifo))


def test_policy_file(fifo: Path) -> None:
    """A policy path naming a FIFO is that file's PolicyError, with a hint."""
    outcome = outcome_within(lambda: load_paths([fifo]), fifo)
    [error] = outcome.files[0].errors
    assert isinstance(error, PolicyError)
    assert error.message == f"cannot read the file: {NOT_REGULAR}"
    assert error.hint == "point the path at a YAML file"


def test_policy_file_notices(fifo: Path) -> None:
    """Looking for old secret spellings in a FIFO finds none and returns at once."""
    assert outcome_within(lambda: policy_file_notices(fifo), fifo) == []


def test_policy_test_file(fifo: Path) -> None:
    """`medic test` on a FIFO reports the file as unreadable."""
    outcome = outcome_within(lambda: load_test_file(fifo), fifo)
    assert [e.message for e in outcome.errors] == [f"cannot read the test file: {NOT_REGULAR}"]


def test_state_secret_read(fifo: Path) -> None:
    """A FIFO where api.token belongs is a ConfigError, not a hang."""
    fifo.chmod(0o600)
    outcome = outcome_within(lambda: read_secret(fifo), fifo)
    assert isinstance(outcome, ConfigError)
    assert outcome.message == f"cannot read {fifo}: {NOT_REGULAR}"


def test_state_secret_ensure(fifo: Path) -> None:
    """ensure_secret finds a FIFO in the way and says so."""
    fifo.chmod(0o600)
    outcome = outcome_within(lambda: ensure_secret(fifo), fifo)
    assert isinstance(outcome, ConfigError)
    assert outcome.message == f"cannot read {fifo}: {NOT_REGULAR}"


def test_audit_key_file(fifo: Path) -> None:
    """An audit key path naming a FIFO is an AuditKeyError naming it."""
    fifo.chmod(0o600)
    outcome = outcome_within(lambda: read_key_file(fifo), fifo)
    assert isinstance(outcome, AuditKeyError)
    assert outcome.message == f"cannot read the audit key {fifo}: {NOT_REGULAR}"


def test_probe_state_file(fifo: Path) -> None:
    """A FIFO in place of a probe's state file reads as no state."""
    assert outcome_within(lambda: StateFile(fifo).load(), fifo) is None


def test_tls_cert_file(fifo: Path) -> None:
    """tls.cert with file: a FIFO measures an error naming the file."""
    probe = TlsCertProbe({"file": str(fifo)})
    outcome = outcome_within(lambda: asyncio.run(probe.measure()), fifo)
    assert outcome[str(fifo)]["error"] == f"cannot read {fifo}: {NOT_REGULAR}"


def test_tls_cert_ca_file_for_a_host(fifo: Path) -> None:
    """tls.cert with host and a FIFO ca_file fails the probe before connecting."""
    probe = TlsCertProbe({"host": "127.0.0.1", "port": 9, "ca_file": str(fifo)})
    outcome = outcome_within(lambda: asyncio.run(probe.measure()), fifo)
    assert isinstance(outcome, ProbeError)
    assert outcome.message == (f"tls.cert 127.0.0.1:9: cannot load ca_file {fifo}: {NOT_REGULAR}")


def test_tls_cert_ca_file_for_a_file(fifo: Path, tmp_path: Path) -> None:
    """tls.cert with file and a FIFO ca_file fails the probe naming ca_file."""
    cert, _ = make_certificate(tmp_path)
    probe = TlsCertProbe({"file": str(cert), "ca_file": str(fifo)})
    outcome = outcome_within(lambda: asyncio.run(probe.measure()), fifo)
    assert isinstance(outcome, ProbeError)
    assert outcome.message == f"tls.cert {cert}: cannot load ca_file {fifo}: {NOT_REGULAR}"


def test_http_ca_file(fifo: Path) -> None:
    """http with a FIFO ca_file fails the probe naming ca_file."""
    probe = HttpProbe({"url": "https://127.0.0.1:9/", "ca_file": str(fifo)})
    outcome = outcome_within(lambda: asyncio.run(probe.measure()), fifo)
    assert isinstance(outcome, ProbeError)
    assert (
        outcome.message == f"http https://127.0.0.1:9/: cannot load ca_file {fifo}: {NOT_REGULAR}"
    )


def test_email_ca_file(fifo: Path) -> None:
    """The email notifier's TLS context refuses a FIFO ca_file."""
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "from": "medic@example.com",
        "to": ["oncall@example.com"],
        "ca_file": str(fifo),
    }
    outcome = outcome_within(EmailNotifier("mail", options).tls_context, fifo)
    assert isinstance(outcome, NotifyError)
    assert outcome.message == f"email mail: cannot read ca_file {fifo}: {NOT_REGULAR}"


def test_log_file_swapped_for_a_fifo(
    fifo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log file replaced by a FIFO between the look and the open is a probe error."""
    regular = tmp_path / "app.log"
    regular.write_text("line\n")
    seen = regular.stat()  # what the look saw, before the swap
    monkeypatch.setattr(logfollow.LogFollower, "_stat", lambda _self: seen)
    follower = LogFollower(str(fifo), compile_pattern("x"), 100)
    outcome = outcome_within(lambda: follower.read(RunCount(0.0), from_start=True), fifo)
    assert isinstance(outcome, ProbeError)
    assert outcome.message == f"{fifo} is not a regular file"


def test_integrity_file_swapped_for_a_fifo(
    fifo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """file.integrity: a file replaced by a FIFO between the look and the open is an
    error saying it changed, not a hang."""
    regular = tmp_path / "conf"
    regular.write_text("x")
    seen = regular.lstat()

    class Looked(type(Path())):  # type: ignore[misc]  # the look saw a regular file
        def stat(self, **_: Any) -> os.stat_result:
            return seen

        def lstat(self) -> os.stat_result:
            return seen

    monkeypatch.setattr(integrity_read, "Path", Looked)
    outcome = outcome_within(
        lambda: integrity_read.read_file(str(fifo), "sha256", 100, False), fifo
    )
    assert isinstance(outcome, ProbeError)
    assert outcome.message == f"{fifo} changed to a FIFO, a device or a socket while it was read"


def test_probe_state_save_over_a_fifo(tmp_path: Path) -> None:
    """A FIFO left at the state file's temporary name is replaced, not written into."""
    state = StateFile(tmp_path / "probe.json")
    fifo = make_fifo(tmp_path / f".probe.json.{os.getpid()}.tmp")
    assert outcome_within(lambda: state.save({"cursor": "s=1"}), fifo) is None
    assert state.load() == {"cursor": "s=1"}


def test_audit_checkpoints_file(fifo: Path) -> None:
    """`medic audit verify --checkpoints` naming a FIFO is a clear CLI error."""
    outcome = outcome_within(lambda: read_checkpoints(fifo), fifo)
    assert isinstance(outcome, click.ClickException)
    assert outcome.message == f"cannot read checkpoints {fifo}: {NOT_REGULAR}"


def test_secret_file_over_the_bound(tmp_path: Path) -> None:
    """A secret file bigger than 64 KiB is refused, naming the bound."""
    big = tmp_path / "token"
    big.write_bytes(b"x" * (secrets.MAX_FILE_BYTES + 1))
    with pytest.raises(secrets.SecretError, match=r"bigger than 65536 bytes"):
        secrets.resolve({"file": str(big)})


def test_secret_file_on_a_device() -> None:
    """{file: /dev/zero} is refused at once rather than read without end."""
    with pytest.raises(secrets.SecretError, match=r"/dev/zero: not a regular file"):
        secrets.resolve({"file": "/dev/zero"})


def test_integrity_of_a_fifo_is_read_without_opening_it(fifo: Path) -> None:
    """file.integrity measures a FIFO's mode and owner, with no digest, at once."""
    outcome = outcome_within(
        lambda: integrity_read.read_file(str(fifo), "sha256", 100, follow=True), fifo
    )
    assert (outcome["exists"], outcome["digest"]) == (True, None)
