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


PARETO_SPACE = """name: {name}
data: {{source: digits}}
objective: [{{metric: val_accuracy, mode: max}}, {{metric: param_count, mode: min}}]
{pick}budget: {{trials: 7, max_epochs: 3}}
space:
  depth: {{int: [1, 3]}}
  optimizer: {{choice: [adam, sgd]}}
"""

# (status, score, param_count, depth, optimizer) of a two-objective sweep (val_accuracy max,
# param_count min). The front, best first: trials 2, 4, 0. Trial 1 (failed) and 3
# (infeasible) would beat it all; 5 is dominated by 4, 6 by 0. best:val_accuracy names 2;
# smallest-within:0.01 names 4 (0.845 is within 0.01 of 0.85, with 2,000 < 5,000 params).
PARETO_TRIALS = [
    (Status.COMPLETED, 0.80, 1000, 1, "adam"),
    (Status.FAILED, 0.97, 500, 3, "sgd"),
    (Status.STOPPED_EARLY, 0.85, 5000, 2, "adam"),
    (Status.INFEASIBLE, 0.99, 100, 3, "adam"),
    (Status.COMPLETED, 0.845, 2000, 1, "sgd"),
    (Status.PRUNED, 0.84, 3000, 2, "sgd"),
    (Status.COMPLETED, 0.70, 1500, 2, "adam"),
]
PARETO_FRONT = [2, 4, 0]


def write_pareto_sweep(runs_dir: Path, name: str, pick: str | None = None) -> Path:
    """A finished two-objective sweep (``PARETO_TRIALS``), its trials.csv with the columns a
    multi-objective sweep writes (param_count, flops, epoch_seconds); ``pick``: its rule."""
    text = PARETO_SPACE.format(name=name, pick=f"pick: {pick}\n" if pick else "")
    folder = write_finished_sweep(runs_dir, name, text)
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(folder / STUDY_FILE)))
    study = optuna.create_study(study_name=name, storage=storage,
                                directions=["maximize", "minimize"])
    distributions = {"depth": IntDistribution(1, 3),
                     "optimizer": CategoricalDistribution(["adam", "sgd"])}
    rows = []
    for number, (status, score, params, depth, optimizer) in enumerate(PARETO_TRIALS):
        study.add_trial(optuna.trial.create_trial(
            params={"depth": depth, "optimizer": optimizer}, distributions=distributions,
            values=[score, params] if status.scored else None,
            state=optuna.trial.TrialState.COMPLETE if status.scored
            else optuna.trial.TrialState.FAIL))
        rows.append({"trial_id": f"p{number:04d}", "number": number, "status": status.value,
                     "reason": "", "score": score, "best_epoch": 2, "epochs": 3,
                     "param_count": params, "flops": 2 * params, "epoch_seconds": 1.5,
                     "param_depth": depth, "param_optimizer": optimizer, "seed": number,
                     "started_s": 1.0 + number, "ended_s": 10.0 + number, "error": ""})
    write_table(pd.DataFrame(rows), folder / TRIALS_CSV)
    write_table(pd.DataFrame(columns=["trial_id", "number", "seconds", "epoch", "objective"]),
                folder / HISTORY_CSV)
    return folder
