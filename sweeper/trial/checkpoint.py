"""A trial's checkpoint: its model and its early-stopping state, in one folder."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from sweeper.trial.loop import EarlyStoppingState

if TYPE_CHECKING:
    import keras

__all__ = ["CHECKPOINT_MODEL", "CHECKPOINT_STATE", "read_checkpoint", "write_checkpoint"]

CHECKPOINT_MODEL = "model.keras"
CHECKPOINT_STATE = "state.json"


def write_checkpoint(folder: Path, model: keras.Model, state: EarlyStoppingState) -> None:
    model.save(folder / CHECKPOINT_MODEL)
    (folder / CHECKPOINT_STATE).write_text(json.dumps(asdict(state)))


def read_checkpoint(folder: Path) -> tuple[keras.Model, EarlyStoppingState]:
    import keras

    model = keras.models.load_model(folder / CHECKPOINT_MODEL)
    state = EarlyStoppingState(**json.loads((folder / CHECKPOINT_STATE).read_text()))
    return model, state
