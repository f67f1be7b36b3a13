"""Shared fixtures: the machine left as found, Ray's token, one real Ray head (started with
`ray start`), the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import machine
from tests.events import PATIENCE_S
from tests.ray_nodes import RAY, RayNode, free_port, wait_for_nodes

__all__ = ["free_port", "sweeper", "without_ray_settings", "write_space"]

TOKEN_FILE = Path.home() / ".ray" / "auth_token"


def pytest_configure(config: pytest.Config) -> None:
    """Before any test (and any xdist worker, which inherits it): Ray, Keras and matplotlib
    write into a folder of the session, not the user's."""
    if not hasattr(config, "workerinput"):
        machine.isolate()


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and machine.SESSION_DIR in os.environ:
        machine.release()


@pytest.fixture(scope="session", autouse=True)
def machine_left_as_found() -> Iterator[None]:
    """After this process's tests: the user's Ray folder and record, the folders these
    libraries write under ~, and the user's own cluster (if a test asked for it) as before."""
    yield
    assert machine.after() == machine.before(), "the suite changed the user's side"
    assert machine.users_ray_problems() == []


@pytest.fixture(scope="session")
def users_ray() -> str:
    """A user's own `ray start` cluster, running beside the suite's clusters."""
    return machine.users_ray()


def without_ray_settings() -> dict[str, str]:
    """The environment without the user's RAY_ settings; the session's Ray folder stays (it
    stands for the machine, not for a setting)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("RAY_") or k == "RAY_TMPDIR"}


@pytest.fixture(scope="session")
def ray_token() -> str:
    """Ray's token for this user (generated once, as `ray get-auth-token --generate`)."""
    if not TOKEN_FILE.exists():
        subprocess.run([RAY, "get-auth-token", "--generate"], check=True, capture_output=True,
                       timeout=PATIENCE_S)
    return TOKEN_FILE.read_text().strip()


@pytest.fixture(scope="session")
def ray_head(ray_token: str, users_ray: str) -> Iterator[str]:
    """A Ray head started with `ray start` and token auth: 2 CPUs, 4 logical GPUs. Stopped
    alone at the end: any other Ray on the machine (a user's own cluster) keeps running."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    head = RayNode("--head", f"--port={port}", f"--ray-client-server-port={free_port()}",
                   "--num-cpus=2", "--num-gpus=4", "--include-dashboard=false")
    try:
        wait_for_nodes(address, 1)
        yield address
    finally:
        head.stop()


def sweeper(*args: str, env: dict[str, str] | None = None, timeout: float = PATIENCE_S,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real command, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "sweeper", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=cwd)


def write_space(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\n" + textwrap.dedent(body))
    return path
