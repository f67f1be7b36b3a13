"""Rules that relate fields of a validated file: conditions, grid search's needs, data paths.

Each rule returns located problems instead of raising, so a file's every problem is
reported at once.
"""

from __future__ import annotations

import posixpath
import re

from sweeper.config.loaded import LoadedSpec
from sweeper.config.params import (
    ChoiceParam,
    FixedParam,
    condition_order,
    grid_count,
    refusal,
)
from sweeper.config.problems import did_you_mean
from sweeper.config.schema import SweepSpec
from sweeper.config.yamlio import LocatedDocument
from sweeper.errors import Problem
from sweeper.objective import COST_METRICS

__all__ = ["MAX_GRID_POINTS", "MLFLOW_KEY_MAX_LENGTH", "check_conditions", "check_data",
           "check_names", "check_search", "check_start", "mlflow_name_problem"]

# Optuna's GridSampler makes the list of every combination, and a grid is the trial count.
MAX_GRID_POINTS = 100_000
# MLflow's rule for a parameter key, as mlflow.utils.validation states it
# (validate_param_and_metric_name, path_not_unique, MAX_ENTITY_KEY_LENGTH): importing MLflow
# to ask it costs a second, so the rule is restated here and a unit test holds it to MLflow's.
MLFLOW_KEY_MAX_LENGTH = 250
_MLFLOW_KEY = re.compile(r"^[/\w.\- :]*$")


def mlflow_name_problem(name: str) -> str | None:
    """Why MLflow would refuse ``name`` as a parameter key, else None."""
    if len(name) > MLFLOW_KEY_MAX_LENGTH:
        return (f"is {len(name)} characters long; MLflow records parameter names of at most "
                f"{MLFLOW_KEY_MAX_LENGTH}: shorten it")
    if not _MLFLOW_KEY.match(name):
        bad = sorted({c for c in name if not _MLFLOW_KEY.match(c)})
        return (f"has {', '.join(repr(c) for c in bad)}, which MLflow does not accept in a "
                "parameter name (letters, digits, '_', '-', '.', ' ', ':' and '/' only): "
                "rename it")
    normal = posixpath.normpath(name)
    if normal != name or normal == "." or normal.startswith(("..", "/")):
        return ("is not a plain path to MLflow (no leading '/', no '.' or '..' parts, no "
                "doubled or trailing '/'): rename it")
    return None


def check_names(spec: SweepSpec, doc: LocatedDocument) -> list[Problem]:
    """Every parameter name is one MLflow records (it logs each trial's parameters)."""
    problems = []
    for name in spec.space:
        why = mlflow_name_problem(name)
        if why is not None:
            shown = name if len(name) <= 40 else name[:37] + "..."
            problems.append(doc.problem(("space", name), f"space: the parameter name "
                                                         f"{shown!r} {why}", key=True))
        if f"param_{name}" in COST_METRICS:  # trials.csv: param_<name> beside param_count
            problems.append(doc.problem(("space", name), (
                f"space: the parameter name {name!r} would be trials.csv's column "
                f"'param_{name}', which holds every trial's parameter count; rename it"),
                key=True))
    return problems


def check_conditions(spec: SweepSpec, doc: LocatedDocument) -> list[Problem]:
    problems: list[Problem] = []
    names = list(spec.space)
    for name, param in spec.space.items():
        for other, wanted in param.condition_values().items():
            where = ("space", name, "when", other)
            if other == name:
                problems.append(doc.problem(where, f"space.{name}: a parameter cannot depend "
                                                   "on itself", key=True))
                continue
            if other not in spec.space:
                problems.append(doc.problem(
                    where, f"space.{name}.when: unknown parameter '{other}'"
                    + did_you_mean(other, names), key=True))
                continue
            target = spec.space[other]
            if not isinstance(target, ChoiceParam | FixedParam):
                problems.append(doc.problem(
                    where, f"space.{name}.when: '{other}' is a range; conditions can refer "
                    "only to choice or fixed parameters", key=True))
                continue
            possible = target.values
            for value in wanted:
                if value not in possible:
                    problems.append(doc.problem(
                        ("space", name, "when", other),
                        f"space.{name}.when.{other}: {value!r} is not a value of '{other}' "
                        f"(its values: {', '.join(repr(v) for v in possible)})"
                        + did_you_mean(str(value), [str(v) for v in possible])))
    if not problems:
        problems += _check_cycles(spec, doc)
    return problems


def _check_cycles(spec: SweepSpec, doc: LocatedDocument) -> list[Problem]:
    try:
        condition_order(spec.space)
    except ValueError as exc:
        name = str(exc)
        return [doc.problem(("space", name, "when"),
                            f"space.{name}.when: conditions form a cycle; a parameter cannot "
                            "depend, even indirectly, on itself")]
    return []



