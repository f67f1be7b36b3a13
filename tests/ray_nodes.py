"""Ray clusters started by tests, as users start theirs (`ray start`), and stopped the same
way a machine dies: only the processes of that one `ray start`, never another cluster on
the machine (`ray stop --force` would stop every Ray process, a user's own included)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.events import PATIENCE_S

VENV_BIN = Path(sys.executable).parent
RAY = str(VENV_BIN / "ray") if (VENV_BIN / "ray").exists() else shutil.which("ray") or "ray"

LIST_NODES = """\
import json, sys, ray
ray.init(address=sys.argv[1], logging_level="ERROR")
print(json.dumps([{"id": n["NodeID"], "head": "node:__internal_head__" in n["Resources"],
                   "gpus": n["Resources"].get("GPU", 0)} for n in ray.nodes() if n["Alive"]]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def session_processes(leader: int) -> list[int]:
    """Every live process of the session ``leader`` leads (/proc/PID/stat: field 6)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[3]) == leader and fields[0] != "Z":  # not a zombie
                found.append(int(stat.parent.name))
    return found


def kill_session(leader: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader, sig)
    for pid in session_processes(leader):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_session(leader: int) -> None:
    """As a machine dies: SIGKILL to every process of the session, until none is left
    (SIGTERM first only made the suite wait: `ray start --block` outlives it by 20 s)."""
    kill_session(leader)
    deadline = time.monotonic() + PATIENCE_S
    while session_processes(leader) and time.monotonic() < deadline:
        time.sleep(0.1)


class RayNode:
    """One `ray start --block` and everything it starts: one session, as one machine.

    Ray puts each worker process in a process group of its own, so killing the group of
    `ray start` would leave the trials training on as orphans; a machine that dies takes its
    whole session with it."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        env = {**os.environ, "RAY_AUTH_MODE": "token", **(env or {})}
        self.process = subprocess.Popen(
            [RAY, "start", *args, "--node-ip-address=127.0.0.1", "--disable-usage-stats",
             "--block"], env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        kill_session(self.process.pid, sig)

    def session(self) -> list[int]:
        """Every process of this node's session."""
        return session_processes(self.process.pid)

    def stop(self) -> None:
        stop_session(self.process.pid)
        self.process.wait(timeout=PATIENCE_S)


def alive_nodes(address: str) -> list[dict[str, object]]:
    result = subprocess.run([sys.executable, "-c", LIST_NODES, address], capture_output=True,
                            text=True, timeout=PATIENCE_S,
                            env={**os.environ, "RAY_AUTH_MODE": "token"})
    return json.loads(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else []


def wait_for_nodes(address: str, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        nodes = alive_nodes(address)
        if len(nodes) == count:
            return nodes
        time.sleep(1)
    raise AssertionError(f"the cluster at {address} never had {count} nodes")
