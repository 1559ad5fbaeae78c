"""A client TLS context that trusts the system CAs, or only a CA file from a policy.

OpenSSL opens a ``cafile`` itself, with a blocking ``open()``: a FIFO named there would
stop the event loop, and ``/dev/zero`` would be read until memory runs out. So the file
is read here, through :mod:`medic.regular_file` (non-blocking, a regular file only, at
most :data:`MAX_CA_BYTES`), and handed to OpenSSL as data.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from medic.regular_file import read_regular

if TYPE_CHECKING:
    import ssl

MAX_CA_BYTES = 4 * 1024 * 1024  # a system bundle is about 200 KB


def ca_context(ca_file: str | None) -> ssl.SSLContext:
    """``ssl.create_default_context`` trusting ``ca_file`` (PEM) only, or the system
    CAs when it is None. Every failure is an OSError whose ``strerror`` (or text, for
    ``ssl.SSLError``) says why: missing, not a regular file, too big, not PEM."""
    import ssl

    if ca_file is None:
        return ssl.create_default_context()
    data = read_regular(ca_file, MAX_CA_BYTES)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise OSError(errno.EINVAL, "not a PEM bundle (not ASCII text)", ca_file) from exc
    return ssl.create_default_context(cadata=text)


def ca_problem(exc: OSError) -> str:
    """What :func:`ca_context`'s error says, without errno numbers or the path."""
    return exc.strerror or str(exc)
