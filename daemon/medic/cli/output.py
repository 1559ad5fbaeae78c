"""The CLI's output grammar: ``-o/--output FORMAT`` and ``--local`` on every command
that lists or shows something.

``-o`` always means the output format (``table``, ``json``, ``jsonl``, ``csv``: those
that make sense for the command); a file to write is ``--out FILE``. ``--format`` is
kept, hidden, where it existed. ``--local`` shows times in tables in the local zone
with their offset instead of UTC with ``Z``, and makes ``today``/``yesterday`` in
``--since``/``--until`` mean the local day.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
LOCAL = "medic.local"  # ctx.meta key: --local was given (read by the When type)


class OutputChoice(click.Choice[str]):
    """A format name; a value that looks like a file says where files go now."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value not in self.choices and ("." in value or "/" in value):
            self.fail(
                f"{value!r} is not an output format ({', '.join(self.choices)}): "
                "-o/--output is the format; write to a file with --out FILE",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)


def output_option(choices: Sequence[str], default: str = "table") -> Callable[[F], F]:
    """``-o/--output`` with ``choices`` (and a hidden ``--format`` alias); the command
    gets the chosen name as its ``output`` argument."""
    names = list(choices)

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, output: str | None, format_alias: str | None, **kw: Any) -> Any:
            if output is not None and format_alias is not None and output != format_alias:
                raise click.UsageError("give -o/--output once (--format is its old name)")
            return fn(*args, output=output or format_alias or default, **kw)

        command: Any = click.option(
            "--format", "format_alias", type=OutputChoice(names), hidden=True
        )(wrapper)
        command = click.option(
            "-o",
            "--output",
            "output",
            type=OutputChoice(names),
            metavar="|".join(names),
            help=f"Output format [default: {default}].",
        )(command)
        return command  # type: ignore[no-any-return]

    return decorate


def _remember_local(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    ctx.meta[LOCAL] = bool(value)
    return bool(value)


def local_option(fn: F) -> F:
    """``--local``: read early, so ``--since today`` already knows which day."""
    return click.option(
        "--local",
        is_flag=True,
        is_eager=True,
        callback=_remember_local,
        help="Times in the local zone (with offset), not UTC; today/yesterday are local days.",
    )(fn)


def wants_local(ctx: click.Context | None) -> bool:
    """Whether ``--local`` was given to the command being run."""
    return bool(ctx is not None and ctx.meta.get(LOCAL))
