"""What one run of each network probe costs: median and p99 wall time, and CPU.

Run: ``.venv/bin/python bench/bench_probe_cost_net.py``. The peers (an aiohttp server,
a TLS server, a PEM file) run in a separate process on loopback, so the CPU figures
are the probe's alone: this process's CPU per run, and how many runs one core could
do per second. Each probe's ``measure()`` runs back to back after one warm-up run.
The remote ``tls.cert`` is measured twice: with the CA trusted (one handshake) and
without (the verified handshake fails, a second one reads the leaf).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from benchkit import report, time_runs
from medic.probes.base import Probe
from medic.probes.network.http import HttpProbe
from medic.probes.network.tcp import TcpProbe
from medic.probes.network.tls import TlsCertProbe

PEM = serialization.Encoding.PEM
HEALTH = {"status": "pass", "checks": {"db": {"status": "ok"}}}


def make_pki(folder: Path) -> None:
    """ca.pem (a CA), leaf.pem (leaf + CA), leaf.key: a P-256 chain for localhost."""
    now = dt.datetime.now(dt.UTC)

    def build(
        name: str, key: ec.EllipticCurvePrivateKey, signer: ec.EllipticCurvePrivateKey, ca: bool
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench ca")]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = x509.SubjectAlternativeName([x509.DNSName("localhost")])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = build("bench ca", ca_key, ca_key, ca=True)
    leaf = build("localhost", leaf_key, ca_key, ca=False)
    (folder / "ca.pem").write_bytes(ca.public_bytes(PEM))
    (folder / "leaf.pem").write_bytes(leaf.public_bytes(PEM) + ca.public_bytes(PEM))
    (folder / "leaf.key").write_bytes(
        leaf_key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


async def serve(folder: Path) -> None:
    """The peer process: HTTP and TLS servers; prints their ports, runs until killed."""
    from aiohttp import web

    async def health(request: web.Request) -> web.StreamResponse:
        return web.json_response(HEALTH)

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "leaf.pem", folder / "leaf.key")

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            await reader.read()
        writer.transport.abort()

    tls = await asyncio.start_server(hold, "127.0.0.1", 0, ssl=context)
    ports = {"http": runner.addresses[0][1], "tls": tls.sockets[0].getsockname()[1]}
    print(json.dumps(ports), flush=True)
    await asyncio.Event().wait()


async def bench(label: str, make: Callable[[], Probe], runs: int) -> None:
    probe = make()
    probe.timeout = 5.0
    first = await probe.measure()  # warm-up: session, SSL contexts, CA bundle
    fields = next(iter(first.values()))
    assert fields.get("error") is None or label.endswith("untrusted)"), (label, fields)
    walls, cpu, _ = await time_runs(probe, runs)
    await probe.close()
    report(label, runs, walls, cpu, width=38)


def cases(folder: Path, http: int, tls: int) -> list[tuple[str, Callable[[], Probe], int]]:
    ca = str(folder / "ca.pem")
    url = f"http://127.0.0.1:{http}/health"
    picks = {"health": "status", "db": "checks.db.status"}
    remote = {"host": "127.0.0.1", "port": tls, "sni": "localhost"}
    trusted = {**remote, "ca_file": ca}
    pem = {"file": f"{folder}/leaf.pem", "ca_file": ca}
    return [
        ("http GET (fresh connection)", lambda: HttpProbe({"url": url}), 300),
        ("http GET + 2 json_fields", lambda: HttpProbe({"url": url, "json_fields": picks}), 300),
        ("tcp connect", lambda: TcpProbe({"host": "127.0.0.1", "port": http}), 300),
        ("tls.cert remote (ca_file: 1 handshake)", lambda: TlsCertProbe(trusted), 200),
        ("tls.cert remote (untrusted)", lambda: TlsCertProbe(remote), 200),
        ("tls.cert file (leaf + CA, ca_file)", lambda: TlsCertProbe(pem), 300),
    ]


async def run_all(todo: list[tuple[str, Callable[[], Probe], int]]) -> None:
    print("loopback peers in a separate process; wall time and this process's CPU per run")
    for label, make, runs in todo:
        await bench(label, make, runs)


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="medic-bench-net-"))
    make_pki(folder)
    argv = [sys.executable, __file__, "--serve", str(folder)]
    peer = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert peer.stdout is not None
        ports = json.loads(peer.stdout.readline())
        asyncio.run(run_all(cases(folder, ports["http"], ports["tls"])))
    finally:
        peer.kill()
        peer.wait()
        shutil.rmtree(folder)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        asyncio.run(serve(Path(sys.argv[2])))
    else:
        main()
