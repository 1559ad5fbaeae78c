"""One exception tree for everything Medic reports.

Errors carry structured fields (file, line, policy, hint) rather than text glued
together, so the CLI, the API and the audit log can each render them their own way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class MedicError(Exception):
    """Base of every error Medic raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        out.update({k: v for k, v in self.fields.items() if v is not None})
        return out


@dataclass(frozen=True)
class Location:
    """Where in a policy file something is: 1-based line and column."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


class PolicyError(MedicError):
    """A policy file or policy that cannot be loaded, with where and how to fix it."""

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        policy: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(
            message,
            hint=hint,
            file=location.file if location else None,
            line=location.line if location else None,
            column=location.column if location else None,
            policy=policy,
        )
        self.location = location
        self.policy = policy

    def __str__(self) -> str:
        parts = []
        if self.location is not None:
            parts.append(f"{self.location}:")
        if self.policy:
            parts.append(f"policy {self.policy!r}:")
        parts.append(self.message)
        text = " ".join(parts)
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class PolicyWarning(PolicyError):
    """Not an error: something about a valid policy (or agent config, such as an old
    spelling of a secret) that a reviewer should know.

    Never raised; ``medic validate`` prints it with ``warning:`` and the agent audits
    it as ``policy.warning``.
    """

    def __str__(self) -> str:
        text = super().__str__()
        prefix = f"{self.location}: " if self.location is not None else ""
        return prefix + "warning: " + text.removeprefix(prefix)


class ConfigError(MedicError):
    """The agent configuration file is invalid."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        hint: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message, hint=hint, file=file, line=line)
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file
        prefix = f"{where}: " if where else ""
        suffix = f" (hint: {self.hint})" if self.hint else ""
        return f"{prefix}{self.message}{suffix}"


class ExpressionError(MedicError):
    """A `when:` condition that does not parse or cannot be evaluated.

    `column` is 1-based within the expression text.
    """

    def __init__(self, message: str, *, column: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, column=column)
        self.column = column


class PatternError(MedicError):
    """A regular expression Medic will not run: not RE2 syntax, invalid, or too large.

    `problem` says what is wrong (the message is "invalid regex: <problem>"); `position`
    is the 1-based character of the pattern at fault, when known.
    """

    def __init__(
        self, problem: str, *, position: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(f"invalid regex: {problem}", hint=hint, position=position)
        self.problem = problem
        self.position = position

    def __str__(self) -> str:
        text = self.message
        if self.position is not None:
            text += f" (character {self.position} of the pattern)"
        return f"{text}; {self.hint}" if self.hint else text


class ProbeError(MedicError):
    """A probe could not measure its targets (unreachable, timed out, bad answer)."""


class ActionError(MedicError):
    """An action could not be carried out."""


class NotifyError(MedicError):
    """A notification could not be delivered."""


class FleetError(MedicError):
    """The fleet's shared state (etcd) or central audit database cannot be reached or used."""
