"""The driver's heartbeat (``store.heartbeat``): a thread that beats for as long as the
driver runs the sweep, whatever its main thread is doing (a long Tune step, exporting the
best model), and the lock that keeps a second driver of the same sweep off this machine."""

from __future__ import annotations

import contextlib
import fcntl
import threading
import uuid
from pathlib import Path
from typing import IO

from sweeper.errors import UserInputError
from sweeper.status import DriverPhase, DriverState
from sweeper.store.heartbeat import Heartbeat, beat_interval, read_heartbeat
from sweeper.store.layout import DRIVER_LOCK

__all__ = ["DriverHeartbeat", "refuse_if_driven"]


def refuse_if_driven(folder: Path, name: str, doing: str) -> None:
    """Bad input when another driver runs the sweep now (two would run every trial twice)."""
    beat = read_heartbeat(folder)
    if beat is not None and beat.state() == DriverState.ALIVE:
        raise UserInputError(
            f"cannot {doing}: sweep {name!r} is running ({beat.describe()}). Stop it with "
            f"`sweeper stop {name}`, or give it more trials with `sweeper extend {name}`")


class DriverHeartbeat:
    """A context: holds the sweep's lock and beats until it exits (its last beat says the
    driver exited, so readers need not wait for the beat to go stale)."""

    def __init__(self, folder: Path, name: str, every_s: float | None = None) -> None:
        self.folder = folder
        self.name = name
        self.every_s = every_s or beat_interval()
        self.beat = Heartbeat.new(uuid.uuid4().hex[:12], self.every_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file: IO[str] | None = None
        self._guard = threading.Lock()

    @property
    def driver_id(self) -> str:
        return self.beat.driver_id

    def __enter__(self) -> DriverHeartbeat:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            refuse_if_driven(self.folder, self.name, "start another driver")
        except UserInputError:
            self._unlock()
            raise
        self._write(self.beat)
        self._thread = threading.Thread(target=self._run, name="sweeper-heartbeat",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.set_phase(DriverPhase.EXITED)
        self._unlock()

    def _unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock
            self._lock_file = None

    def set_phase(self, phase: DriverPhase) -> None:
        self._write(self.beat.beat(phase))

    def _write(self, beat: Heartbeat) -> None:
        with self._guard:
            self.beat = beat
            with contextlib.suppress(OSError):  # a full disk must not end the sweep
                beat.write(self.folder)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._write(self.beat.beat())

    def _lock(self) -> None:
        """An exclusive lock on this machine (a shared folder without locks: the heartbeat
        alone tells drivers apart)."""
        handle = (self.folder / DRIVER_LOCK).open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise UserInputError(
                f"sweep {self.name!r} is being run by another driver on this machine; stop "
                f"it with `sweeper stop {self.name}`, or wait for it to end") from None
        except OSError:
            pass  # no locks on this file system
        self._lock_file = handle
