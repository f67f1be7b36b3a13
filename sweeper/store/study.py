"""The sweep's Optuna study, opened from its journal file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sweeper.status import Status
from sweeper.store.layout import STUDY_FILE

if TYPE_CHECKING:
    import optuna

__all__ = ["INFEASIBLE_ATTR", "open_study"]

# The Optuna user attribute that marks a configuration never launched, and says why.
INFEASIBLE_ATTR = Status.INFEASIBLE.value


def open_study(folder: Path, study_name: str) -> optuna.Study:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(folder / STUDY_FILE)))
    return optuna.load_study(study_name=study_name, storage=storage)
