"""The ``email`` notifier: a plain-text e-mail through an SMTP relay.

The message itself (subject, threading headers, body) is built by
:mod:`medic.notify.email_message`; this module sends it. Sent with the standard
library's :mod:`smtplib` in a worker thread, so the event loop
never waits on the relay. TLS is on by default (STARTTLS on port 587, or implicit TLS
with ``ssl: true``), the relay's certificate is verified, and a password is never
sent over a connection that is not encrypted. Each notification has a ``Message-ID``
derived from the incident and kind, so a retried delivery is the same message, and a
resolve replies to its escalation (``In-Reply-To``/``References``) so mail clients
show them as one thread.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
from collections import OrderedDict
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any, ClassVar

from medic import secrets
from medic.ca_trust import ca_context, ca_problem
from medic.deadline import within
from medic.durations import format_duration
from medic.errors import ConfigError, NotifyError
from medic.notify import message
from medic.notify.base import Notification, Notifier, notifiers
from medic.notify.email_message import build
from medic.notify.options import duration_option, resolve_secret
from medic.option_schemas import duration, options_schema

DEFAULT_TIMEOUT = 30.0
REMEMBERED = 256  # messages whose accepted recipients are remembered for retries


@notifiers.register("email")
class EmailNotifier(Notifier):
    """Send escalations and resolves as plain-text e-mail through an SMTP relay.

    Point it at the relay your hosts already use. With `username` set, the password
    comes from a secret reference and is only sent after TLS is up. A resolve replies
    to its escalation, so the pair reads as one thread.

    ``yaml
    notifiers:
      ops-mail:
        type: email
        host: smtp.example.com
        port: 587
        username: medic@example.com
        password: {env: MEDIC_SMTP_PASSWORD}
        from: Medic <medic@example.com>
        to: [oncall@example.com]
    ``
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "host": {"type": "string", "minLength": 1, "description": "The SMTP relay."},
            "port": {
                "type": "integer",
                "minimum": 1,
                "maximum": 65535,
                "description": "Default 587, or 465 with ssl.",
            },
            "starttls": {
                "type": "boolean",
                "description": "Upgrade to TLS with STARTTLS; fail if the relay cannot "
                "(default true).",
            },
            "ssl": {
                "type": "boolean",
                "description": "Implicit TLS from the start (default false).",
            },
            "username": {"type": "string", "description": "Log in as this user."},
            "password": secrets.schema("The login password."),
            "from": {"type": "string", "minLength": 3, "description": "The sender address."},
            "to": {
                "type": "array",
                "items": {"type": "string", "minLength": 3},
                "minItems": 1,
                "description": "Recipient addresses.",
            },
            "subject_prefix": {"type": "string", "description": "Default [medic]."},
            "ca_file": {
                "type": "string",
                "pattern": "^/",
                "description": "Trust only the CAs in this PEM file (a private relay).",
            },
            "verify_tls": {
                "type": "boolean",
                "description": "Check the relay's certificate (default true).",
            },
            "link_base": message.LINK_BASE_SCHEMA,
            "timeout": duration("Seconds or a duration like 30s (default 30s).", span=None),
        },
        required=["host", "from", "to"],
        dependentRequired={"password": ["username"], "username": ["password"]},
    )

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, options)
        self.host = str(options["host"])
        self.ssl = bool(options.get("ssl", False))
        self.starttls = bool(options.get("starttls", True)) and not self.ssl
        self.port = int(options.get("port", 465 if self.ssl else 587))
        self.username: str | None = options.get("username")
        self.password_ref: Mapping[str, str] | None = options.get("password")
        self.sender = str(options["from"])
        self.to = [str(t) for t in options["to"]]
        self.prefix = str(options.get("subject_prefix", "[medic]"))
        self.ca_file: str | None = options.get("ca_file")
        self.verify_tls = bool(options.get("verify_tls", True))
        self.link_base: str | None = options.get("link_base")
        self.timeout = duration_option(
            options, "timeout", DEFAULT_TIMEOUT, where=f"notifiers.{name}.timeout"
        )
        if self.username and not (self.ssl or self.starttls):
            raise ConfigError(
                f"notifiers.{name}: username and password would be sent unencrypted",
                hint="keep starttls: true (the default) or set ssl: true",
            )
        # Recipients that already accepted a message, so a retry after a partial
        # refusal only goes to those that did not.
        self._accepted: OrderedDict[str, set[str]] = OrderedDict()

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def _password(self) -> str | None:
        if self.password_ref is None:
            return None
        return resolve_secret(self, "password", self.password_ref)

    def tls_context(self) -> ssl.SSLContext:
        """The client TLS context: system CAs, or only ``ca_file``; unverified if told."""
        try:  # read by Medic, not OpenSSL: a FIFO or a device there is refused
            context = ca_context(self.ca_file)
        except OSError as exc:
            raise NotifyError(
                f"email {self.name}: cannot read ca_file {self.ca_file}: {ca_problem(exc)}",
                notifier=self.name,
            ) from exc
        if not self.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _error(self, text: str, *, hint: str | None = None, **fields: Any) -> NotifyError:
        return NotifyError(f"email {self.name}: {text}", hint=hint, notifier=self.name, **fields)

    def _timed_out(self) -> NotifyError:
        text = f"{self.where} did not answer within {format_duration(self.timeout)}"
        return self._error(text, retryable=True)

    async def send(self, notification: Notification) -> None:
        password = self._password()
        # With signed links, each address gets its own copy: its links name it.
        if self.links is not None and notification.incident:
            copies = [([to], self.personal(notification, to)) for to in self.to]
        else:
            copies = [(self.to, notification)]
        context = self.tls_context() if (self.ssl or self.starttls) else None
        failures: list[NotifyError] = []
        for recipients, n in copies:
            try:
                msg = build(
                    n,
                    sender=self.sender,
                    recipients=recipients,
                    prefix=self.prefix,
                    link_base=self.link_base,
                )
            except ValueError as exc:  # a header the email package refuses (from:, to:)
                raise self._error(f"cannot build the message: {exc}") from exc
            try:
                await within(
                    asyncio.to_thread(self._deliver, msg, password, context, recipients),
                    self.timeout,
                )
            except TimeoutError:
                failures.append(self._timed_out())
            except NotifyError as exc:  # the other recipients still get their copy
                failures.append(exc)
        if failures:
            raise failures[0]

    def _deliver(
        self,
        msg: EmailMessage,
        password: str | None,
        ctx: ssl.SSLContext | None,
        recipients: list[str],
    ) -> None:
        """One SMTP session (in a worker thread); every failure becomes a NotifyError."""
        key = str(msg["Message-ID"])
        done = self._accepted.get(key, set())
        pending = [r for r in recipients if r not in done]
        if not pending:  # every recipient already accepted this very message
            return
        try:
            refused = self._session(msg, password, ctx, pending)
        except smtplib.SMTPException as exc:
            if isinstance(exc.__context__, TimeoutError):  # smtplib wraps a read timeout
                raise self._timed_out() from exc
            raise self._smtp_error(exc, password) from exc
        except ssl.SSLCertVerificationError as exc:
            raise self._error(
                f"the TLS certificate of {self.where} is not trusted: {exc.verify_message}",
                hint="set ca_file to the CA that signed the relay's certificate",
            ) from exc
        except ssl.SSLError as exc:
            text = f"TLS with {self.where} failed: {exc.reason or exc}"
            raise self._error(text, retryable=True) from exc
        except TimeoutError as exc:
            raise self._timed_out() from exc
        except OSError as exc:
            text = f"cannot reach {self.where}: {exc.strerror or exc}"
            raise self._error(text, retryable=True) from exc
        except ValueError as exc:  # e.g. an address or login smtplib cannot encode
            text = str(exc).replace(password, "[redacted]") if password else str(exc)
            raise self._error(f"cannot send through {self.where}: {text}") from exc
        self._accepted[key] = done | {r for r in pending if r not in refused}
        self._accepted.move_to_end(key)
        while len(self._accepted) > REMEMBERED:
            self._accepted.popitem(last=False)
        if refused:
            said = ", ".join(
                f"{r} ({code} {text.decode('utf-8', 'replace')})"
                for r, (code, text) in sorted(refused.items())
            )
            raise self._error(
                f"{self.where} refused {said}",
                hint="the others received it; a retry goes to the refused recipients only",
                refused=sorted(refused),
            )

    def _session(
        self,
        msg: EmailMessage,
        password: str | None,
        ctx: ssl.SSLContext | None,
        recipients: list[str],
    ) -> dict[str, tuple[int, bytes]]:
        helo = socket.gethostname()
        smtp: smtplib.SMTP
        if self.ssl:
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, local_hostname=helo, timeout=self.timeout, context=ctx
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, local_hostname=helo, timeout=self.timeout)
        with smtp:
            smtp.ehlo()
            if self.starttls:
                if not smtp.has_extn("starttls"):
                    raise self._error(
                        f"{self.where} does not offer STARTTLS",
                        hint="use a relay with TLS, or ssl: true for implicit TLS (port 465)",
                    )
                smtp.starttls(context=ctx)
                smtp.ehlo()
            if self.username and password is not None:
                smtp.login(self.username, password)
            envelope_from = parseaddr(self.sender)[1] or self.sender
            refused = smtp.send_message(msg, from_addr=envelope_from, to_addrs=recipients)
        return dict(refused)

    def _smtp_error(self, exc: smtplib.SMTPException, password: str | None) -> NotifyError:
        def clean(text: str | bytes) -> str:
            if isinstance(text, bytes):
                text = text.decode("utf-8", "replace")
            return text.replace(password, "[redacted]") if password else text

        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return self._error(
                f"{self.where} refused the login of {self.username}: "
                f"{exc.smtp_code} {clean(exc.smtp_error)}",
                hint="check username and the password in "
                + secrets.describe(self.password_ref or {}),
                status=exc.smtp_code,
            )
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            refused = sorted(exc.recipients)
            return self._error(f"{self.where} refused every recipient: {', '.join(refused)}")
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return self._error(
                f"{self.where} refused the sender {exc.sender}: "
                f"{exc.smtp_code} {clean(exc.smtp_error)}",
                hint="set from: to an address the relay lets this user send as",
                status=exc.smtp_code,
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            return self._error(
                f"{self.where} answered {exc.smtp_code} {clean(exc.smtp_error)}",
                status=exc.smtp_code,
                retryable=400 <= exc.smtp_code < 500,
            )
        return self._error(
            f"{self.where}: {clean(str(exc)) or type(exc).__name__}",
            retryable=isinstance(exc, smtplib.SMTPServerDisconnected),
        )