def check_search(spec: SweepSpec, doc: LocatedDocument) -> tuple[list[Problem], list[Problem]]:
    problems: list[Problem] = []
    warnings: list[Problem] = []
    algorithm = spec.search.algorithm
    if algorithm == "grid":
        for name, param in spec.space.items():
            if not param.discrete:
                problems.append(doc.problem(
                    ("space", name),
                    f"space.{name}: search.algorithm 'grid' needs every parameter discrete; "
                    f"'{name}' is a continuous range: add 'step', or make it a choice",
                    key=True))
        if not spec.space:
            problems.append(doc.problem(("search", "algorithm"),
                                        "search.algorithm 'grid' needs at least one parameter"))
        size = grid_count(spec.space)
        if size is not None and size > MAX_GRID_POINTS:
            problems.append(doc.problem(
                ("search", "algorithm"),
                f"search.algorithm 'grid' would run {size:,} trials (every combination of "
                f"the space's values), more than {MAX_GRID_POINTS:,}; use larger steps or "
                "fewer values, or search with tpe or random and budget.trials"))
    problems += _check_objectives(spec, doc)
    if algorithm == "cmaes":
        categorical = [n for n, p in spec.space.items() if isinstance(p, ChoiceParam)]
        if categorical:
            warnings.append(doc.problem(
                ("search", "algorithm"),
                "warning: CMA-ES samples categorical parameters at random "
                f"({', '.join(categorical)}); consider tpe"))
    return problems, warnings



def _check_objectives(spec: SweepSpec, doc: LocatedDocument) -> list[Problem]:
    """What several objectives rule out: single-objective samplers and Optuna's pruners
    (Optuna refuses ``trial.report`` in a multi-objective study); a pick names an objective."""
    problems: list[Problem] = []
    metrics = [o.metric for o in spec.objectives]
    if spec.multi_objective and spec.search.algorithm == "cmaes":
        problems.append(doc.problem(("search", "algorithm"), (
            "search.algorithm 'cmaes' optimises one objective, and this file lists "
            f"{len(metrics)} ({', '.join(metrics)}); use nsga2 or tpe")))
    if spec.multi_objective and spec.scheduler.kind.startswith("optuna_"):
        problems.append(doc.problem(("scheduler", "kind"), (
            f"scheduler.kind '{spec.scheduler.kind}' is an Optuna pruner, which Optuna refuses "
            "in a multi-objective study (no intermediate values); use asha, hyperband or median "
            f"(they rank trials on the first objective, {metrics[0]}) or fifo")))
    pick = spec.pick
    if not spec.multi_objective:  # its front: the objective and the model's size
        metrics = [*metrics, "param_count"]
    if pick is not None and pick.metric is not None and pick.metric not in metrics:
        problems.append(doc.problem(("pick",), (
            f"pick: best:{pick.metric} names no objective of this sweep; expected one of "
            + ", ".join(f"best:{m}" for m in metrics) + did_you_mean(pick.metric, metrics))))
    return problems


def check_data(loaded: LoadedSpec) -> list[Problem]:
    data = loaded.spec.data
    path = loaded.data_path()
    if path is None:
        return []
    where = ("data", "path")
    if data.source == "directory":
        if not path.exists():
            return [loaded.problem(where, f"data.path: no folder {str(path)!r}; expected a "
                                          "folder with one sub-folder of images per class")]
        if not path.is_dir():
            return [loaded.problem(where, f"data.path: {str(path)!r} is a file; "
                                          "data.source 'directory' needs a folder")]
    if data.source == "npz" and not path.is_file():
        return [loaded.problem(where, f"data.path: no file {str(path)!r}; expected an "
                                      ".npz with arrays 'x' and 'y'")]
    if data.source == "npz" and path.suffix.lower() == ".npy":
        return [loaded.problem(where, f"data.path: {str(path)!r} is a .npy file (one array); "
                                      "data.source 'npz' needs an .npz holding images and "
                                      "labels: np.savez(path, x=images, y=labels)")]
    return []


def check_start(spec: SweepSpec, doc: LocatedDocument) -> list[Problem]:
    """Every ``search.start`` point names parameters of the space, with values it allows."""
    problems: list[Problem] = []
    if spec.search.start and spec.search.algorithm == "grid":
        problems.append(doc.problem(("search", "start"), "search.start: grid search runs every "
                                    "point of the space already; remove search.start"))
        return problems
    known = list(spec.space)
    for index, point in enumerate(spec.search.start):
        where = ("search", "start", index)
        if not point:
            problems.append(doc.problem(where, f"search.start[{index}]: an empty point; give "
                                        "{parameter: value, ...} or remove it"))
        for name, value in point.items():
            param = spec.space.get(name)
            if param is None:
                problems.append(doc.problem(
                    (*where, name), f"search.start[{index}].{name}: not a parameter of the "
                    "space" + (did_you_mean(name, known) or f"; the space has "
                               f"{', '.join(known) or 'none'}"), key=True))
                continue
            why = refusal(param, value)
            if why is not None:
                problems.append(doc.problem((*where, name), f"search.start[{index}].{name}: "
                                            f"{why}, got {value!r}"))
    return problems
