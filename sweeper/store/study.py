"""The sweep's Optuna study, opened from its journal file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sweeper.status import Status
from sweeper.store.layout import STUDY_FILE

if TYPE_CHECKING:
    import optuna

__all__ = ["INFEASIBLE_ATTR", "WARM_START_ATTR", "open_study"]

# The Optuna user attribute that marks a configuration never launched, and says why.
INFEASIBLE_ATTR = Status.INFEASIBLE.value
# The user attribute of a trial another sweep ran (``--warm-start``): the sweep's name.
WARM_START_ATTR = "warm_start_from"


def open_study(folder: Path, study_name: str) -> optuna.Study:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(folder / STUDY_FILE)))
    return optuna.load_study(study_name=study_name, storage=storage)
