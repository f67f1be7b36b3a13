"""A trial as a file that trains again: every parameter fixed, with where it came from.

Parameter values come from the Optuna study (typed as sampled) plus the space's fixed
values, not from the CSV, so a choice like ``"None"`` or ``true`` survives exactly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from sweeper.config.loaded import LoadedSpec
from sweeper.config.schema import NAME_MAX_LENGTH, SweepSpec
from sweeper.config.yamlio import dump
from sweeper.errors import UserInputError
from sweeper.objective import Pick
from sweeper.search.space import config_of
from sweeper.store.best import scored_trials
from sweeper.store.layout import existing_sweep
from sweeper.store.meta import SweepMeta
from sweeper.store.pareto import (
    SIZE_COLUMNS,
    as_pick,
    front_objectives,
    sweep_best,
    sweep_pick,
)
from sweeper.store.specs import load_spec_for
from sweeper.store.study import open_study
from sweeper.store.tables import objective_values, trials_frame
from sweeper.version import __version__

__all__ = ["choose_trial", "export", "exported_name", "fixed_document", "trial_params"]

KEPT_SECTIONS = ("data", "model", "objective", "pick", "constraints", "budget",
                 "early_stopping", "resources", "tracking", "diagnosis")


def choose_trial(trials: pd.DataFrame, spec: SweepSpec, trial: str | None,
                 pick: Pick | None = None) -> pd.Series:
    """The sweep's best trial (``sweep_best``; ``pick`` overrides the spec's rule), or the
    one named by id or number (which must have a score)."""
    if trial is not None and pick is not None:
        raise UserInputError(f"--trial {trial} and --pick {pick} both choose the trial to "
                             "export; give one of them")
    if trial is None:
        best = sweep_best(trials, spec, pick)
        if best is None and sweep_pick(spec, pick) is not None \
                and not scored_trials(trials).empty:
            metrics = ", ".join(o.metric for o in front_objectives(spec.objectives))
            raise UserInputError(f"no scored trial has a value of every objective of the "
                                 f"Pareto front ({metrics}): nothing to export")
        if best is None:
            raise UserInputError("no trial of this sweep has a score yet (none completed, "
                                 "stopped early or was pruned after an epoch): nothing to export")
        return pd.Series(best.row)
    scored = scored_trials(trials)
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
    sampled = open_study(folder, loaded.spec.name).trials[number].params
    return config_of(loaded.spec.space, sampled)


def exported_name(sweep: str, number: int) -> str:
    """``SWEEP-trial-N``, the sweep's name shortened so it stays a valid name."""
    suffix = f"-trial-{number}"
    return sweep[:NAME_MAX_LENGTH - len(suffix)] + suffix


def _ran_values(loaded: LoadedSpec, section: str, written: Any) -> dict[str, Any]:
    """The values of ``section`` that the sweep ran with but its file does not say: the
    command-line overrides of sweep.json (``--max-epochs``, ``--gpus-per-trial``, ...),
    which ``load_spec_for`` applied to ``loaded.spec``."""
    ran = getattr(loaded.spec, section, None)
    if not isinstance(ran, BaseModel):
        return {}
    in_file = type(ran).model_validate(written if isinstance(written, dict) else {})
    file_values = in_file.model_dump(by_alias=True, mode="json")
    return {key: value for key, value in ran.model_dump(by_alias=True, mode="json").items()
            if file_values.get(key) != value}


def fixed_document(loaded: LoadedSpec, params: dict[str, Any], row: pd.Series,
                   meta: SweepMeta, rule: Pick | None = None) -> dict[str, Any]:
    """The exported file's content: the sweep's sections, fixed space, provenance (with
    ``rule``, the pick rule that chose the trial, and its objective values)."""
    raw = loaded.doc.data
    document: dict[str, Any] = {"name": exported_name(meta.name, int(row["number"]))}
    for section in KEPT_SECTIONS:
        ran = _ran_values(loaded, section, raw.get(section))
        if ran:  # the file's section with the sweep's overrides, so it retrains that run
            written = raw.get(section)
            document[section] = {**(written if isinstance(written, dict) else {}), **ran}
        elif section in raw:
            document[section] = dict(raw[section]) if isinstance(raw[section], dict) \
                else raw[section]
    data_path = loaded.data_path()
    if data_path is not None:  # the exported file may live anywhere
        document["data"]["path"] = str(data_path.resolve())
    weights = loaded.weights_path()
    if weights is not None:
        document["model"]["weights"] = str(weights.resolve())
    budget = dict(document.get("budget") or {})
    budget["trials"] = 1
    document["budget"] = budget
    document["space"] = params
    document["provenance"] = {
        "sweep": meta.name,
        "trial_id": str(row["trial_id"]),
        "trial_number": int(row["number"]),
        "status": str(row["status"]),
        "objective_metric": loaded.spec.primary.metric,
        "objective": float(row["score"]),
        **_pick_provenance(loaded.spec, row, rule),
        "best_epoch": int(row["best_epoch"]),
        "epochs": int(row["epochs"]),
        "training_seed": int(row["seed"]),
        "data_fingerprint": meta.data_fingerprint,
        "source_dir": meta.base_dir,  # where a builder's or hypermodel's module is found
        **_test_provenance(meta, str(row["trial_id"])),
        "versions": _versions(),
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return document


def _pick_provenance(spec: SweepSpec, row: pd.Series, rule: Pick | None) -> dict[str, Any]:
    """How a multi-objective sweep's trial was chosen: the rule (absent when --trial named
    it) and the trial's value of each objective of the front."""
    if rule is None and not spec.multi_objective:
        return {}
    front = front_objectives(spec.objectives)
    values = objective_values(row.to_dict(), front)
    return {**({"pick": str(rule)} if rule is not None else {}),
            "objectives": {o.metric: int(v) if o.metric in SIZE_COLUMNS and v is not None
                           else v for o, v in zip(front, values, strict=True)}}


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


def export(name: str, runs_dir: Path, output: Path, trial: str | None = None,
           pick: Pick | str | None = None) -> dict[str, Any]:
    """Write the chosen trial (``trial``, else the best by ``pick``, else by the spec's
    rule) as a fixed search-space file; return the document written (its provenance names
    the trial, whose model ``run.best_model`` copies, and the rule that chose it)."""
    folder = existing_sweep(runs_dir, name)
    loaded = load_spec_for(name, runs_dir)
    meta = SweepMeta.read(folder)
    given = None if pick is None else as_pick(pick)
    row = choose_trial(trials_frame(name, runs_dir), loaded.spec, trial, given)
    params = trial_params(loaded, folder, int(row["number"]))
    rule = None if trial is not None else sweep_pick(loaded.spec, given)
    document = fixed_document(loaded, params, row, meta, rule)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(f"# Trial {row['number']} of sweep {name}, every parameter fixed: "
                      f"`sweeper train {output.name}` trains it again.\n" + dump(document))
    return document
