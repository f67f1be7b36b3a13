"""The sweep's Optuna study, opened from its journal file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sweeper.status import Status
from sweeper.store.layout import STUDY_FILE

if TYPE_CHECKING:
    import optuna

__all__ = ["INFEASIBLE_ATTR", "ORPHANED_ATTR", "WARM_START_ATTR", "issued_trials", "open_study"]

# The Optuna user attribute that marks a configuration never launched, and says why.
INFEASIBLE_ATTR = Status.INFEASIBLE.value
# The user attribute of a trial another sweep ran (``--warm-start``): the sweep's name.
WARM_START_ATTR = "warm_start_from"
# The user attribute of a trial Optuna handed out after Tune's last saved state: never ran.
ORPHANED_ATTR = "orphaned"


def open_study(folder: Path, study_name: str) -> optuna.Study:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(folder / STUDY_FILE)))
    return optuna.load_study(study_name=study_name, storage=storage)


def issued_trials(study: optuna.Study) -> int:
    """The trials the sweep's budget counts: every trial asked (run, running, or never
    launched as infeasible), not the orphans a crash left (they never ran), not enqueued
    points not asked yet, not a warm start's trials (another sweep ran them)."""
    from optuna.trial import TrialState

    return sum(1 for t in study.get_trials(deepcopy=False)
               if not t.user_attrs.get(ORPHANED_ATTR) and t.state != TrialState.WAITING
               and WARM_START_ATTR not in t.user_attrs)
