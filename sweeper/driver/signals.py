"""Signals and the libraries' own output: a sweep ends on SIGINT or SIGTERM with its state
saved, and Tune's and MLflow's console lines give way to sweeper's own where sweeper says
the same thing."""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType
from typing import Any

__all__ = ["ReportedFilter", "SignalCatcher", "SyncRaceFilter", "quiet_mlflow", "quiet_tune"]

# MLflow creating or migrating its tracking database ("Creating initial MLflow database
# tables...", "Updating database tables", alembic's migration steps) at INFO: sweeper's
# store, not the user's concern; their warnings and errors still show.
MLFLOW_SETUP_LOGGERS = ("mlflow.store.db.utils", "alembic")


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


class ReportedFilter(logging.Filter):
    """Drops Tune's ERROR line for what sweeper reports itself.

    At the end of ``Tuner.fit`` Tune logs ``Trials did not complete: [...]`` for every
    trial not TERMINATED: a trial whose worker died for good, or the trials an interrupt
    left running or paused. The progress printer has given a line for each trial that
    failed, with its reason, and the sweep's end says how it ended and how to resume, so
    the line only repeats them with Tune's ids. (Tune's per-failure traceback, "Trial task
    failed for trial", is off through TUNE_PRINT_ALL_TRIAL_ERRORS=0.) Likewise "Could not
    re-use actor for trial": the trial is recorded failed (reason not_placed) and the
    progress printer says so.
    """

    REPORTED = ("Trials did not complete", "Could not re-use actor for trial")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.REPORTED)


def _add_filter(name: str, kind: type[logging.Filter]) -> None:
    logger = logging.getLogger(name)
    if not any(isinstance(f, kind) for f in logger.filters):
        logger.addFilter(kind())


def quiet_mlflow() -> None:
    """MLflow's set-up of its database at INFO is not for the user (see
    MLFLOW_SETUP_LOGGERS; a level the user chose is kept), nor the two "View run ... at"
    lines it prints on stdout each time a run on a tracking server ends: sweeper's own
    lines say where the sweep's runs are."""
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    for name in MLFLOW_SETUP_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def quiet_tune() -> None:
    """sweeper prints its own progress; Tune's boxes and tables would only repeat it."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("TUNE_PRINT_ALL_TRIAL_ERRORS", "0")  # ProgressPrinter says it
    _add_filter("ray.tune.execution.experiment_state", SyncRaceFilter)
    _add_filter("ray.tune.tune", ReportedFilter)
    _add_filter("ray.tune.execution.tune_controller", ReportedFilter)
    quiet_mlflow()

