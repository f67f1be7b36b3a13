"""Signals and Tune's own output: a sweep ends on SIGINT or SIGTERM with its state saved,
and Tune's console output gives way to sweeper's progress lines."""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType
from typing import Any

__all__ = ["SignalCatcher", "SyncRaceFilter", "quiet_tune"]


class SignalCatcher:
    """SIGINT and SIGTERM both end the sweep through Tune's own graceful interrupt (SIGUSR1,
    which Tune handles like Ctrl-C), so state is saved; the exit code tells which arrived."""

    def __init__(self) -> None:
        self.code: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalCatcher:
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.code is None
        self.code = 130 if signum == signal.SIGINT else 143
        tune_listens = signal.getsignal(signal.SIGUSR1) not in (signal.SIG_DFL, None)
        if first and tune_listens:
            os.kill(os.getpid(), signal.SIGUSR1)
        else:
            raise KeyboardInterrupt


class SyncRaceFilter(logging.Filter):
    """Drops Tune's report of one known race, which is harmless.

    Tune copies its state folder to storage in the background while it writes the next
    state there through temporary files; when the copy meets a temporary file that has just
    been renamed it logs a traceback. The next sync (and the final one, which Tune waits
    for) copies the folder again, so nothing is lost. Any other sync failure still shows.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, FileNotFoundError) and "tmp-" in str(error))


def quiet_tune() -> None:
    """sweeper prints its own progress; Tune's boxes and tables would only repeat it."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("TUNE_PRINT_ALL_TRIAL_ERRORS", "0")  # ProgressPrinter says it
    state_logger = logging.getLogger("ray.tune.execution.experiment_state")
    if not any(isinstance(f, SyncRaceFilter) for f in state_logger.filters):
        state_logger.addFilter(SyncRaceFilter())
