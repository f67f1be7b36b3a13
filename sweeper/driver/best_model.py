"""A trial's best checkpoint's model, read through the sweep's Tune storage (local, shared
or s3://): at the end of a sweep, and for ``sweeper export --model``."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from sweeper.driver.tune_state import readable_tune_state
from sweeper.errors import UserInputError
from sweeper.objective import Objective
from sweeper.result import OBJECTIVE_KEY
from sweeper.store.layout import BEST_MODEL
from sweeper.store.meta import SweepMeta
from sweeper.trial.checkpoint import CHECKPOINT_MODEL

__all__ = ["copy_trial_model", "export_best_model"]


def export_best_model(tuner: Any, trial_id: str, objective: Objective,
                      dest: Path) -> Path | None:
    """Copy the best checkpoint's model of a trial of a finished ``tuner``."""
    for result in tuner.get_results():
        if result.metrics.get("trial_id") != trial_id:
            continue
        checkpoint = result.get_best_checkpoint(OBJECTIVE_KEY, objective.direction.value) \
            if result.best_checkpoints else result.checkpoint
        if checkpoint is None:
            return None
        with checkpoint.as_directory() as folder:
            shutil.copyfile(Path(folder) / CHECKPOINT_MODEL, dest)
        return dest
    return None


def copy_trial_model(folder: Path, meta: SweepMeta, objective: Objective, trial_id: str,
                     dest: Path) -> None:
    """The trial's best checkpoint's model, from the experiment state Tune saved."""
    from ray.tune import ExperimentAnalysis

    dest.parent.mkdir(parents=True, exist_ok=True)
    # sweeper keeps its own tables, so Tune's per-trial result.json files are not written;
    # the checkpoints are found from the experiment state all the same.
    logging.getLogger("ray.tune").setLevel(logging.ERROR)
    with readable_tune_state(meta.name, "copy the model of one of its trials"):
        analysis = ExperimentAnalysis(meta.experiment_path)
    for tune_trial in analysis.trials:
        if tune_trial.trial_id != trial_id:
            continue
        checkpoint = analysis.get_best_checkpoint(tune_trial, metric=OBJECTIVE_KEY,
                                                  mode=objective.direction.value)
        if checkpoint is None:
            break
        with checkpoint.as_directory() as checkpoint_dir:
            shutil.copyfile(Path(checkpoint_dir) / CHECKPOINT_MODEL, dest)
        return
    if (folder / BEST_MODEL).exists():
        raise UserInputError(f"no checkpoint of trial {trial_id} in {meta.experiment_path}")
    raise UserInputError(f"no checkpoint of trial {trial_id} in {meta.experiment_path}; "
                         "was the Tune storage moved or deleted?")
