"""A trial's checkpoint: its model and its early-stopping state, in one folder, written only
when something needs it.

Writing a ``.keras`` file each epoch costs a few percent of a small CNN's epoch on a CPU and
more on a GPU. A checkpoint is needed for the best epoch (the exported model), the last one
(a finished trial's final weights), where a scheduler pauses a trial (HyperBand resumes it
from there), and often enough that a killed trial redoes at most ``interval_s`` of training.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sweeper.result import TrialResult
from sweeper.status import Status
from sweeper.trial.loop import EarlyStoppingState

if TYPE_CHECKING:
    import keras

__all__ = ["CHECKPOINT_MODEL", "CHECKPOINT_STATE", "CheckpointPolicy", "read_checkpoint",
           "write_checkpoint"]

CHECKPOINT_MODEL = "model.keras"
CHECKPOINT_STATE = "state.json"


@dataclass(frozen=True)
class CheckpointPolicy:
    """Which epochs write a checkpoint."""

    interval_s: float  # 0 = every epoch
    every_epoch: bool = False  # a scheduler that pauses trials may resume any epoch

    def due(self, result: TrialResult, seconds_since_last: float) -> bool:
        return (self.every_epoch or self.interval_s <= 0
                or result.status != Status.RUNNING  # the end: completed or stopped early
                or result.best_epoch == result.epoch  # a new best: what an export takes
                or seconds_since_last >= self.interval_s)


def write_checkpoint(folder: Path, model: keras.Model, state: EarlyStoppingState) -> None:
    model.save(folder / CHECKPOINT_MODEL)
    (folder / CHECKPOINT_STATE).write_text(json.dumps(asdict(state)))


def read_checkpoint(folder: Path) -> tuple[keras.Model, EarlyStoppingState]:
    import keras

    model = keras.models.load_model(folder / CHECKPOINT_MODEL)
    state = EarlyStoppingState(**json.loads((folder / CHECKPOINT_STATE).read_text()))
    return model, state
