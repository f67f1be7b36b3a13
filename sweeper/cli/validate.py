"""``sweeper validate``: the file checked, its space shown, its architectures tried."""

from __future__ import annotations

import argparse
import sys

from sweeper.cli.discovered import discovered_lines, parameter_sources
from sweeper.config.loaded import LoadedSpec
from sweeper.config.params import AnyParam, ChoiceParam, FixedParam, FloatParam, IntParam
from sweeper.errors import SpecError

__all__ = ["check_split", "cmd_validate", "describe_param", "input_shape_hint"]

FEASIBILITY_SAMPLES = 500


def cmd_validate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sweeper.api import load_spec
    from sweeper.models.inputs import InputInfo
    from sweeper.models.kinds import feasibility, resolve_kind
    from sweeper.models.limits import Limits
    from sweeper.search.space import grid_size, planned_trials, sample_configs

    loaded = load_spec(args.file)
    spec = loaded.spec
    kind = resolve_kind(loaded)
    check_split(loaded)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    for warning in loaded.warnings:
        console.print(str(warning), style="yellow")
    table = Table(title=f"{spec.name}: {len(spec.space)} parameters", title_justify="left")
    sources = parameter_sources(loaded)  # a hypermodel's: from its code, or the file
    for column in ("parameter", "kind", "values", "when", *(("from",) if sources else ())):
        table.add_column(column)
    for name, param in spec.space.items():
        param_kind, values = describe_param(param)
        when = ", ".join(f"{k} in {v}" for k, v in param.condition_values().items())
        table.add_row(name, param_kind, values, when, *([sources[name]] if sources else []))
    console.print(table)
    size = grid_size(spec.space)
    if size is not None:
        console.print(f"grid points: {size}")
    console.print(f"trials: {planned_trials(spec)} ({spec.search.algorithm} search, "
                  f"{spec.scheduler.kind} scheduler, at most {spec.budget.max_epochs} epochs)")
    if spec.budget.target is not None:
        reach = "at least" if spec.primary.objective().maximize else "at most"
        console.print(f"target: the sweep ends once a trial's {spec.primary.metric} is {reach} "
                      f"{spec.budget.target:g} (running trials run to their end)")
    if spec.multi_objective:
        console.print("objectives: " + ", ".join(f"{o.metric} ({o.direction})"
                                                 for o in spec.objectives)
                      + f"; the best: {spec.pick or f'best:{spec.primary.metric}'}")
    limits = Limits.of(spec.constraints)
    if limits.any:
        console.print("constraints: " + ", ".join(
            f"{key} {value:,}" for key, value in spec.constraints.model_dump().items()
            if value is not None))
    for line in discovered_lines(loaded, kind):
        console.print(line)
    if not kind.describes:
        if loaded.discovered is None:
            console.print(f"model: custom builder {spec.model.kind} (imports fine)")
        console.print(f"{args.file}: OK")
        return 0
    shape = input_shape_hint(loaded)
    configs = sample_configs(spec, FEASIBILITY_SAMPLES, seed=spec.search.seed)
    report = feasibility(kind, configs, InputInfo(shape[:2], shape[2], 10), limits)
    label = "grid points" if size is not None and size <= FEASIBILITY_SAMPLES else "sampled"
    what = "infeasible architectures" + (" or over a constraint" if limits.any else "")
    console.print(f"{what}: {report.infeasible} of {report.sampled} "
                  f"{label} ({100 * report.infeasible / max(report.sampled, 1):.1f} %) "
                  f"at input {shape[0]}x{shape[1]}")
    for reason, count in report.reasons.most_common(3):
        console.print(f"  {count} x {reason}")
    if report.all_infeasible:
        reason = report.reasons.most_common(1)[0][0]
        raise SpecError([loaded.problem(
            ("space",), f"space: no architecture in this space is feasible at input "
            f"{shape[0]}x{shape[1]}: {reason}; use padding 'same', smaller strides or "
            "kernels, less depth, or larger data.image_size", key=True)])
    console.print(f"{args.file}: OK")
    return 0


def check_split(loaded: LoadedSpec) -> None:
    """The split `run` will make, checked from the labels or the files per class."""
    from sweeper.data.dataset import split_problem, test_fraction
    from sweeper.data.sources import source_class_counts

    counts = source_class_counts(loaded)
    if not counts:
        return
    data = loaded.spec.data
    test = test_fraction(data.validation_split, data.test_split, sum(counts.values()))
    problem = split_problem(data.validation_split, test, counts)
    if problem is not None:
        key, message = problem
        raise SpecError([loaded.problem(("data", key), f"data.{key}: {message}")])


def describe_param(param: AnyParam) -> tuple[str, str]:
    if isinstance(param, ChoiceParam):
        return "choice", ", ".join(str(v) for v in param.choice)
    if isinstance(param, IntParam | FloatParam):
        low, high = param.range_
        step = param.step if param.step not in (None, 1) else None
        extra = (" log" if param.log else "") + (f" step {step}" if step else "")
        kind = "int" if isinstance(param, IntParam) else "float"
        return kind, f"[{low}, {high}]{extra}"
    assert isinstance(param, FixedParam)
    return "fixed", repr(param.value)


def input_shape_hint(loaded: LoadedSpec) -> tuple[int, int, int]:
    """The image size the model will see, without decoding the data."""
    data = loaded.spec.data
    channels = data.channels or 1
    if data.image_size is not None:
        return (*data.image_size, channels)
    if data.source == "digits":
        return (8, 8, channels)
    if data.source == "mnist5k":
        return (28, 28, channels)
    from sweeper.data.sources import DEFAULT_FOLDER_SIZE, source_image_size

    # what `run` will see: the array's shape, or the folder's most common image size
    size = source_image_size(loaded) or DEFAULT_FOLDER_SIZE
    return (*size, channels)
