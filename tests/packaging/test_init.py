"""`medic init DIR`: a starter config and the example packs, never over existing files."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from medic.cli import main
from medic.config import load_config
from medic.packaged import packs


def init(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["init", *args])
    return result.exit_code, result.output


def test_init_writes_a_safe_config_and_every_pack(tmp_path: Path) -> None:
    """Dry-run, state in DIR/state, API on loopback, host pack on, all packs written."""
    node = tmp_path / "node"
    code, output = init(str(node))
    assert code == 0, output
    config = load_config(node / "medic.yaml")
    assert config.dry_run is True
    assert config.state_dir == node / "state"
    assert config.policy_paths == (node / "policies" / "host",)
    assert (config.api.host, config.api.port, config.api.loopback) == ("127.0.0.1", 9325, True)
    for name, source in packs().items():
        for file in source.rglob("*.yaml"):
            copied = node / "policies" / name / file.relative_to(source)
            assert copied.read_bytes() == file.read_bytes()
    assert (node / "medic.yaml").stat().st_mode & 0o777 == 0o640
    assert output.splitlines()[0] == f"wrote {node / 'medic.yaml'} (dry-run; enabled: host)"
    assert output.splitlines()[-3:] == [
        "next:",
        f"  medic validate --config {node / 'medic.yaml'}",
        f"  medic run --config {node / 'medic.yaml'}",
    ]


def test_the_starter_config_validates_with_its_packs(tmp_path: Path) -> None:
    """What init wrote passes `medic validate --config` as it is (notifier oncall included)."""
    init(str(tmp_path))
    result = CliRunner().invoke(main, ["validate", "--config", str(tmp_path / "medic.yaml")])
    assert (result.exit_code, result.output) == (0, "ok: 4 policies in 2 files\n")


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    """One existing file: exit 1, the file named, not a single file written."""
    (tmp_path / "policies" / "host").mkdir(parents=True)
    mine = tmp_path / "policies" / "host" / "disk.yaml"
    mine.write_text("# mine\n")
    code, output = init(str(tmp_path))
    assert code == 1
    assert "1 file(s) already exist, nothing was written:" in output
    assert f"  {mine}\n" in output
    assert "--force" in output
    assert mine.read_text() == "# mine\n"
    assert not (tmp_path / "medic.yaml").exists()


def test_init_force_overwrites(tmp_path: Path) -> None:
    """--force replaces existing files with the packaged ones."""
    init(str(tmp_path))
    (tmp_path / "medic.yaml").write_text("# mine\n")
    code, _ = init(str(tmp_path), "--force")
    assert code == 0
    assert "dry_run: true" in (tmp_path / "medic.yaml").read_text()


def test_state_dir_and_enabled_packs_are_options(tmp_path: Path) -> None:
    """--state-dir (quoted whatever it holds) and --enable choose what the config says."""
    code, output = init(
        str(tmp_path), "--state-dir", "/var/lib/medic: #x", "--enable", "host", "--enable", "web"
    )
    assert code == 0, output
    raw = yaml.safe_load((tmp_path / "medic.yaml").read_text())
    assert raw["state_dir"] == "/var/lib/medic: #x"
    assert raw["policies"] == ["policies/host", "policies/web"]


def test_an_unknown_pack_is_refused_with_the_choices(tmp_path: Path) -> None:
    """--enable nope: usage error listing the packs; nothing written."""
    code, output = init(str(tmp_path / "n"), "--enable", "nope")
    assert code == 2
    assert (
        "no pack named nope; packs: alerts, containers, database, eventchain, finaegis," in output
    )
    assert not (tmp_path / "n").exists()
