"""Waiting for what a test needs to have happened (a trial's epoch in trials.csv, a file the
driver wrote), never for a fixed time. The only number is how long a hung sweep may hold the
suite: far beyond what a slow or loaded machine takes while the behaviour is right."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sweeper.store.tables import read_table

__all__ = ["PATIENCE_S", "completed", "running_with_epochs", "wait_for"]

PATIENCE_S = 900.0  # a hang, not a slow machine


def wait_for(check: Callable[[], bool], what: str, timeout: float = PATIENCE_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout:.0f} s and still not: {what}")


def completed(table: Path) -> int:
    """Trials of trials.csv that completed (none while the file does not exist yet)."""
    frame = read_table(table)
    return 0 if frame.empty else int((frame["status"] == "completed").sum())


def running_with_epochs(table: Path, count: int, epochs: int = 1) -> bool:
    """Whether at least ``count`` trials are running with ``epochs`` epochs reported each."""
    frame = read_table(table)
    if frame.empty:
        return False
    live = frame[frame["status"] == "running"]
    return len(live) >= count and bool((live["epochs"].fillna(0) >= epochs).all())
