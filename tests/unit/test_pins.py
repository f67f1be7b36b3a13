"""A fresh machine installs what the tests passed with: constraints.txt pins every package
of the venv, the development tools too, and new pins rebuild the venv."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.events import PATIENCE_S

ROOT = Path(__file__).resolve().parents[2]
DEV_TOOLS = ("pytest", "ruff", "mypy", "playwright", "types-pyyaml", "jsonschema", "pytest-xdist",
             "import-linter")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonical(name)] = version
    return pins


def test_every_installed_package_runs_at_its_pinned_version() -> None:
    pins = read_pins(ROOT / "constraints.txt")
    for tool in DEV_TOOLS:
        assert tool in pins, f"constraints.txt does not pin the development tool {tool}"
    for build_tool in ("pip", "setuptools"):
        assert build_tool in pins
    drift = []
    # what pip installed into this environment (Ray puts copies of its own on sys.path)
    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    for dist in importlib.metadata.distributions(path=site):
        name = canonical(dist.metadata["Name"])
        if name != "sweeper" and pins.get(name) != dist.version:
            drift.append(f"{name} {dist.version} (pinned: {pins.get(name, 'nothing')})")
    assert not drift, ("the tests run on packages constraints.txt does not pin: "
                       + ", ".join(drift) + "; `make install` installs the pins")


def test_image_pins_are_the_same_versions_without_the_dev_tools() -> None:
    pins = read_pins(ROOT / "constraints.txt")
    image = read_pins(ROOT / "docker" / "constraints.txt")
    assert {name: pins.get(name) for name in image} == image
    assert not set(DEV_TOOLS[:4]) & set(image)
    assert "psycopg2-binary" in image  # the MLflow container's PostgreSQL driver


FAKE_PYTHON = """\
#!{real}
# Stands in for python3 and the venv's python: creates venvs, logs pip calls.
import os, shutil, sys
log = os.environ["FAKE_LOG"]
if sys.argv[1:3] == ["-m", "venv"]:
    os.makedirs(os.path.join(sys.argv[3], "bin"))
    shutil.copy(__file__, os.path.join(sys.argv[3], "bin", "python"))
    open(log, "a").write("venv\\n")
elif sys.argv[1] == "-c":
    exec(sys.argv[2])
else:
    call = " ".join([os.environ.get("PIP_CONSTRAINT", "-"), *sys.argv[1:]])
    open(log, "a").write(call + "\\n")
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The Makefile with its inputs, and a stand-in python that installs nothing."""
    for name in ("Makefile", "pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON.format(real=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return tmp_path


def make_install(project: Path) -> list[str]:
    log = project / "log"
    log.unlink(missing_ok=True)
    env = {**os.environ, "FAKE_LOG": str(log)}
    subprocess.run(["make", "install", f"PYTHON={project / 'fake-python'}"], cwd=project,
                   check=True, capture_output=True, env=env, timeout=PATIENCE_S)
    return log.read_text().splitlines() if log.exists() else []


def test_make_install_uses_the_pins_and_rebuilds_the_venv_when_they_change(
        project: Path) -> None:
    first = make_install(project)
    assert first[0] == "venv"
    installs = [line for line in first if " -m pip install" in line]
    assert installs and all(line.startswith(str(project / "constraints.txt"))
                            for line in installs), first
    assert any("-e .[dev]" in line for line in installs)
    (project / ".venv" / "left-over").write_text("a package of the old pins")
    assert make_install(project) == []  # nothing changed: nothing to do
    with (project / "constraints.txt").open("a") as pins:
        pins.write("example-package==1.0\n")
    again = make_install(project)
    assert again[0] == "venv"  # built anew
    assert not (project / ".venv" / "left-over").exists()

