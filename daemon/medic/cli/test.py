"""``medic test``: run the policy unit tests (``*.test.yaml``) on simulated time.

Exit status 0 when every case passed, 1 when any failed or a file has errors.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the results as JUnit XML to this file (for CI).",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Show every case's timeline, not only failures'."
)
def command(paths: tuple[Path, ...], junit_path: Path | None, verbose: bool) -> None:
    """Run policy tests: *.test.yaml files under PATHS (default: policies).

    Each case feeds readings to a policy and checks what the engine decides and when,
    with the real engine on simulated time: nothing is probed or run.
    """
    from medic.policytest.check import run_paths
    from medic.policytest.report import junit, render

    run = run_paths(list(paths) or [Path("policies")])
    click.echo(render(run, verbose=verbose))
    if junit_path is not None:
        junit(run, junit_path)
    if not run.results and not run.errors:
        click.echo("no test cases found (write *.test.yaml files; see docs/testing.md)", err=True)
        raise SystemExit(1)
    raise SystemExit(0 if run.ok else 1)
