"""A real ACME site for certificate renewal tests: pebble (Debian's ACME test server),
certbot with its own directories, and nginx serving the lineage, all on loopback ports
picked at run time (tests/integration/test_cert_renewal_e2e.py says how each is made
real; the eventchain pack test renews through the same site).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from kit.ports import free_port

NAME = "medic-e2e"
DOMAIN = "localhost"
NGINX, PEBBLE, CERTBOT, OPENSSL = (
    "/usr/sbin/nginx",
    "/usr/bin/pebble",
    "/usr/bin/certbot",
    "/usr/bin/openssl",
)
NGINX_CONF = """\
user root;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{ listen 127.0.0.1:{http_port}; root {root}/webroot; }}
{tls}}}
"""
NGINX_TLS = """\
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {live}/fullchain.pem;
        ssl_certificate_key {live}/privkey.pem;
    }}
"""
# The policy as an operator would write it; {placeholders} are this test's paths and ports.
POLICY = """\
version: 1
policies:
  - name: web-cert-expiring
    description: Renew the web certificate when it has less than 14 days left.
    probe: {{type: tls.cert, host: 127.0.0.1, port: {tls_port}, sni: localhost,
             ca_file: {root}/pebble-root.pem, every: 1s, timeout: 5s}}
    when: days_left < 14
    remediate:
      - command:
          argv: {renew}
          env: {{REQUESTS_CA_BUNDLE: {root}/pebble-api.pem}}
          timeout: 120s
      - command: {{argv: {reload}, timeout: 30s}}
    verify: {{after: 2s}}
    limits: {{max: 1, per: 1h, cooldown: 0s}}
"""


@dataclass(frozen=True)
class Site:
    """Where one test's nginx, pebble and certbot live, and their ports."""

    root: Path
    http_port: int
    tls_port: int
    acme_port: int
    mgmt_port: int

    @property
    def live(self) -> Path:
        return self.root / "certbot" / "config" / "live" / NAME

    def certbot(self, *args: str) -> list[str]:
        base = self.root / "certbot"
        dirs = [f"--{d}-dir={base / d}" for d in ("config", "work", "logs")]
        return [CERTBOT, *args, "--cert-name", NAME, "--non-interactive", *dirs]

    def nginx(self, *args: str) -> list[str]:
        root = self.root
        return [
            NGINX,
            "-p",
            f"{root}",
            "-c",
            f"{root}/nginx.conf",
            "-e",
            f"{root}/error.log",
            *args,
        ]

    def write_nginx_conf(self, *, tls: bool) -> None:
        server = NGINX_TLS.format(tls_port=self.tls_port, live=self.live) if tls else ""
        conf = NGINX_CONF.format(root=self.root, http_port=self.http_port, tls=server)
        (self.root / "nginx.conf").write_text(conf)

    def fetch(self, path: str) -> bytes:
        """GET from pebble's management API (roots, intermediates and their keys)."""
        context = ssl.create_default_context(cafile=self.root / "pebble-api.pem")
        url = f"https://127.0.0.1:{self.mgmt_port}{path}"
        with urllib.request.urlopen(url, context=context, timeout=10) as answer:
            body: bytes = answer.read()
        return body

    def served(self) -> x509.Certificate:
        """The certificate nginx presents right now."""
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with (
            socket.create_connection(("127.0.0.1", self.tls_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=DOMAIN) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der)


def run(argv: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, f"{argv} failed ({done.returncode}):\n{done.stdout}{done.stderr}"


def wait_until(check: Callable[[], object], what: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            if check():
                return
        time.sleep(0.1)
    tail = log.read_text()[-3000:] if log.exists() else "(no log)"
    raise AssertionError(f"{what} did not come up within {timeout:g}s:\n{tail}")


def start(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=out, env=env, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """pebble and nginx (plain HTTP for the challenges, so far) running for this test."""
    missing = [p for p in (NGINX, PEBBLE, CERTBOT, OPENSSL) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: run scripts/provision-tls.sh as root", pytrace=False
        )
    site = Site(tmp_path, free_port(), free_port(), free_port(), free_port())
    (tmp_path / "webroot").mkdir()
    # pebble's own HTTPS API needs a certificate; certbot trusts it via REQUESTS_CA_BUNDLE.
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    names = ["-subj", "/CN=pebble api", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    out = ["-keyout", f"{tmp_path}/pebble-api.key", "-out", f"{tmp_path}/pebble-api.pem"]
    run([OPENSSL, "req", "-x509", "-days", "2", *key, *names, *out])
    config = {
        "listenAddress": f"127.0.0.1:{site.acme_port}",
        "managementListenAddress": f"127.0.0.1:{site.mgmt_port}",
        "certificate": f"{tmp_path}/pebble-api.pem",
        "privateKey": f"{tmp_path}/pebble-api.key",
        "httpPort": site.http_port,  # pebble fetches http-01 challenges from our nginx
        "tlsPort": free_port(),
        "ocspResponderURL": "",
        "externalAccountBindingRequired": False,
    }
    (tmp_path / "pebble.json").write_text(json.dumps({"pebble": config}))
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    pebble = start([PEBBLE, "-config", f"{tmp_path}/pebble.json"], tmp_path / "pebble.log", env)
    site.write_nginx_conf(tls=False)
    nginx = start(site.nginx("-g", "daemon off;"), tmp_path / "nginx.out")
    try:
        wait_until(lambda: site.fetch("/roots/0"), "pebble", tmp_path / "pebble.log")
        wait_until((tmp_path / "nginx.pid").exists, "nginx", tmp_path / "error.log")
        yield site
    finally:
        stop(nginx)
        stop(pebble)


def age_lineage(site: Site, days_left: float) -> x509.Certificate:
    """Re-sign the lineage's certificate with pebble's intermediate: days_left to go."""
    archive = site.root / "certbot" / "config" / "archive" / NAME
    leaf = x509.load_pem_x509_certificate((archive / "cert1.pem").read_bytes())
    issuer = x509.load_pem_x509_certificate(site.fetch("/intermediates/0"))
    issuer_key = serialization.load_pem_private_key(site.fetch("/intermediate-keys/0"), None)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(leaf.subject)
        .issuer_name(issuer.subject)
        .public_key(leaf.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=85))
        .not_valid_after(now + dt.timedelta(days=days_left))
    )
    for ext in leaf.extensions:  # same names, usages and key ids; only dates and serial differ
        builder = builder.add_extension(ext.value, ext.critical)
    aged = builder.sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    pem = aged.public_bytes(serialization.Encoding.PEM)
    (archive / "cert1.pem").write_bytes(pem)
    (archive / "fullchain1.pem").write_bytes(pem + (archive / "chain1.pem").read_bytes())
    return aged
