"""sd_notify without libsystemd: READY=1 and friends on $NOTIFY_SOCKET, when there is one."""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self, address: str | None) -> None:
        self.address = address

    @classmethod
    def from_env(cls) -> Notifier:
        return cls(os.environ.get("NOTIFY_SOCKET"))

    def send(self, message: str) -> None:
        if not self.address:
            return
        addr = self.address
        if addr.startswith("@"):  # abstract namespace socket
            addr = "\0" + addr[1:]
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(addr)
            sock.sendall(message.encode())

    def ready(self) -> None:
        self.send("READY=1\nSTATUS=policies loaded, API listening")
