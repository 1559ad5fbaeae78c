"""GitHub Actions workflow commands: a problem as ``::error file=F,line=L::message``.

GitHub shows these as annotations on the pull request's changed lines. The message
and the properties are escaped as the runner expects: ``%``, CR and LF in both, and
``:`` and ``,`` in property values as well, so a message cannot end the command early
or forge another one.
"""

from __future__ import annotations

from medic.errors import PolicyError, PolicyWarning

TITLE = "medic validate"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(problem: PolicyError, title: str = TITLE) -> str:
    """One workflow command for ``problem``: ``::warning`` for a warning, else ``::error``."""
    level = "warning" if isinstance(problem, PolicyWarning) else "error"
    props: list[tuple[str, str]] = []
    where = problem.location
    if where is not None:
        props.append(("file", where.file))
        if where.line is not None:
            props.append(("line", str(where.line)))
            if where.column is not None:
                props.append(("col", str(where.column)))
    props.append(("title", title))
    message = f"policy {problem.policy!r}: {problem.message}" if problem.policy else problem.message
    if problem.hint:
        message += f" (hint: {problem.hint})"
    head = ",".join(f"{key}={_property(value)}" for key, value in props)
    return f"::{level} {head}::{_data(message)}"
