"""``runs/<name>/heartbeat.json``: the driver running a sweep says every few seconds that it
is alive, so any terminal that sees the runs dir can tell a running sweep from one whose
driver died (``status``, ``list``, ``stop``), and address its requests to that driver.

A driver is dead when its beat is older than ``stale_after_s`` (on any machine; clocks are
assumed in step, as NTP keeps them), or at once when it ran on this machine and its process
is gone. No heartbeat at all: a sweep an older sweeper started (``DriverState.UNKNOWN``).
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from sweeper.status import DriverPhase, DriverState
from sweeper.store.layout import HEARTBEAT_FILE

__all__ = ["DEFAULT_EVERY_S", "Heartbeat", "beat_interval", "read_heartbeat"]

DEFAULT_EVERY_S = 5.0
STALE_FLOOR_S = 30.0  # a beat this old means a dead driver, however often it beats


def beat_interval() -> float:
    """Seconds between beats: ``SWEEPER_HEARTBEAT_S`` (tests beat faster), else 5."""
    try:
        value = float(os.environ.get("SWEEPER_HEARTBEAT_S") or DEFAULT_EVERY_S)
    except ValueError:
        return DEFAULT_EVERY_S
    return value if value > 0 else DEFAULT_EVERY_S


@dataclass(frozen=True)
class Heartbeat:
    driver_id: str  # this driver's run of the sweep: requests name it
    pid: int
    host: str
    started_at: float  # when this driver started
    at: float  # its last beat
    every_s: float
    phase: DriverPhase = DriverPhase.STARTING

    def __post_init__(self) -> None:
        object.__setattr__(self, "phase", DriverPhase(self.phase))

    @classmethod
    def new(cls, driver_id: str, every_s: float) -> Heartbeat:
        now = time.time()
        return cls(driver_id, os.getpid(), socket.gethostname(), now, now, every_s)

    def beat(self, phase: DriverPhase | None = None) -> Heartbeat:
        return replace(self, at=time.time(), phase=phase or self.phase)

    @property
    def stale_after_s(self) -> float:
        return max(STALE_FLOOR_S, 6 * self.every_s)

    def age_s(self, now: float | None = None) -> float:
        return max((time.time() if now is None else now) - self.at, 0.0)

    def state(self, now: float | None = None) -> DriverState:
        if self.phase == DriverPhase.EXITED or self.age_s(now) > self.stale_after_s:
            return DriverState.DEAD
        if self.host == socket.gethostname() and not _process_alive(self.pid):
            return DriverState.DEAD
        return DriverState.ALIVE

    def describe(self, now: float | None = None) -> str:
        return (f"driver pid {self.pid} on {self.host}, last heartbeat "
                f"{self.age_s(now):.0f} s ago")

    def write(self, folder: Path) -> None:
        tmp = folder / f".{HEARTBEAT_FILE}.{self.pid}.tmp"
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(folder / HEARTBEAT_FILE)


def read_heartbeat(folder: Path) -> Heartbeat | None:
    """The last beat, or None when there is none (or it cannot be read: a beat is rewritten
    every few seconds, so a damaged one is as good as none)."""
    try:
        return Heartbeat(**json.loads((folder / HEARTBEAT_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True
