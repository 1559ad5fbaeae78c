"""The two sides of ``medic diff``: policy files on disk, or a policy set at a git revision.

``git:REV:PATH`` reads PATH (a file or a directory, relative to the current directory)
as it was at REV, through ``git ls-tree`` and ``git cat-file``, into a temporary
directory, and loads it with the real loader; messages name the files as
``git:REV:path/in/repo.yaml``. Policy test files (``*.test.yaml``) are not policies and
are left out on both kinds of side.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from medic.errors import Location, PolicyError
from medic.policy.loader import SUFFIXES, load_paths
from medic.policy.model import Policy
from medic.policy.result import LoadResult

GIT_PREFIX = "git:"
GIT_TIMEOUT = 60.0
_TEST_SUFFIXES = (".test.yaml", ".test.yml")
# A revision as people write them (branches, tags, shas, HEAD~2, origin/main); no options.
_REV = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./~^@{}+-]{0,199}$")


def _is_policy_file(name: str) -> bool:
    return name.endswith(SUFFIXES) and not name.endswith(_TEST_SUFFIXES)


def load_side(spec: str) -> tuple[list[Policy], list[PolicyError]]:
    """The policies of one side and the errors that stop it from loading whole."""
    if spec.startswith(GIT_PREFIX):
        return _load_git(spec)
    return _result(load_paths(_expand(Path(spec))))


def _result(result: LoadResult) -> tuple[list[Policy], list[PolicyError]]:
    return result.policies, result.errors


def _expand(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and _is_policy_file(p.name))
    return [path]


def _fail(spec: str, message: str, hint: str) -> tuple[list[Policy], list[PolicyError]]:
    return [], [PolicyError(message, location=Location(spec), hint=hint)]


def _git(args: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(
        ["git", *args],  # noqa: S607 -- the user's git from PATH, as they would run it
        capture_output=True,
        timeout=GIT_TIMEOUT,
        env=env,
        check=False,
    )


def _load_git(spec: str) -> tuple[list[Policy], list[PolicyError]]:
    rev, sep, path = spec[len(GIT_PREFIX) :].partition(":")
    usage = "write git:REV:PATH, like git:origin/main:policies"
    if not sep or not path or not _REV.fullmatch(rev) or path.startswith("-"):
        return _fail(spec, "not a git revision and path", usage)
    try:
        found = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"])
        if found.returncode != 0:
            why = found.stderr.decode(errors="replace").strip() or f"unknown revision {rev!r}"
            return _fail(spec, f"git cannot read revision {rev!r}: {why}", usage)
        commit = found.stdout.decode().strip()
        listed = _git(["ls-tree", "-r", "-z", "--full-name", "--name-only", commit, "--", path])
        if listed.returncode != 0:
            why = listed.stderr.decode(errors="replace").strip()
            return _fail(spec, f"git ls-tree failed: {why}", "run it inside the repository")
        names = [n for n in listed.stdout.decode().split("\0") if _is_policy_file(n)]
        if not names:
            return _fail(spec, f"no policy files at {path!r} in {rev}", usage)
        with tempfile.TemporaryDirectory(prefix="medic-diff-") as tmp:
            for name in names:
                blob = _git(["cat-file", "blob", f"{commit}:{name}"])
                if blob.returncode != 0:
                    return _fail(spec, f"git cannot read {name} at {rev}", usage)
                target = Path(tmp, name)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(blob.stdout)
            policies, errors = _result(load_paths([Path(tmp, name) for name in names]))
            return policies, [_renamed(e, tmp, f"{GIT_PREFIX}{rev}:") for e in errors]
    except (OSError, subprocess.TimeoutExpired) as exc:
        return _fail(spec, f"cannot run git: {exc}", "install git and run inside the repository")


def _renamed(error: PolicyError, tmp: str, prefix: str) -> PolicyError:
    """``error`` naming its file as it is in the repository, not the temporary copy."""
    where = error.location
    if where is None or not where.file.startswith(tmp + os.sep):
        return error
    file = prefix + where.file[len(tmp) + 1 :]
    return PolicyError(
        error.message.replace(tmp + os.sep, prefix),
        location=Location(file, where.line, where.column),
        policy=error.policy,
        hint=error.hint,
    )
