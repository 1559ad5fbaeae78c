"""The wheel a new user installs: its name, its license and the files it ships."""

from __future__ import annotations

import email.parser
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

from medic.packaged import SHARED

ROOT = Path(__file__).resolve().parents[2]


def metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(name).decode())


def test_the_distribution_is_medic_agent_under_apache_2(wheel: Path) -> None:
    """Name medic-agent (not PyPI's unrelated `medic`), Apache-2.0 with its LICENSE text."""
    meta = metadata(wheel)
    assert (meta["Name"], meta["License-Expression"]) == ("medic-agent", "Apache-2.0")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        licence = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
        assert "Apache License\n" in archive.read(licence).decode()
        points = archive.read(next(n for n in names if n.endswith("entry_points.txt")))
    assert "medic = medic.cli:main" in points.decode()
    assert wheel.name.startswith("medic_agent-")


def test_the_wheel_ships_every_pack_the_unit_and_the_deployment_page(wheel: Path) -> None:
    """Everything under policies/, systemd/medic.service, .default and docs/deployment.md."""
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n.removeprefix("medic/share/") for n in archive.namelist()}
    wanted = set()
    for rel in SHARED:
        source = ROOT / rel
        files = source.rglob("*") if source.is_dir() else [source]
        wanted |= {
            str(f.relative_to(ROOT)) for f in files if f.is_file() and "__pycache__" not in f.parts
        }
    assert "policies/host/disk.yaml" in wanted
    assert wanted - shipped == set()


def test_init_from_the_installed_wheel_writes_a_config_that_validates(
    wheel: Path, tmp_path: Path
) -> None:
    """Installed without a checkout, `medic init` finds its packs in the package."""
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
         str(wheel)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(site)}
    medic = [sys.executable, "-c", "from medic.cli import main; main()"]
    where = subprocess.run(
        [sys.executable, "-c", "import medic.packaged as p; print(p.shared('policies'))"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.strip() == str(site / "medic" / "share" / "policies")
    made = subprocess.run(
        [*medic, "init", str(tmp_path / "node")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    config = tmp_path / "node" / "medic.yaml"
    assert yaml.safe_load(config.read_text())["policies"] == ["policies/host"]
    checked = subprocess.run(
        [*medic, "validate", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (checked.returncode, checked.stdout) == (0, "ok: 4 policies in 2 files\n")
