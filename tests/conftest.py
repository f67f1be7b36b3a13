"""Shared fixtures: Ray's token, one real Ray head (started with `ray start`), the CLI."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ray_nodes import RAY, RayNode, wait_for_nodes

TOKEN_FILE = Path.home() / ".ray" / "auth_token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def ray_token() -> str:
    """Ray's token for this user (generated once, as `ray get-auth-token --generate`)."""
    if not TOKEN_FILE.exists():
        subprocess.run([RAY, "get-auth-token", "--generate"], check=True, capture_output=True,
                       timeout=120)
    return TOKEN_FILE.read_text().strip()


@pytest.fixture(scope="session")
def ray_head(ray_token: str) -> Iterator[str]:
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


def sweeper(*args: str, env: dict[str, str] | None = None, timeout: float = 600,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real command, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "sweeper", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=cwd)


def write_space(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\n" + textwrap.dedent(body))
    return path
