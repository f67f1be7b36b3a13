"""What a local sweep listens on, read from /proc while it runs.

Ray 2.60 binds its own servers to every interface even on a private local instance, so the
promise is: nothing else does. Every listening socket of the sweep's process tree is either
on loopback or one of Ray's (its GCS, raylets, workers, and the one core-worker port Ray opens
in the driver), there is no Ray dashboard, and Ray's token authentication locks those ports.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_space
from tests.events import PATIENCE_S

pytestmark = [pytest.mark.slow, pytest.mark.integration]

RAY_PROCESS_MARKERS = ("ray::", "/ray/core/src/ray/", "/site-packages/ray/")


def listening_sockets() -> dict[str, tuple[str, int]]:
    """Socket inode -> (address, port) of every listening TCP socket (IPv4 and IPv6)."""
    found: dict[str, tuple[str, int]] = {}
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            hex_address, hex_port = fields[1].split(":")
            raw = bytes.fromhex(hex_address)
            packed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found[fields[9]] = (socket.inet_ntop(family, packed), int(hex_port, 16))
    return found


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack += children.get(pid, [])
    return tree


def listeners_of_tree(root: int) -> set[tuple[int, str, str, int]]:
    """(pid, command line, address, port) for each listening socket of root's tree."""
    sockets = listening_sockets()
    found = set()
    for pid in descendants(root):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip()
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in sockets:
                    found.add((pid, command, *sockets[link[8:-1]]))
        except OSError:  # the process ended meanwhile
            continue
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_a_local_sweep_listens_beyond_loopback_only_through_ray(tmp_path: Path) -> None:
    path = write_space(tmp_path, "ports", """\
        data: {source: digits}
        budget: {trials: 3, max_epochs: 2}
        search: {algorithm: random, seed: 0}
        scheduler: {kind: fifo}
        space:
          learning_rate: {float: [1.0e-3, 1.0e-2], log: true}
          filters: 4
          dense_units: 0
        """)
    driver = subprocess.Popen(
        [sys.executable, "-m", "sweeper", "run", str(path), "--runs-dir", str(tmp_path / "runs"),
         "--address", "local", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "RAY_AUTH_MODE": "token"})
    seen: set[tuple[int, str, str, int]] = set()
    deadline = time.monotonic() + PATIENCE_S
    while driver.poll() is None and time.monotonic() < deadline:
        seen |= listeners_of_tree(driver.pid)
        time.sleep(0.3)
    stdout, stderr = driver.communicate(timeout=PATIENCE_S)
    assert driver.returncode == 0, stdout + stderr

    commands = {command for _, command, _, _ in seen}
    assert any("gcs_server" in c for c in commands) and any("raylet" in c for c in commands), \
        f"the sweep's own Ray was not seen: {sorted(commands)}"
    assert not any("dashboard/dashboard.py" in c for c in commands), "the dashboard runs"
    assert 8265 not in {port for *_, port in seen}

    exposed = [(pid, command, address, port) for pid, command, address, port in seen
               if not ipaddress.ip_address(address).is_loopback]
    in_driver = [entry for entry in exposed if entry[0] == driver.pid]
    assert len({port for *_, port in in_driver}) <= 1, \
        f"the driver listens beyond Ray's core-worker port: {in_driver}"
    for pid, command, address, port in exposed:
        if pid == driver.pid:
            continue
        assert any(marker in command for marker in RAY_PROCESS_MARKERS), \
            f"{command[:120]!r} (pid {pid}) listens on {address}:{port}, and it is not Ray's"
