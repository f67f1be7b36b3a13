"""Rules that relate fields of a validated file: conditions, grid search's needs, data paths.

Each rule returns located problems instead of raising, so a file's every problem is
reported at once.
"""

from __future__ import annotations

from sweeper.config.loaded import LoadedSpec
from sweeper.config.params import ChoiceParam, FixedParam, condition_order
from sweeper.config.problems import did_you_mean
from sweeper.config.schema import SweepSpec
from sweeper.config.yamlio import LocatedDocument
from sweeper.errors import Problem

__all__ = ["check_conditions", "check_data", "check_search"]


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
    if algorithm == "cmaes":
        categorical = [n for n, p in spec.space.items() if isinstance(p, ChoiceParam)]
        if categorical:
            warnings.append(doc.problem(
                ("search", "algorithm"),
                "warning: CMA-ES samples categorical parameters at random "
                f"({', '.join(categorical)}); consider tpe"))
    return problems, warnings



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
    return []


