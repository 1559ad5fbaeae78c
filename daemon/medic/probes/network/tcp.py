"""The ``tcp`` probe: does a port accept connections, and how fast?

Made for the runbook line "the port is closed". A refused or timed-out connection is a
reading (``ok`` false, ``error`` saying why in a few words), not a probe failure.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic.lazy import lazy_module
from medic.option_schemas import options_schema
from medic.probes.base import Field, Measurement, Probe, probes
from medic.probes.network.connection_errors import os_error_text

if TYPE_CHECKING:
    import asyncio
    import socket
else:
    socket = lazy_module("socket")
    asyncio = lazy_module("asyncio")

TCP_FIELDS = (
    Field("ok", "boolean", "A TCP connection was made."),
    Field("latency", "number", "Time to connect (null when it failed).", "seconds"),
    Field("error", "string", "Why it failed (null when it worked)."),
)


def host_port(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@probes.register("tcp")
class TcpProbe(Probe):
    """Open a TCP connection to a port and say whether and how fast it worked.

    Only the connection is tested: a service that accepts and then says nothing still
    reads as ``ok``; use the ``http`` probe to check the answer. The target is
    ``host:port``. A refused or timed-out connection is a reading (``ok`` false and
    ``error`` set), not a probe failure.

    ```yaml
    version: 1
    policies:
      - name: smtp-port-closed
        description: Restart the mail relay when its port stops accepting connections.
        probe: {type: tcp, host: 127.0.0.1, port: 25, every: 30s, timeout: 5s}
        when: not ok
        for: 1m
        remediate:
          - command: {argv: [systemctl, restart, postfix], timeout: 60s}
        verify: {after: 20s}
        limits: {max: 2, per: 1h, cooldown: 10m}
        escalate: {after_failures: 1, notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "host": {"type": "string", "minLength": 1, "description": "Name or address."},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "description": "Port."},
        },
        required=["host", "port"],
    )
    fields = TCP_FIELDS
    default_every = 30.0
    default_timeout = 5.0

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.host = str(options["host"])
        self.port = int(options["port"])
        self.target = host_port(self.host, self.port)

    async def measure(self) -> Measurement:
        timeout = self.timeout
        started = time.perf_counter()
        fields: dict[str, Any] = {"ok": False, "latency": None, "error": None}
        try:
            async with asyncio.timeout(timeout):
                _, writer = await asyncio.open_connection(self.host, self.port)
        except TimeoutError:
            fields["error"] = f"timed out after {timeout:g}s"
        except socket.gaierror:
            fields["error"] = f"cannot resolve {self.host}"
        except OSError as exc:
            fields["error"] = os_error_text(exc)
        else:
            fields["ok"] = True
            fields["latency"] = round(time.perf_counter() - started, 6)
            writer.close()
        return {self.target: fields}
