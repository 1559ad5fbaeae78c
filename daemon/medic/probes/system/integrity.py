"""The ``file.integrity`` probe: has a file's content, mode or owner changed?

Each run reads every file ``path`` names (a glob may name many;
:mod:`medic.probes.system.integrity_read`) and compares it with a baseline kept in the agent's
state directory (:mod:`medic.probes.probestate`), so a restart does not forget it. The
first run records the baseline. With ``baseline: first`` (the default) it stays until
the file is put back (a change keeps ``changed`` true, which is what a remediation that
restores the file is verified against) or the state file is deleted; with
``baseline: previous`` each run compares with the one before, so a change shows once.
A file that appears later under a glob is compared with "did not exist".
"""

from __future__ import annotations

import glob
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.option_schemas import options_schema
from medic.probes.base import Field, Measurement, Probe, probes
from medic.probes.probestate import StateFile, state_file
from medic.probes.system.integrity_read import ALGORITHMS, COMPARED, missing, read_file

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


@probes.register("file.integrity")
class IntegrityProbe(Probe):
    """Whether files changed (content, mode, owner, group) since a recorded baseline.

    ``path`` is an absolute path or a glob (``/etc/sudoers.d/*``); each file is a
    target. ``digest`` (also yielded under the name of ``algorithm``, default
    ``sha256``) is of the content, read up to ``max_bytes`` (default 64 MiB; a bigger
    file is a probe error). Symbolic links are not followed unless ``follow`` is true:
    a link's digest is of the path it points to. A FIFO, a device or a socket has no
    digest (its mode and owner are still compared) and is never opened. ``changed``
    says the file differs from the baseline and ``changed_fields`` lists how
    (``digest``, ``mode``, ``owner``, ``group``, ``exists``, ``symlink``); mtime alone
    is no change. The baseline is kept
    in the agent's state_dir (docs/services.md).

    ```yaml
    version: 1
    policies:
      - name: sudoers-tampered
        description: Page when a sudoers file changes content, mode or owner.
        probe:
          type: file.integrity
          path: /etc/sudoers.d/*
          algorithm: sha256
          every: 1m
        when: changed
        escalate: {notify: [security]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "path": {
                "type": "string",
                "pattern": "^/",
                "maxLength": 4096,
                "description": "Absolute path of a file, or a glob of several.",
            },
            "algorithm": {
                "enum": list(ALGORITHMS),
                "default": "sha256",
                "description": "Hash of the content (default sha256).",
            },
            "max_bytes": {
                "type": "integer",
                "minimum": 1,
                "maximum": 4 * 1024 * 1024 * 1024,
                "default": DEFAULT_MAX_BYTES,
                "description": "A bigger file is a probe error (default 64 MiB).",
            },
            "max_files": {
                "type": "integer",
                "minimum": 1,
                "maximum": 10000,
                "default": 100,
                "description": "A glob matching more files is a probe error (default 100).",
            },
            "follow": {
                "type": "boolean",
                "default": False,
                "description": "Read what symbolic links point to (default: the link itself).",
            },
            "baseline": {
                "enum": ["first", "previous"],
                "default": "first",
                "description": "Compare with the first run (kept) or the previous one.",
            },
        },
        required=["path"],
    )
    fields: ClassVar[tuple[Field, ...]] = (
        Field("exists", "boolean", "The file exists."),
        Field("digest", "string", "Hex digest of the content (of the link path for a link)."),
        Field("mode", "string", "Permission bits in octal, e.g. 0644."),
        Field("owner", "string", "Owning user (name, or uid when it has none)."),
        Field("group", "string", "Owning group (name, or gid when it has none)."),
        Field("symlink", "boolean", "The path is a symbolic link (not followed)."),
        Field("size", "number", "Size.", "bytes"),
        Field("mtime", "number", "Last modification, Unix time.", "seconds"),
        Field("changed", "boolean", "It differs from the baseline."),
        Field("changed_fields", "list", "What differs: digest, mode, owner, group, exists."),
    )
    default_every = 60.0
    default_timeout = 30.0

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.path = str(options["path"])
        self.algorithm = str(options.get("algorithm", "sha256"))
        self.max_bytes = int(options.get("max_bytes", DEFAULT_MAX_BYTES))
        self.max_files = int(options.get("max_files", 100))
        self.follow = bool(options.get("follow", False))
        self.keep_first = options.get("baseline", "first") == "first"
        self.state: StateFile | None = state_file("file.integrity", options)
        self.baseline: dict[str, dict[str, Any]] | None = None
        self._loaded = False

    @classmethod
    def option_fields(cls, options: Mapping[str, Any]) -> list[str]:
        algorithm = options.get("algorithm", "sha256")
        return [algorithm] if isinstance(algorithm, str) and algorithm in ALGORITHMS else []

    async def measure(self) -> Measurement:
        if not self._loaded:
            self._loaded = True
            kept = self.state.load() if self.state is not None else None
            if isinstance(kept, dict) and kept.get("algorithm") == self.algorithm:
                files = kept.get("files")
                whole = isinstance(files, dict) and all(isinstance(r, dict) for r in files.values())
                self.baseline = files if whole else None  # a damaged file: a new baseline
        readings = await asyncio.to_thread(self._read_all)
        first = self.baseline is None
        baseline: dict[str, dict[str, Any]] = dict(self.baseline or {})
        out: Measurement = {}
        for path in sorted(set(readings) | set(baseline)):
            now = readings.get(path) or missing()
            base = baseline.setdefault(path, now if first else missing())
            changed = [k for k in COMPARED if base.get(k) != now.get(k)]
            out[path] = {
                **now,
                self.algorithm: now["digest"],
                "changed": bool(changed),
                "changed_fields": changed,
            }
        keep = baseline if self.keep_first else dict(readings)
        if keep != self.baseline:
            self.baseline = keep
            if self.state is not None:
                self.state.save({"algorithm": self.algorithm, "files": keep})
        return out

    def _read_all(self) -> dict[str, dict[str, Any]]:
        paths = [self.path]
        if glob.has_magic(self.path):
            paths = sorted(glob.glob(self.path))  # noqa: PTH207 - absolute; Path.glob is relative
        if len(paths) > self.max_files:
            raise ProbeError(
                f"{self.path} matches {len(paths)} files, more than max_files ({self.max_files})",
                hint="narrow the glob, or raise max_files",
            )
        return {p: read_file(p, self.algorithm, self.max_bytes, self.follow) for p in paths}
