"""What a certificate says and whether its chain holds: the reading side of ``tls.cert``.

:func:`describe` turns a leaf certificate into the probe's fields, :func:`name_matches`
checks a name against it the way RFC 6125 says (in short), and :func:`chain_problem`
walks a chain from a PEM file up to a trusted anchor in Python, giving reasons worded
like OpenSSL's so files and servers report alike.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import re
import time
import warnings
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from medic.regular_file import read_regular

if TYPE_CHECKING:  # cryptography loads when a certificate is first read
    from cryptography import x509

MAX_CHAIN = 8
MAX_PEM_BYTES = 4 * 1024 * 1024  # a system bundle is about 200 KB
# Where Debian, RHEL and friends keep the system CA bundle (for files; ssl finds its own).
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def describe(
    cert: x509.Certificate, name: str | None, *, chain_valid: bool, error: str | None
) -> dict[str, Any]:
    """The probe's fields for one leaf certificate."""
    from cryptography import x509

    not_after = cert.not_valid_after_utc.timestamp()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    dns = san.get_values_for_type(x509.DNSName) if san else []
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] if san else []
    return {
        "days_left": round((not_after - time.time()) / 86400, 4),
        "not_after": not_after,
        "not_before": cert.not_valid_before_utc.timestamp(),
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "sans": [*dns, *ips],
        "serial": format(cert.serial_number, "x"),
        "chain_valid": chain_valid,
        "hostname_matches": None if name is None else name_matches(cert, name, san),
        "error": error,
    }


def name_matches(
    cert: x509.Certificate, name: str, san: x509.SubjectAlternativeName | None
) -> bool:
    """RFC 6125 in short: SAN DNS names (one leftmost ``*``) or IPs; CN only without SANs."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    if is_ip(name):
        wanted = ipaddress.ip_address(name)
        return san is not None and wanted in san.get_values_for_type(x509.IPAddress)
    if san is not None:
        patterns = san.get_values_for_type(x509.DNSName)
    else:
        patterns = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    host = name.lower().rstrip(".")
    for pattern in (p.lower().rstrip(".") for p in patterns):
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host:
            head, _, rest = host.partition(".")
            if head and rest == pattern[2:]:
                return True
    return False


def chain_problem(
    leaf: x509.Certificate,
    chain: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    now: datetime,
) -> str | None:
    """Why ``leaf`` does not chain up to a trusted anchor (None when it does).

    Each step needs an issuer whose subject matches and whose key verifies the
    signature; every certificate on the way must be valid at ``now``. The reasons
    read like OpenSSL's, so files and servers report alike.
    """
    trusted = set(anchors)
    cert = leaf
    for _ in range(MAX_CHAIN):
        if now > cert.not_valid_after_utc:
            return "certificate has expired"
        if now < cert.not_valid_before_utc:
            return "certificate is not yet valid"
        if cert in trusted:
            return None
        issuer = next((c for c in (*chain, *anchors) if _issued(cert, c)), None)
        if issuer is None:
            if cert.issuer == cert.subject:
                return (
                    "self-signed certificate"
                    if cert is leaf
                    else "self-signed certificate in chain"
                )
            return "unable to get local issuer certificate"
        if not _is_ca(issuer):
            return "issuer is not a CA"
        cert = issuer
    return "certificate chain too long"


def _issued(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    from cryptography.exceptions import InvalidSignature

    if cert is issuer or cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    from cryptography import x509

    with contextlib.suppress(x509.ExtensionNotFound):
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    return False


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def read_pem(path: str) -> bytes:
    """A PEM file's bytes: a regular file of at most MAX_PEM_BYTES, opened non-blocking
    (a FIFO or a device named in a policy is an OSError saying so, never a hang)."""
    return read_regular(path, MAX_PEM_BYTES)


def load_pem(path: str) -> list[x509.Certificate]:
    from cryptography import x509

    return x509.load_pem_x509_certificates(read_pem(path))


@functools.cache
def system_anchors() -> tuple[x509.Certificate, ...]:
    """The system CA bundle, read once per process (about 150 certificates).

    Each certificate is parsed on its own: one odd CA (a zero serial, which
    ``cryptography`` warns about today and will refuse one day) must not cost the rest.
    """
    from cryptography import x509

    for bundle in SYSTEM_BUNDLES:
        try:
            text = read_pem(bundle)
        except OSError:
            continue
        found: list[x509.Certificate] = []
        for block in _PEM_BLOCK.findall(text):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with contextlib.suppress(ValueError):
                    found.append(x509.load_pem_x509_certificate(block))
        return tuple(found)
    return ()
