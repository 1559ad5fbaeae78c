"""The agent config's ``api:`` section: where the API listens, the names it answers
to, and where its bearer token is (``api.token: {env: NAME}`` or ``{file: /path}``;
the old ``api.token_env`` / ``api.token_file`` still work, docs/secrets.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from medic import secrets
from medic.errors import ConfigError
from medic.policy.yamlpos import Document

if TYPE_CHECKING:
    from medic.config import AgentConfig

DEFAULT_PORT = 9325


@dataclass(frozen=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    enabled: bool = True
    # The bearer token's value once resolved (see with_api_token), or given directly;
    # never in the repr, so a logged config cannot carry it.
    token: str | None = field(default=None, repr=False)
    # The base of links in messages (``api.link_base``; ``api.public_url`` is its old name).
    public_url: str | None = None
    # Host header names the API answers to besides loopback ones (medic.api.hosts).
    allowed_hosts: frozenset[str] = frozenset()
    # Where the token comes from ({env: NAME} or {file: /path}): read only by the
    # agent and the commands that talk to the API.
    token_ref: Mapping[str, str] | None = None

    @property
    def token_named(self) -> bool:
        """A token is set or named (``api.token``, ``$MEDIC_API_TOKEN``), whether or not
        it can be read yet."""
        return bool(self.token or self.token_ref or os.environ.get("MEDIC_API_TOKEN"))

    @property
    def loopback(self) -> bool:
        return self.host in {"127.0.0.1", "::1", "localhost"} or self.host.startswith("127.")


def load_api(api_raw: Mapping[str, Any], doc: Document, file: str) -> ApiConfig:
    """The ``api:`` section (already checked against the schema)."""
    host, port = parse_listen(api_raw.get("listen", f"127.0.0.1:{DEFAULT_PORT}"), file)
    api = ApiConfig(
        host=host,
        port=port,
        enabled=api_raw.get("enabled", True),
        public_url=api_raw.get("link_base") or api_raw.get("public_url"),
        token_ref=_api_token(api_raw, doc, file),
        allowed_hosts=frozenset(
            name.lower().strip("[]") for name in api_raw.get("allowed_hosts", [])
        ),
    )
    if not api.loopback and not api.token_named:
        raise ConfigError(
            f"the API listens on {host}, beyond loopback, without a token",
            file=file,
            hint="set api.token: {env: NAME} (or {file: /path}), or listen on 127.0.0.1",
        )
    return api


def _api_token(api_raw: Mapping[str, Any], doc: Document, file: str) -> Mapping[str, str] | None:
    """``api.token``, or the reference its old spellings make; never both."""
    if "token" in api_raw and ("token_env" in api_raw or "token_file" in api_raw):
        old = "token_env" if "token_env" in api_raw else "token_file"
        raise ConfigError(
            f"api.token and api.{old} both name the token",
            file=file,
            line=doc.locate(("api", old)).line,
            hint=f"keep api.token and remove api.{old}",
        )
    ref = secrets.option(api_raw, "token", env="token_env", file="token_file")
    return dict(ref) if ref is not None else None


def parse_listen(text: str, file: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit() and len(port) <= 5 and int(port) < 65536):
        raise ConfigError(
            f"api.listen {text!r} is not host:port (port 0 to 65535)",
            file=file,
            hint="e.g. 127.0.0.1:9325",
        )
    return host.strip("[]") or "127.0.0.1", int(port)


def with_api_token(config: AgentConfig) -> AgentConfig:
    """``config`` with its API token read from where ``api.token`` (else
    ``$MEDIC_API_TOKEN``) says: only the agent and the commands that talk to its API
    call this, so ``medic validate`` and ``medic audit`` never need the secret.
    ConfigError when the named variable or file cannot be read."""
    api = config.api
    if api.token:
        return config
    file = str(config.source) if config.source else "the agent config"
    token = os.environ.get("MEDIC_API_TOKEN") or None
    if api.token_ref is not None:
        try:
            token = secrets.resolve(api.token_ref)
        except secrets.SecretError as exc:
            raise ConfigError(f"api.token: {exc.message}", file=file, hint=exc.hint) from exc
    return replace(config, api=replace(api, token=token))
