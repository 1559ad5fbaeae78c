"""The tls.cert probe against real TLS servers on loopback and real PEM files."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from medic.errors import ProbeError
from medic.probes.network.tls import TlsCertProbe

pytestmark = pytest.mark.integration

SLACK = 3.0  # seconds a busy 2-core machine may add to a timeout before we call it a hang
UNREAD = {
    "days_left": None,
    "not_after": None,
    "not_before": None,
    "subject": None,
    "issuer": None,
    "sans": None,
    "serial": None,
    "chain_valid": None,
    "hostname_matches": None,
}


async def measure(probe_timeout: float = 5.0, **options: Any) -> tuple[str, dict[str, Any]]:
    assert TlsCertProbe.validate(options) == []
    probe = TlsCertProbe(options)
    probe.timeout = probe_timeout
    try:
        out = await asyncio.wait_for(probe.measure(), probe_timeout + SLACK)
    finally:
        await probe.close()
    assert len(out) == 1
    target, fields = next(iter(out.items()))
    assert set(fields) == set(TlsCertProbe.field_names())
    return target, fields


@pytest.mark.asyncio
async def test_valid_remote_certificate(pki: Any, tls_server: Any) -> None:
    """A good certificate yields its dates, names, serial, a valid chain and no error."""
    issued = pki.issue(days_left=90)
    port = await tls_server(issued)
    target, fields = await measure(host="localhost", port=port, ca_file=str(pki.ca_file))
    cert = issued.x509
    assert target == f"localhost:{port}"
    assert fields == {
        "days_left": pytest.approx(90, abs=0.01),
        "not_after": cert.not_valid_after_utc.timestamp(),
        "not_before": cert.not_valid_before_utc.timestamp(),
        "subject": "CN=localhost",
        "issuer": "CN=Medic Test Intermediate",
        "sans": ["localhost", "127.0.0.1"],
        "serial": format(cert.serial_number, "x"),
        "chain_valid": True,
        "hostname_matches": True,
        "error": None,
    }


@pytest.mark.asyncio
async def test_expired_remote_certificate_is_still_measured(pki: Any, tls_server: Any) -> None:
    """An expired certificate has negative days_left, an invalid chain and says why."""
    port = await tls_server(pki.issue(days_left=-3))
    _, fields = await measure(host="127.0.0.1", port=port, ca_file=str(pki.ca_file))
    assert fields["days_left"] == pytest.approx(-3, abs=0.01)
    assert fields["chain_valid"] is False
    assert fields["error"] == "certificate has expired"
    assert fields["hostname_matches"] is True  # 127.0.0.1 is an IP SAN


@pytest.mark.asyncio
async def test_self_signed_remote_certificate(pki: Any, tls_server: Any) -> None:
    """A self-signed certificate is read, with chain_valid false."""
    port = await tls_server(pki.issue(["selfie.test"], self_signed=True, days_left=20))
    _, fields = await measure(host="127.0.0.1", port=port, sni="selfie.test")
    assert fields["subject"] == fields["issuer"] == "CN=selfie.test"
    assert fields["days_left"] == pytest.approx(20, abs=0.01)
    assert (fields["chain_valid"], fields["hostname_matches"]) == (False, True)
    assert fields["error"] == "self-signed certificate"


@pytest.mark.asyncio
async def test_wrong_host_and_sni(pki: Any, tls_server: Any) -> None:
    """A certificate for another name fails hostname_matches; sni picks the name to check."""
    port = await tls_server(pki.issue(["other.example"]))
    ca = str(pki.ca_file)
    _, fields = await measure(host="localhost", port=port, ca_file=ca)
    assert (fields["chain_valid"], fields["hostname_matches"], fields["error"]) == (
        True,
        False,
        None,
    )
    _, fields = await measure(host="localhost", port=port, sni="other.example", ca_file=ca)
    assert fields["hostname_matches"] is True


@pytest.mark.asyncio
async def test_system_cas_do_not_trust_the_test_ca(pki: Any, tls_server: Any) -> None:
    """Without ca_file the system CAs decide, and they do not know the test CA."""
    port = await tls_server(pki.issue())
    _, fields = await measure(host="localhost", port=port)
    assert fields["chain_valid"] is False
    assert fields["error"] == "unable to get local issuer certificate"
    assert fields["days_left"] == pytest.approx(90, abs=0.01)


@pytest.mark.asyncio
async def test_silent_server_is_cut_at_the_timeout(silent_port: int) -> None:
    """A server that accepts and never answers the handshake ends at the probe's timeout."""
    started = time.monotonic()
    _, fields = await measure(probe_timeout=0.5, host="127.0.0.1", port=silent_port)
    assert time.monotonic() - started < 0.5 + SLACK
    assert fields == {**UNREAD, "error": "timed out after 0.5s"}


