"""A trial as a file that trains again: every parameter fixed, with where it came from.

Parameter values come from the Optuna study (typed as sampled) plus the space's fixed
values, not from the CSV, so a choice like ``"None"`` or ``true`` survives exactly.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from sweeper import __version__
from sweeper.engine import BEST_MODEL, STUDY_FILE, SweepMeta, load_spec_for, sweep_folder
from sweeper.errors import UserInputError
from sweeper.results import ranked, trials_frame
from sweeper.space import active
from sweeper.spec import FixedParam, LoadedSpec, condition_order
from sweeper.status import Status
from sweeper.yamlio import dump

KEPT_SECTIONS = ("data", "model", "objective", "budget", "early_stopping", "resources",
                 "tracking")


def choose_trial(trials: pd.DataFrame, mode: str, trial: str | None) -> pd.Series:
    """The best scored trial, or the one named by id or number."""
    scored = trials[trials["status"].isin([s.value for s in Status if s.scored])]
    scored = scored[scored["score"].notna()]
    if trial is None:
        if scored.empty:
            raise UserInputError("no trial of this sweep has a score yet (none completed, "
                                 "stopped early or was pruned after an epoch): nothing to export")
        return ranked(scored, mode).iloc[0]
    match = trials[(trials["trial_id"].astype(str) == trial)
                   | (trials["number"].astype(str) == trial)]
    if match.empty:
        raise UserInputError(f"--trial: no trial {trial!r}; trials are named by id "
                             f"({', '.join(map(str, trials['trial_id'][:5]))}, ...) or number")
    row = match.iloc[0]
    if row["trial_id"] not in set(scored["trial_id"]):
        raise UserInputError(f"--trial: trial {trial} ended {row['status']} without a score; "
                             "choose a scored trial")
    return row


def trial_params(loaded: LoadedSpec, folder: Path, number: int) -> dict[str, Any]:
    """The exact configuration of trial ``number``: Optuna's values plus fixed ones."""
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / STUDY_FILE)))
    study = optuna.load_study(study_name=loaded.spec.name, storage=storage)
    sampled = study.trials[number].params
    space = loaded.spec.space
    config: dict[str, Any] = {}
    for name in condition_order(space):
        param = space[name]
        if not active(param, config):
            continue
        config[name] = param.value if isinstance(param, FixedParam) else sampled[name]
    return config


def fixed_document(loaded: LoadedSpec, params: dict[str, Any], row: pd.Series,
                   meta: SweepMeta) -> dict[str, Any]:
    """The exported file's content: the sweep's sections, fixed space, provenance."""
    raw = loaded.doc.data
    document: dict[str, Any] = {"name": f"{meta.name}-trial-{int(row['number'])}"}
    for section in KEPT_SECTIONS:
        if section in raw:
            document[section] = dict(raw[section]) if isinstance(raw[section], dict) \
                else raw[section]
    data_path = loaded.data_path()
    if data_path is not None:  # the exported file may live anywhere
        document["data"]["path"] = str(data_path.resolve())
    budget = dict(document.get("budget") or {})
    budget["trials"] = 1
    document["budget"] = budget
    document["space"] = params
    document["provenance"] = {
        "sweep": meta.name,
        "trial_id": str(row["trial_id"]),
        "trial_number": int(row["number"]),
        "status": str(row["status"]),
        "objective_metric": loaded.spec.objective.metric,
        "objective": float(row["score"]),
        "best_epoch": int(row["best_epoch"]),
        "epochs": int(row["epochs"]),
        "training_seed": int(row["seed"]),
        "data_fingerprint": meta.data_fingerprint,
        **_test_provenance(meta, str(row["trial_id"])),
        "versions": _versions(),
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return document


def _test_provenance(meta: SweepMeta, trial_id: str) -> dict[str, Any]:
    """The test split's score, for the trial whose model the sweep scored on it."""
    test = meta.test_score()
    if test is None or test.trial_id != trial_id:
        return {}
    return {"test_metric": test.metric, "test_score": test.value, "test_images": test.images}


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"sweeper": __version__}
    for package in ("tensorflow", "keras", "ray", "optuna", "mlflow"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def export(name: str, runs_dir: Path, output: Path, model: Path | None = None,
           trial: str | None = None) -> dict[str, Any]:
    """Write the chosen trial as a fixed search-space file (and its model); return the
    document written."""
    folder = sweep_folder(runs_dir, name)
    loaded = load_spec_for(name, runs_dir)
    meta = SweepMeta.read(folder)
    row = choose_trial(trials_frame(name, runs_dir), loaded.spec.objective.direction, trial)
    params = trial_params(loaded, folder, int(row["number"]))
    document = fixed_document(loaded, params, row, meta)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(f"# Trial {row['number']} of sweep {name}, every parameter fixed: "
                      f"`sweeper train {output.name}` trains it again.\n" + dump(document))
    if model is not None:
        copy_model(folder, meta, loaded, str(row["trial_id"]), model)
    return document


def copy_model(folder: Path, meta: SweepMeta, loaded: LoadedSpec, trial_id: str,
               dest: Path) -> None:
    """The trial's best checkpoint's model, read through the sweep's Tune storage."""
    import logging

    from ray.tune import ExperimentAnalysis

    from sweeper.trial import CHECKPOINT_MODEL

    dest.parent.mkdir(parents=True, exist_ok=True)
    # sweeper keeps its own tables, so Tune's per-trial result.json files are not written;
    # the checkpoints are found from the experiment state all the same.
    logging.getLogger("ray.tune").setLevel(logging.ERROR)
    analysis = ExperimentAnalysis(meta.experiment_path)
    for tune_trial in analysis.trials:
        if tune_trial.trial_id != trial_id:
            continue
        checkpoint = analysis.get_best_checkpoint(tune_trial, metric="objective",
                                                  mode=loaded.spec.objective.direction)
        if checkpoint is None:
            break
        with checkpoint.as_directory() as checkpoint_dir:
            shutil.copyfile(Path(checkpoint_dir) / CHECKPOINT_MODEL, dest)
        return
    if (folder / BEST_MODEL).exists():
        raise UserInputError(f"no checkpoint of trial {trial_id} in {meta.experiment_path}")
    raise UserInputError(f"no checkpoint of trial {trial_id} in {meta.experiment_path}; "
                         "was the Tune storage moved or deleted?")
