"""The ``tls.cert`` probe: when does a certificate expire, and is it still trusted?

Made for the runbook line "certificate expires in < 14 days -> renew, reload, verify".
A remote certificate is fetched with verification off, so an expired or self-signed one
is still measured; whether its chain is trusted is a separate answer (a handshake with
verification on). A certificate file on disk is read and its chain walked in Python
(:mod:`medic.probes.network.certificates`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from medic.ca_trust import ca_context
from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.option_schemas import options_schema
from medic.probes.base import Field, Measurement, Probe, probes
from medic.probes.network.connection_errors import os_error_text, tls_error_text
from medic.probes.network.tcp import host_port

if TYPE_CHECKING:
    import asyncio
    import socket
    import ssl

    from medic.probes.network import certificates
else:
    certificates = lazy_module("medic.probes.network.certificates")
    socket = lazy_module("socket")
    ssl = lazy_module("ssl")
    asyncio = lazy_module("asyncio")

FIELDS = (
    Field("days_left", "number", "Days until not_after; negative once expired.", "days"),
    Field("not_after", "number", "End of validity, unix seconds.", "seconds"),
    Field("not_before", "number", "Start of validity, unix seconds.", "seconds"),
    Field("subject", "string", "Subject, RFC 4514 (CN=example.org)."),
    Field("issuer", "string", "Issuer, RFC 4514."),
    Field("sans", "list", "Subject alternative names: DNS names and IP addresses."),
    Field("serial", "string", "Serial number, lowercase hex."),
    Field("chain_valid", "boolean", "The chain verifies against the system CAs or ca_file."),
    Field("hostname_matches", "boolean", "The name (SNI, or hostname for a file) is covered."),
    Field("error", "string", "Why the certificate could not be read or did not verify."),
)
_UNREAD: dict[str, Any] = {f.name: None for f in FIELDS}


@probes.register("tls.cert")
class TlsCertProbe(Probe):
    """Read a TLS certificate from a server or a PEM file: expiry, names, trust.

    Give ``host`` (with ``port``, default 443, and ``sni``, default the host) or
    ``file`` (PEM: the first certificate is the leaf, the rest its chain). The target
    is ``host:port`` or the file path. ``days_left`` is negative once the certificate
    has expired. ``chain_valid`` says whether the chain verifies against the system CAs
    (or ``ca_file``) at this moment, so an expired certificate is not valid either.
    ``error`` is null when the certificate was read and verified; otherwise it says
    why not: ``connection refused``, ``timed out after 10s``, ``certificate has
    expired``, ``self-signed certificate``. A certificate that could not be read at all
    leaves the other fields null, so write ``error != null and days_left == null`` to
    catch an endpoint that is down. ``hostname_matches`` compares the SNI name (for a
    file, ``hostname``) with the names in the certificate.

    ```yaml
    version: 1
    policies:
      - name: web-cert-expiring
        description: Renew the web certificate when it has less than 14 days left.
        probe: {type: tls.cert, host: www.example.org, port: 443, every: 6h, timeout: 10s}
        when: days_left < 14
        remediate:
          - command: {argv: [certbot, renew, --cert-name, www.example.org], timeout: 5m}
          - command: {argv: [nginx, -s, reload], timeout: 30s}
        verify: {after: 1m}
        limits: {max: 2, per: 1d, cooldown: 6h}
        escalate: {after_failures: 1, notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "host": {"type": "string", "minLength": 1, "description": "Server name or address."},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "description": "443."},
            "sni": {"type": "string", "minLength": 1, "description": "Name sent (default host)."},
            "file": {"type": "string", "pattern": "^/", "description": "A PEM certificate file."},
            "hostname": {"type": "string", "minLength": 1, "description": "Name for a file."},
            "ca_file": {"type": "string", "pattern": "^/", "description": "Trusted CAs (PEM)."},
        },
    )
    fields = FIELDS
    default_every = 3600.0
    default_timeout = 10.0

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.host: str | None = options.get("host")
        self.port = int(options.get("port", 443))
        self.file: str | None = options.get("file")
        self.ca_file: str | None = options.get("ca_file")
        self.name: str | None = (
            options.get("sni", self.host) if self.host else options.get("hostname")
        )
        self.target = self.file if self.file else host_port(str(self.host), self.port)
        self._contexts: tuple[ssl.SSLContext, ssl.SSLContext] | None = None

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        if ("host" in options) == ("file" in options):
            return ["give exactly one of host (a server) or file (a PEM file)."]
        if "file" in options:
            extra = sorted({"port", "sni"} & set(options))
            if extra:
                return [f"{', '.join(extra)} only apply to host; for a file use hostname."]
        elif "hostname" in options:
            return ["hostname only applies to file; for a server, sni names what to check."]
        return []

    async def measure(self) -> Measurement:
        timeout = self.timeout
        if self.file is not None:
            return {self.target: await asyncio.to_thread(self._read_file)}
        try:
            async with asyncio.timeout(timeout):
                der, problem = await self._fetch()
        except TimeoutError:
            return {self.target: {**_UNREAD, "error": f"timed out after {timeout:g}s"}}
        except ssl.SSLError as exc:
            return {self.target: {**_UNREAD, "error": "TLS: " + tls_error_text(exc)}}
        except socket.gaierror:
            return {self.target: {**_UNREAD, "error": f"cannot resolve {self.host}"}}
        except OSError as exc:
            return {self.target: {**_UNREAD, "error": os_error_text(exc)}}
        from cryptography import x509

        try:
            leaf = x509.load_der_x509_certificate(der)
        except ValueError:
            return {self.target: {**_UNREAD, "error": "the server's certificate does not parse"}}
        return {
            self.target: certificates.describe(
                leaf, self.name, chain_valid=problem is None, error=problem
            )
        }

    async def _fetch(self) -> tuple[bytes, str | None]:
        """The leaf (DER) and why the chain did not verify (None when it did).

        The verified handshake comes first: when it works, it is the only one.
        """
        verified, unverified = self._tls()
        try:
            return await self._handshake(verified), None
        except ssl.SSLCertVerificationError as exc:
            problem = exc.verify_message or "certificate verify failed"
        return await self._handshake(unverified), problem

    async def _handshake(self, context: ssl.SSLContext) -> bytes:
        sni = self.name if self.name and not certificates.is_ip(self.name) else None
        _, writer = await asyncio.open_connection(
            self.host, self.port, ssl=context, server_hostname=sni or ""
        )
        try:
            tls: ssl.SSLObject = writer.get_extra_info("ssl_object")
            der = tls.getpeercert(binary_form=True)
        finally:
            writer.transport.abort()  # no close_notify round trip: a probe only looks
        if not der:
            raise ssl.SSLError("the server sent no certificate")
        return der

    def _tls(self) -> tuple[ssl.SSLContext, ssl.SSLContext]:
        if self._contexts is None:
            try:  # read by Medic, not OpenSSL: a FIFO or a device there is refused
                verified = ca_context(self.ca_file)
            except OSError as exc:
                raise ProbeError(
                    f"tls.cert {self.target}: cannot load ca_file {self.ca_file}: {_reason(exc)}",
                    hint="point ca_file at a readable PEM bundle",
                ) from exc
            verified.check_hostname = False  # reported as hostname_matches instead
            unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            unverified.check_hostname = False
            unverified.verify_mode = ssl.CERT_NONE
            self._contexts = (verified, unverified)
        return self._contexts

    def _read_file(self) -> dict[str, Any]:
        from cryptography import x509

        path = str(self.file)
        try:
            certs = x509.load_pem_x509_certificates(certificates.read_pem(path))
        except OSError as exc:
            return {**_UNREAD, "error": f"cannot read {path}: {exc.strerror}"}
        except ValueError:
            return {**_UNREAD, "error": f"no PEM certificate in {path}"}
        try:
            anchors = (
                certificates.load_pem(self.ca_file)
                if self.ca_file
                else certificates.system_anchors()
            )
        except (OSError, ValueError) as exc:
            raise ProbeError(
                f"tls.cert {path}: cannot load ca_file {self.ca_file}: {_reason(exc)}",
                hint="point ca_file at a readable PEM bundle",
            ) from exc
        problem = certificates.chain_problem(certs[0], certs[1:], anchors, datetime.now(UTC))
        return certificates.describe(
            certs[0], self.name, chain_valid=problem is None, error=problem
        )


def _reason(exc: Exception) -> str:
    """An OSError's own words (not a FIFO, too big), else the exception's text."""
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
