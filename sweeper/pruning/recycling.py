"""Fresh workers for workers that grew: reuse keeps TensorFlow loaded between trials, but
TensorFlow also keeps a few MB of traced functions per model (tensorflow#61791), so a worker
that ran a hundred trials holds hundreds of MB it never gives back.

Tune has no per-trial "do not reuse" switch. When a trial stops, Tune caches its actor for
the next trial only if the actor is among its started actors (``TuneController.
_maybe_cache_trial_actor``); taking it out of that set in ``on_trial_complete``, which Tune
calls just before that check, makes Tune stop the actor as it does without reuse, and start
a new one for the next trial. No trial fails, waits or runs twice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sweeper.result import TrialResult

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

__all__ = ["WorkerRecycler"]

log = logging.getLogger(__name__)


class WorkerRecycler:
    """Retires a worker once its memory grew more than ``bound_mb`` since its first epoch."""

    def __init__(self, bound_mb: int | None) -> None:
        self.bound_mb = bound_mb
        # (node, pid) of a worker -> its resident memory at its first epoch (pids repeat
        # across nodes, and a new process may get a retired one's pid)
        self.first_mb: dict[tuple[str, int], float] = {}
        self.retired: list[int] = []  # pids, in order

    @staticmethod
    def _worker(record: TrialResult) -> tuple[str, int] | None:
        pid = record.placement.pid
        return None if pid is None else (record.placement.node_id, pid)

    def observe(self, record: TrialResult) -> None:
        worker, rss = self._worker(record), record.rss_mb
        if worker is not None and rss:
            self.first_mb.setdefault(worker, rss)

    def grown(self, result: dict[str, Any]) -> tuple[str, int] | None:
        """The worker behind ``result`` when it grew past the bound, else None."""
        record = TrialResult.from_tune(result)
        worker = None if record is None else self._worker(record)
        if self.bound_mb is None or record is None or worker is None:
            return None
        first, rss = self.first_mb.get(worker), record.rss_mb
        grew = first is not None and rss is not None and rss - first > self.bound_mb
        return worker if grew else None

    def retire_if_grown(self, tune_controller: Any, trial: Trial,
                        result: dict[str, Any]) -> bool:
        """Call as Tune stops or pauses ``trial``: its worker is not reused if it grew."""
        worker = self.grown(result)
        if worker is None:
            return False
        # on PAUSE Tune hands schedulers a restricted wrapper around the controller
        tune_controller = getattr(tune_controller, "_tune_controller", tune_controller)
        actor = getattr(tune_controller, "_trial_to_actor", {}).get(trial)
        started = getattr(tune_controller, "_started_actors", None)
        if actor is None or started is None or actor not in started:
            return False  # not reusable anyway (or a Ray without these: reuse goes on)
        started.discard(actor)
        del self.first_mb[worker]
        self.retired.append(worker[1])
        log.info("worker %s grew past %s MB: a fresh worker takes its next trial",
                 worker[1], self.bound_mb)
        return True
