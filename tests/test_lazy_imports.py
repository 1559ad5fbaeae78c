"""Loading plugins and the agent costs nothing for libraries no policy uses (issue 14).

Each check runs in a fresh interpreter, since this test process has imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

from medic.lazy import lazy_module
from medic.policy.loader import load_text
from medic.probes.base import Measurement, Probe
from medic.registry import Registry

REPO = Path(__file__).resolve().parent.parent

# Client libraries a plugin needs only when a policy runs it.
PLUGIN_LIBRARIES = (
    "docker",
    "requests",
    "redis",
    "asyncpg",
    "aiomysql",
    "pymysql",
    "cryptography",
    "prometheus_client.parser",
    "prometheus_client.openmetrics.parser",
    "psutil",  # host.* probes, imported when a policy makes one
)
# What the agent needs only for a migration, which `medic run` runs in a child process.
MIGRATION_ONLY = ("sqlite_utils", "dateutil", "pluggy", "sqlite_fts4")
# What the agent no longer uses at all (its file watch is inotify on the event loop).
NOT_FOR_THE_AGENT = ("watchfiles", "anyio", "multiprocessing")
# What `medic validate` needs none of, on top of the plugin libraries: jsonschema only
# words errors (the quick tests pass valid files), the agent config comes only with
# --config, structlog only with a first log line, psutil only when a host probe reads.
NOT_FOR_VALIDATE = (
    *PLUGIN_LIBRARIES,
    "aiohttp",
    "sqlite_utils",
    "watchfiles",
    "prometheus_client",
    "jsonschema",
    "referencing",
    "medic.config",
    "structlog",
    "psutil",
)
# What `medic validate` of a valid pack needs none of either (issue 14: the command's
# time was mostly imports): the event loop and what it pulls in, entry-point discovery
# (the built-in type index names each type's module), logging (nothing is logged),
# did-you-mean guesses, and the helpers a plugin needs only when it runs.
HEAVY_FOR_VALIDATE = (
    "asyncio",
    "ssl",
    "socket",
    "subprocess",
    "concurrent.futures",
    "importlib.metadata",
    "logging",
    "difflib",
    "ctypes",
    "medic.proc",
    "medic.probes.monitoring.promwindow",
    "medic.probes.logs.logset",
    "medic.probes.network.certificates",
    "medic.probes.commands.nagios",
    "medic.probes.monitoring.promsamples",
)


def loaded_after(code: str, cwd: Path = REPO) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def present(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [name for name in names if name in modules]


def test_loading_every_plugin_imports_no_client_library() -> None:
    """Importing every probe, action and notifier module leaves their libraries unloaded."""
    modules = loaded_after(
        """
        from medic.actions.base import actions
        from medic.notify.base import notifiers
        from medic.probes.base import probes
        for registry in (probes, actions, notifiers):
            registry.load()
            assert registry.names(), registry.kind
        """
    )
    assert present(modules, PLUGIN_LIBRARIES) == []


def test_drivers_and_the_plugin_kit_import_no_client_library() -> None:
    """Importing every driver (Docker, systemd, PostgreSQL, MySQL) and medic.plugin loads
    no client library: each driver imports its own when first used."""
    drivers = sorted(p.stem for p in (REPO / "daemon/medic/drivers").glob("*.py"))
    assert {"docker", "mysql", "postgres", "systemd"} <= set(drivers)
    modules = loaded_after(
        "import medic.plugin\n" + "".join(f"import medic.drivers.{name}\n" for name in drivers)
    )
    assert "medic.drivers.docker" in modules
    assert present(modules, NOT_FOR_VALIDATE) == []


def test_agent_core_imports_no_client_library() -> None:
    """The agent, its API server and every plugin load without any plugin's library."""
    modules = loaded_after(
        """
        import medic.api.server, medic.engine.agent, medic.cli.run
        from medic.probes.base import probes
        probes.load()
        """
    )
    assert present(modules, (*PLUGIN_LIBRARIES, *MIGRATION_ONLY, *NOT_FOR_THE_AGENT)) == []


def test_an_agent_watching_its_policy_files_loads_no_watch_library(tmp_path: Path) -> None:
    """With `watch: true` the agent watches through inotify: no watchfiles, anyio or thread."""
    (tmp_path / "policies").mkdir()
    modules = loaded_after(
        f"""
        import asyncio, threading
        from pathlib import Path
        from medic.config import AgentConfig, ApiConfig
        from medic.engine.agent import Agent
        root = Path({str(tmp_path)!r})
        async def main():
            config = AgentConfig(host="h", state_dir=root / "state",
                                 policy_paths=(root / "policies",), watch=True,
                                 api=ApiConfig(enabled=False))
            agent = Agent(config)
            await agent.start()
            (root / "policies" / "a.yaml").write_text("version: 1\\npolicies: []\\n")
            await asyncio.sleep(1.0)
            names = [t.name for t in threading.enumerate()]
            await agent.stop()
            assert not [n for n in names if "AnyIO" in n], names
        asyncio.run(main())
        """
    )
    assert "medic.engine.agent" in modules
    assert present(modules, NOT_FOR_THE_AGENT) == []


