"""Real local peers for the network probes: HTTP(S) servers, a silent server, a test PKI.

Everything listens on 127.0.0.1 on a port the kernel picks. Certificates are made
with ``cryptography`` by a two-level test CA (root -> intermediate -> leaf), so each
test can ask for exactly the certificate it needs: expired, self-signed, for another
name, or expiring in five days.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PEM = serialization.Encoding.PEM
HEALTH = {"status": "pass", "checks": {"db": {"status": "ok", "latency_ms": 3}}, "items": [7, 8]}


@dataclass(frozen=True)
class Issued:
    """A leaf certificate on disk: the leaf alone, its key, and leaf + chain."""

    cert: Path
    key: Path
    fullchain: Path
    x509: x509.Certificate


class LocalPki:
    """A root CA, an intermediate CA under it, and leaves issued on demand."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self._build(
            _name("Medic Test Root"), self.root_key, None, ca=True, days=(-1, 3650)
        )
        self.ca_file = folder / "root.pem"
        self.ca_file.write_bytes(self.root.public_bytes(PEM))
        self.inter_key = ec.generate_private_key(ec.SECP256R1())
        self.inter = self._build(
            _name("Medic Test Intermediate"),
            self.inter_key,
            (self.root, self.root_key),
            ca=True,
            days=(-1, 3650),
        )
        self._count = 0

    def issue(
        self,
        names: Sequence[str] = ("localhost", "127.0.0.1"),
        *,
        days_left: float = 90.0,
        valid_days: float = 90.0,
        self_signed: bool = False,
    ) -> Issued:
        """A leaf for ``names`` that expires in ``days_left`` days (negative: expired)."""
        self._count += 1
        key = ec.generate_private_key(ec.SECP256R1())
        issuer = None if self_signed else (self.inter, self.inter_key)
        cert = self._build(
            _name(names[0]),
            key,
            issuer,
            ca=False,
            days=(days_left - valid_days, days_left),
            sans=names,
        )
        stem = self.folder / f"leaf{self._count}"
        paths = [stem.with_suffix(s) for s in (".crt", ".key", ".full.pem")]
        paths[0].write_bytes(cert.public_bytes(PEM))
        paths[1].write_bytes(
            key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        chain = b"" if self_signed else self.inter.public_bytes(PEM)
        paths[2].write_bytes(cert.public_bytes(PEM) + chain)
        return Issued(paths[0], paths[1], paths[2], cert)

    @staticmethod
    def _build(
        subject: x509.Name,
        key: ec.EllipticCurvePrivateKey,
        issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
        *,
        ca: bool,
        days: tuple[float, float],
        sans: Sequence[str] = (),
    ) -> x509.Certificate:
        now = dt.datetime.now(dt.UTC)
        signer_key = issuer[1] if issuer else key
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer[0].subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=days[0]))
            .not_valid_after(now + dt.timedelta(days=days[1]))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), False
            )
        )
        if ca:
            usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
            builder = builder.add_extension(usage, critical=True)
        else:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
        if sans:
            entries = [_general_name(n) for n in sans]
            builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
        return builder.sign(signer_key, hashes.SHA256())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def server_context(issued: Issued) -> ssl.SSLContext:
    """A server-side context that presents ``issued`` with its chain."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(issued.fullchain, issued.key)
    return context


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LocalPki:
    """The test PKI; its root is the ``ca_file`` tests trust."""
    return LocalPki(tmp_path_factory.mktemp("pki"))


async def _health(request: web.Request) -> web.StreamResponse:
    return web.json_response(HEALTH)


async def _status(request: web.Request) -> web.StreamResponse:
    return web.Response(status=int(request.match_info["code"]), text="status page")


async def _text(request: web.Request) -> web.StreamResponse:
    return web.Response(text=request.query.get("say", "hello medic"))


async def _headers(request: web.Request) -> web.StreamResponse:
    """Echoes what it received, as a careless service might (secrets included)."""
    return web.json_response({"headers": dict(request.headers)})


async def _slow(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(60)
    return web.Response(text="too late")


async def _stall(request: web.Request) -> web.StreamResponse:
    """Sends the headers and 10 of 100 body bytes, then nothing."""
    response = web.StreamResponse()
    response.content_length = 100
    await response.prepare(request)
    await response.write(b"x" * 10)
    await asyncio.sleep(60)
    return response


async def _redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/health")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/health", _health)
    app.router.add_get("/status/{code}", _status)
    app.router.add_get("/text", _text)
    app.router.add_get("/headers", _headers)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/stall", _stall)
    app.router.add_get("/redirect", _redirect)
    return app


StartServer = Callable[..., Awaitable[int]]


@pytest_asyncio.fixture
async def http_server() -> AsyncIterator[StartServer]:
    """Start the test app on a free port (``tls=Issued`` for HTTPS); returns the port."""
    runners: list[web.AppRunner] = []

    async def start(tls: Issued | None = None) -> int:
        runner = web.AppRunner(make_app(), shutdown_timeout=0.1)
        await runner.setup()
        runners.append(runner)
        context = server_context(tls) if tls else None
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        return int(runner.addresses[0][1])

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest_asyncio.fixture
async def tls_server() -> AsyncIterator[Callable[[Issued], Awaitable[int]]]:
    """Start a TLS server presenting a given certificate; returns the port."""
    servers: list[asyncio.Server] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            await reader.read()
        writer.transport.abort()

    async def start(issued: Issued) -> int:
        server = await asyncio.start_server(hold, "127.0.0.1", 0, ssl=server_context(issued))
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()


@pytest_asyncio.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts connections and never says a word (nor a TLS handshake)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    for writer in held:
        writer.transport.abort()
    server.close()


@pytest.fixture
def unreachable_port() -> Iterator[int]:
    """A port whose listen queue is full, so a new connection is never completed.

    Linux drops the SYN of a connection a full queue cannot take, and the client keeps
    retrying: the nearest a test on loopback gets to a host that does not answer.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(4):  # a backlog of 0 still takes one or two; fill it for sure
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in [*fillers, listener]:
        sock.close()


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
