"""How a policy names a program to run: an ``argv`` list, or ``shell`` text when asked.

The ``command`` probe and the ``command`` action take the same pair of options:
``argv``, run directly so that no shell ever sees a value (preferred), or ``shell``,
text for ``/bin/sh -c`` when shell syntax is really needed. Exactly one of them must
be given; each caller words that rule for its own readers.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from typing import Any, Literal

SHELL = "/bin/sh"


def program_mistake(options: Mapping[str, Any]) -> Literal["both", "neither"] | None:
    """Whether ``options`` give both argv and shell, neither, or (None) exactly one."""
    has_argv, has_shell = "argv" in options, "shell" in options
    if has_argv and has_shell:
        return "both"
    if not has_argv and not has_shell:
        return "neither"
    return None


def command_argv(options: Mapping[str, Any], fill: Callable[[str], str] = str) -> list[str]:
    """What to execute: ``[SHELL, "-c", shell]``, or each argv item through ``fill``
    (which may fill placeholders, and raise for an unknown one)."""
    if "shell" in options:
        return [SHELL, "-c", str(options["shell"])]
    return [fill(item) for item in options.get("argv", ())]


def command_text(options: Mapping[str, Any], argv: list[str]) -> str:
    """The command as people read it: the shell text, or ``argv`` quoted for a shell."""
    return str(options["shell"]) if "shell" in options else shlex.join(argv)
