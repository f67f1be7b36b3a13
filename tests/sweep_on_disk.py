"""A sweep folder written with sweeper's own writers, without training anything: for the
commands that only read a sweep (status, results, export, compare, the API)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.storages.journal import JournalFileBackend

from sweeper.status import Reason, Status, SweepStatus
from sweeper.store.layout import HISTORY_CSV, STUDY_FILE, SWEEP_YAML, TRIALS_CSV
from sweeper.store.meta import SweepMeta
from sweeper.store.tables import write_table

SPACE = """name: {name}
data: {{source: digits}}
budget: {{trials: 4, max_epochs: 3}}
space:
  depth: {{int: [1, 3]}}
  optimizer: {{choice: [adam, sgd]}}
"""

# (status, reason, score, depth, optimizer): trial 1 failed after its best epoch and kept the
# top score; trial 3 is infeasible with a stand-in score; trial 2 is the true best.
TRIALS = [
    (Status.COMPLETED, Reason.NONE, 0.80, 1, "adam"),
    (Status.FAILED, Reason.NAN_LOSS, 0.97, 3, "sgd"),
    (Status.STOPPED_EARLY, Reason.NONE, 0.85, 2, "adam"),
    (Status.INFEASIBLE, Reason.NONE, 0.99, 3, "adam"),
]
BEST_NUMBER = 2


def write_finished_sweep(runs_dir: Path, name: str, spec_text: str) -> Path:
    """The folder of a finished sweep as the driver leaves it: sweep.yaml (and the file it
    ran from) and sweep.json; the caller adds the tables."""
    folder = runs_dir / name
    folder.mkdir(parents=True)
    (folder / SWEEP_YAML).write_text(spec_text)
    (runs_dir / f"{name}.yaml").write_text(spec_text)
    SweepMeta(name=name, source_file=str(runs_dir / f"{name}.yaml"), base_dir=str(runs_dir),
              spec_sha256="0" * 64, overrides={}, experiment_path=str(folder / "tune"),
              started_at=time.time(), status=SweepStatus.FINISHED).write(folder)
    return folder


def write_sweep(runs_dir: Path, name: str) -> Path:
    folder = write_finished_sweep(runs_dir, name, SPACE.format(name=name))
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(folder / STUDY_FILE)))
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    distributions = {"depth": IntDistribution(1, 3),
                     "optimizer": CategoricalDistribution(["adam", "sgd"])}
    rows, history = [], []
    for number, (status, reason, score, depth, optimizer) in enumerate(TRIALS):
        state = optuna.trial.TrialState.COMPLETE if status.scored else \
            optuna.trial.TrialState.FAIL
        study.add_trial(optuna.trial.create_trial(
            params={"depth": depth, "optimizer": optimizer}, distributions=distributions,
            value=score if status.scored else None, state=state))
        trial_id = f"t{number:04d}"
        rows.append({"trial_id": trial_id, "number": number, "status": status.value,
                     "reason": reason.value, "score": score, "best_epoch": 2, "epochs": 3,
                     "param_depth": depth, "param_optimizer": optimizer, "seed": number,
                     "started_s": 1.0 + number, "ended_s": 10.0 + number, "error": ""})
        if status != Status.INFEASIBLE:
            for epoch in (1, 2, 3):
                value = score if epoch == 2 else score - 0.1
                history.append({"trial_id": trial_id, "number": number,
                                 "seconds": 2.0 * epoch + number, "epoch": epoch,
                                 "objective": value, "best_objective": score})
    assert not math.isnan(rows[0]["score"])
    write_table(pd.DataFrame(rows), folder / TRIALS_CSV)
    write_table(pd.DataFrame(history), folder / HISTORY_CSV)
    return folder