def test_opening_an_up_to_date_audit_log_imports_no_migration_library(tmp_path: Path) -> None:
    """The store starts on a migrated database (the child did it) without sqlite-utils."""
    modules = loaded_after(
        f"""
        import asyncio, sys
        from pathlib import Path
        from medic.audit.store import AuditStore
        from medic.audit.upgrade import start_apart
        path = Path({str(tmp_path / "audit.db")!r})
        assert start_apart(path).wait(), "the child migrated nothing"
        async def main():
            store = AuditStore(path, host="h")
            await store.start()
            await store.close()
        asyncio.run(main())
        """
    )
    assert "medic.audit.store" in modules
    assert present(modules, MIGRATION_ONLY) == []


def test_validate_imports_neither_client_libraries_nor_the_server() -> None:
    """`medic validate` on the shipped packs imports no client library, aiohttp, SQLite
    layer, event loop, entry-point discovery or logging."""
    modules = loaded_after(
        """
        import runpy, sys
        sys.argv = ["medic", "validate", "policies"]
        try:
            runpy.run_module("medic", run_name="__main__")
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        """
    )
    assert "medic.policy.loader" in modules
    assert present(modules, NOT_FOR_VALIDATE) == []
    assert present(modules, HEAVY_FOR_VALIDATE) == []


ONE_PROBE_PACK = """\
version: 1
policies:
  - name: memory
    probe: {type: host.memory}
    when: percent > 90
    remediate:
      - command: {argv: [/bin/true]}
"""


def test_validate_imports_only_the_plugin_modules_a_file_names(tmp_path: Path) -> None:
    """`medic validate` on a host.memory + command file imports those two plugin modules,
    and neither importlib.metadata (entry points) nor any other probe or action."""
    (tmp_path / "one.yaml").write_text(ONE_PROBE_PACK)
    modules = loaded_after(
        f"""
        import runpy, sys
        sys.argv = ["medic", "validate", {str(tmp_path)!r}]
        try:
            runpy.run_module("medic", run_name="__main__")
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        """
    )
    plugins = {
        name
        for name in modules
        if name.startswith(("medic.probes.", "medic.actions."))
        and name.rpartition(".")[2] not in {"base", "outputs", "placeholders"}
    }
    assert plugins == {"medic.probes.system", "medic.probes.system.host", "medic.actions.command"}
    assert present(modules, HEAVY_FOR_VALIDATE) == []


def test_a_deferred_log_configuration_applies_at_the_first_line() -> None:
    """get_logger imports structlog and applies the deferred configuration when it logs."""
    code = textwrap.dedent(
        """
        import sys
        from medic import logsetup
        logsetup.configure_on_first_log("json", "warning")
        log = logsetup.get_logger("medic.test")
        assert "structlog" not in sys.modules, "imported before the first line"
        log.info("test.quiet")
        log.error("test.loud", token="s3cr3t-value")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["event"], line["level"]) for line in lines] == [("test.loud", "error")]
    assert "s3cr3t-value" not in done.stderr  # the redaction processor is in place


def test_lazy_module_imports_on_first_attribute() -> None:
    """A lazy module is imported when an attribute is read, and gives the real attribute."""
    modules = loaded_after(
        """
        import sys
        from medic.lazy import lazy_module
        colorsys = lazy_module("colorsys")
        assert "colorsys" not in sys.modules, "imported too early"
        assert colorsys.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
        """
    )
    assert "colorsys" in modules


def test_lazy_module_says_what_it_stands_for() -> None:
    """Its repr names the module and whether it was imported yet."""
    module = lazy_module("json")
    assert repr(module) == "<lazy module 'json' (not imported yet)>"
    assert module.dumps([1]) == "[1]"
    assert repr(module) == "<lazy module 'json' (imported)>"


class BrokenSchemaProbe(Probe):
    """A third-party probe whose options schema is not a valid JSON Schema."""

    schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {"n": {"type": "numbr"}}}

    async def measure(self) -> Measurement:
        return {}


def test_a_third_party_plugin_schema_is_still_checked() -> None:
    """A plugin outside medic with a broken schema gets a clear error, not a crash."""
    probes: Registry[type[Probe]] = Registry("probe", "medic.tests.no-such-group")
    actions: Registry[Any] = Registry("action", "medic.tests.no-such-group")
    probes.register("odd")(BrokenSchemaProbe)
    result = load_text(
        "version: 1\npolicies:\n  - name: p\n    probe: {type: odd}\n    when: x > 1\n",
        "odd.yaml",
        probe_registry=probes,
        action_registry=actions,
    )
    assert "its options schema is broken" in result.errors[0].message


def test_validate_leaves_no_log_configuration_behind() -> None:
    """After an in-process `medic validate`, a first log line is not reconfigured under it."""
    from click.testing import CliRunner
    from structlog.testing import capture_logs

    from medic import logsetup
    from medic.cli import main

    CliRunner().invoke(main, ["validate", str(REPO / "policies")])
    with capture_logs() as logs:
        logsetup.get_logger("medic.test").warning("test.after")
    assert logs == [{"event": "test.after", "log_level": "warning"}]


def test_a_host_probe_imports_psutil_when_made_not_when_first_run() -> None:
    """psutil loads as a policy makes a host probe, so its first run on the loop is quick."""
    modules = loaded_after(
        """
        import sys
        from medic.probes.system.disk import DiskProbe
        from medic.probes.system.host import MemoryProbe
        assert "psutil" not in sys.modules
        MemoryProbe({})
        """
    )
    assert "psutil" in modules