@pytest.mark.asyncio
async def test_refused_and_not_tls(closed_port: int, http_server: Any) -> None:
    """A closed port, an unknown name and a plain-HTTP port are readings with a reason."""
    _, fields = await measure(host="127.0.0.1", port=closed_port)
    assert fields == {**UNREAD, "error": "connection refused"}
    _, fields = await measure(host="no-such-host.invalid")
    assert fields == {**UNREAD, "error": "cannot resolve no-such-host.invalid"}
    plain = await http_server()
    _, fields = await measure(host="127.0.0.1", port=plain)
    assert fields == {**UNREAD, "error": "TLS: handshake failed (wrong version number)"}


@pytest.mark.asyncio
async def test_file_with_chain(pki: Any) -> None:
    """A PEM file with leaf + intermediate verifies against the CA; hostname is checked."""
    issued = pki.issue(["www.example.test"], days_left=5)
    target, fields = await measure(
        file=str(issued.fullchain), ca_file=str(pki.ca_file), hostname="www.example.test"
    )
    assert target == str(issued.fullchain)
    assert fields["days_left"] == pytest.approx(5, abs=0.01)
    assert fields["sans"] == ["www.example.test"]
    assert (fields["chain_valid"], fields["hostname_matches"], fields["error"]) == (
        True,
        True,
        None,
    )


@pytest.mark.parametrize(
    ("case", "chain_valid", "error"),
    [
        ("leaf-only", False, "unable to get local issuer certificate"),
        ("expired", False, "certificate has expired"),
        ("self-signed", False, "self-signed certificate"),
        ("self-signed-pinned", True, None),
        ("system-cas", False, "unable to get local issuer certificate"),
    ],
)
@pytest.mark.asyncio
async def test_file_chain_verdicts(
    pki: Any, case: str, chain_valid: bool, error: str | None
) -> None:
    """Each broken chain in a file is named the way OpenSSL names it."""
    options: dict[str, Any] = {"ca_file": str(pki.ca_file)}
    if case == "leaf-only":
        options["file"] = str(pki.issue().cert)
    elif case == "expired":
        options["file"] = str(pki.issue(days_left=-1).fullchain)
    elif case == "self-signed":
        options["file"] = str(pki.issue(self_signed=True).cert)
    elif case == "self-signed-pinned":
        options["file"] = options["ca_file"] = str(pki.issue(self_signed=True).cert)
    else:
        options = {"file": str(pki.issue().fullchain)}
    _, fields = await measure(**options)
    assert (fields["chain_valid"], fields["error"]) == (chain_valid, error)
    assert fields["hostname_matches"] is None  # no hostname given


@pytest.mark.asyncio
async def test_wildcard_names(pki: Any) -> None:
    """A wildcard covers exactly one leftmost label."""
    path = str(pki.issue(["*.example.test"]).fullchain)
    for name, expected in (
        ("a.example.test", True),
        ("A.Example.Test.", True),
        ("a.b.example.test", False),
        ("example.test", False),
    ):
        _, fields = await measure(file=path, hostname=name, ca_file=str(pki.ca_file))
        assert fields["hostname_matches"] is expected, name


@pytest.mark.asyncio
async def test_unreadable_files_are_readings(tmp_path: Path) -> None:
    """A missing file or one without a certificate is a reading with an error."""
    missing = tmp_path / "nope.pem"
    _, fields = await measure(file=str(missing))
    assert fields == {**UNREAD, "error": f"cannot read {missing}: No such file or directory"}
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    _, fields = await measure(file=str(junk))
    assert fields == {**UNREAD, "error": f"no PEM certificate in {junk}"}


@pytest.mark.asyncio
async def test_unreadable_ca_file_fails_the_probe(
    pki: Any, tls_server: Any, tmp_path: Path
) -> None:
    """A ca_file that cannot be read is a configuration problem: the probe fails."""
    port = await tls_server(pki.issue())
    probe = TlsCertProbe({"host": "127.0.0.1", "port": port, "ca_file": str(tmp_path / "x.pem")})
    with pytest.raises(ProbeError, match=r"cannot load ca_file .*/x\.pem"):
        await probe.measure()


def test_validate_messages() -> None:
    """host xor file, and options that only fit one of them, are refused with the fix."""
    assert TlsCertProbe.validate({}) == [
        "give exactly one of host (a server) or file (a PEM file)."
    ]
    assert TlsCertProbe.validate({"host": "a", "file": "/b"}) == [
        "give exactly one of host (a server) or file (a PEM file)."
    ]
    assert TlsCertProbe.validate({"file": "/b", "sni": "a", "port": 1}) == [
        "port, sni only apply to host; for a file use hostname."
    ]
    assert TlsCertProbe.validate({"host": "a", "hostname": "b"}) == [
        "hostname only applies to file; for a server, sni names what to check."
    ]
    assert TlsCertProbe({"host": "::1"}).target == "[::1]:443"
