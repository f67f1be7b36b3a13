"""A sweep as another terminal sees it: its record (sweep.json) and its driver's heartbeat,
so a sweep marked running whose driver died shows as crashed, with how to continue it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sweeper.status import DriverPhase, DriverState, StopCause, SweepStatus
from sweeper.store.heartbeat import Heartbeat, read_heartbeat
from sweeper.store.layout import existing_sweep
from sweeper.store.meta import SweepMeta

__all__ = ["SweepView", "view_sweep"]


@dataclass(frozen=True)
class SweepView:
    name: str
    folder: Path
    meta: SweepMeta
    heartbeat: Heartbeat | None

    @classmethod
    def of(cls, folder: Path) -> SweepView:
        return cls(folder.name, folder, SweepMeta.read(folder), read_heartbeat(folder))

    @property
    def driver(self) -> DriverState:
        if self.heartbeat is None:
            return DriverState.UNKNOWN
        return self.heartbeat.state()

    @property
    def status(self) -> SweepStatus:
        """sweep.json's status, but ``crashed`` for a running sweep whose driver is dead."""
        if self.meta.status == SweepStatus.RUNNING and self.driver == DriverState.DEAD:
            return SweepStatus.CRASHED
        return self.meta.status

    @property
    def phase(self) -> DriverPhase | None:
        return self.heartbeat.phase if self.heartbeat is not None else None

    @property
    def stopping(self) -> StopCause | None:
        """A stop in effect while the sweep still runs."""
        return self.meta.stop_cause if self.status == SweepStatus.RUNNING else None

    def driver_line(self, runs_flag: str = "") -> str | None:
        """What a running (or crashed) sweep's driver is doing, for ``status`` and
        ``--watch``; None for a sweep that ended."""
        if self.meta.status != SweepStatus.RUNNING:
            return None
        beat = self.heartbeat
        if beat is None:
            return ("driver: unknown (no heartbeat: the sweep was started by an older "
                    "sweeper, or its driver is still starting)")
        if self.driver == DriverState.DEAD:
            return (f"driver: DEAD ({beat.describe()}); the sweep's state is saved: continue "
                    f"it with `sweeper resume {self.name}{runs_flag}`")
        line = f"driver: alive ({beat.describe()}; {beat.phase.value})"
        if self.stopping is not None:
            line += {StopCause.USER: "; stopping: no new trial starts, running ones finish",
                     StopCause.USER_NOW: "; stopping now: running trials end",
                     StopCause.TARGET: "; target reached: no new trial starts, running "
                                       "ones finish"}[self.stopping]
        return line


    def head_lines(self, trials: pd.DataFrame, budget: int, age: str = "") -> list[str]:
        """The lines ``status`` and ``--watch`` open with: the status and trials started
        (``age``: how long ago it started), the driver, the trials by status."""
        lines = [f"sweep {self.name}: {self.status.value}{age} ({len(trials)} of {budget} "
                 "trials started)"]
        driver = self.driver_line()
        if driver is not None:
            lines.append(driver)
        if trials.empty:
            return [*lines, "no trial has started yet"]
        counts = trials["status"].value_counts()
        return [*lines, "trials: " + ", ".join(f"{n} {s}" for s, n in counts.items())]


def view_sweep(name: str, runs_dir: Path) -> SweepView:
    return SweepView.of(existing_sweep(runs_dir, name))
