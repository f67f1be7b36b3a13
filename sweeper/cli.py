"""The ``sweeper`` command. The only place that turns errors into messages and exit codes.

Heavy libraries (TensorFlow, Ray, MLflow) are imported inside the commands that need them,
so ``sweeper --help`` and ``sweeper validate`` answer quickly.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from sweeper import __version__
from sweeper.errors import SpecError, SweeperError

FEASIBILITY_SAMPLES = 500


def runs_dir(value: str | None) -> Path:
    """``--runs-dir``, else ``SWEEPER_RUNS_DIR``, else ``./runs``."""
    return Path(value or os.environ.get("SWEEPER_RUNS_DIR") or "runs")


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected a number of at least {minimum}, got {value}")
        return value

    return parse


positive_int = _int_at_least(1)
non_negative_int = _int_at_least(0)


# ---------------------------------------------------------------- commands
def cmd_validate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sweeper import spec as spec_module
    from sweeper.architecture import feasibility
    from sweeper.builders import resolve_builder
    from sweeper.space import grid_size, planned_trials, sample_configs

    loaded = spec_module.load(args.file)
    spec = loaded.spec
    resolve_builder(loaded)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    for warning in loaded.warnings:
        console.print(str(warning), style="yellow")
    table = Table(title=f"{spec.name}: {len(spec.space)} parameters", title_justify="left")
    for column in ("parameter", "kind", "values", "when"):
        table.add_column(column)
    for name, param in spec.space.items():
        kind, values = describe_param(param)
        when = ", ".join(f"{k} in {v}" for k, v in param.condition_values().items())
        table.add_row(name, kind, values, when)
    console.print(table)
    size = grid_size(spec.space)
    if size is not None:
        console.print(f"grid points: {size}")
    console.print(f"trials: {planned_trials(spec)} ({spec.search.algorithm} search, "
                  f"{spec.scheduler.kind} scheduler, at most {spec.budget.max_epochs} epochs)")
    if spec.model.builtin:
        shape = input_shape_hint(loaded)
        configs = sample_configs(spec, FEASIBILITY_SAMPLES, seed=spec.search.seed)
        report = feasibility(configs, shape, 10)
        label = "grid points" if size is not None and size <= FEASIBILITY_SAMPLES else "sampled"
        console.print(f"infeasible architectures: {report.infeasible} of {report.sampled} "
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
    else:
        console.print(f"model: custom builder {spec.model.kind} (imports fine)")
    console.print(f"{args.file}: OK")
    return 0


def describe_param(param: object) -> tuple[str, str]:
    from sweeper.spec import ChoiceParam, FixedParam, FloatParam, IntParam

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


def input_shape_hint(loaded: object) -> tuple[int, int, int]:
    """The image size the model will see, without decoding the data."""
    import numpy as np

    from sweeper.spec import LoadedSpec

    assert isinstance(loaded, LoadedSpec)
    data = loaded.spec.data
    channels = data.channels or 1
    if data.image_size is not None:
        return (*data.image_size, channels)
    if data.source == "digits":
        return (8, 8, channels)
    if data.source == "mnist5k":
        return (28, 28, channels)
    if data.source == "npz":
        path = loaded.data_path()
        assert path is not None
        try:
            with np.load(path, allow_pickle=False) as archive:
                if "x" in archive.files:
                    shape = archive["x"].shape
                    return (int(shape[1]), int(shape[2]), channels)
        except (OSError, ValueError, IndexError):
            pass  # reported properly when the data is loaded
    from sweeper.data import DEFAULT_FOLDER_SIZE

    return (*DEFAULT_FOLDER_SIZE, channels)


def cmd_train(args: argparse.Namespace) -> int:
    from sweeper import spec as spec_module
    from sweeper.train import require_fixed

    loaded = spec_module.load(args.file)
    require_fixed(loaded)
    for warning in loaded.warnings:
        print(warning, file=sys.stderr)
    seed = args.seed
    if seed is None:
        provenance = loaded.spec.provenance or {}
        seed = int(provenance.get("training_seed", 0))
    output = Path(args.output) if args.output else (
        runs_dir(args.runs_dir) / loaded.spec.name / "model.keras")
    check_writable(output.parent)
    from sweeper.train import train, train_seeds

    if args.seeds > 1:
        summary = train_seeds(loaded, epochs=args.epochs, output=output, first_seed=seed,
                              count=args.seeds, verbose=not args.quiet)
        values = ", ".join(f"{r.objective:.4f} (seed {r.seed})" for r in summary.results)
        print(f"{summary.metric} over {args.seeds} seeds: mean {summary.mean:.4f}, "
              f"std {summary.std:.4f} [{values}]")
        provenance = loaded.spec.provenance or {}
        if "objective" in provenance:
            print(f"the sweep reported {float(provenance['objective']):.4f} for this "
                  f"configuration (trial {provenance.get('trial_number')})")
        print(f"models: {output} (seed {seed}) and siblings; summary in "
              f"{output.with_suffix('.seeds.json')}")
        return 0
    result = train(loaded, epochs=args.epochs, output=output, seed=seed,
                   verbose=not args.quiet)
    print(f"best {result.objective_metric}: {result.objective:.4f} at epoch "
          f"{result.best_epoch} of {result.epochs_run} (seed {result.seed})")
    print("validation: " + ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
    if result.test_metrics:
        print(f"test ({result.test_images} held-out images): "
              + ", ".join(f"{k} {v:.4f}" for k, v in result.test_metrics.items()))
    print(f"model saved to {result.model_path} (metrics in {output.with_suffix('.json')})")
    return 0


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of at least 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number above 0, got 0")
    return value


def duration(text: str) -> float:
    from sweeper.spec import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    assert value is not None
    return value


def sweep_name(text: str) -> str:
    import re

    from sweeper.spec import NAME_PATTERN

    if not re.match(NAME_PATTERN, text):
        raise argparse.ArgumentTypeError(
            f"expected letters, digits, '.', '_' or '-' (no '/' or '..'), got {text!r}")
    return text


def cmd_run(args: argparse.Namespace) -> int:
    from sweeper import spec as spec_module
    from sweeper.engine import Overrides, run_sweep

    loaded = spec_module.load(args.file)
    for warning in loaded.warnings:
        print(warning, file=sys.stderr)
    folder = runs_dir(args.runs_dir)
    check_writable(folder)
    overrides = Overrides(
        name=args.name, trials=args.trials, max_epochs=args.max_epochs,
        time_limit=args.time_limit, concurrency=args.concurrency,
        gpus_per_trial=args.gpus_per_trial, cpus_per_trial=args.cpus_per_trial,
        seed=args.seed, storage=args.storage, tracking_uri=args.tracking_uri)
    outcome = run_sweep(loaded, overrides, folder, args.address, quiet=args.quiet,
                        register_model=args.register_model)
    print_outcome(outcome, folder)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from sweeper.engine import resume_sweep

    folder = runs_dir(args.runs_dir)
    outcome = resume_sweep(args.name, folder, args.address, quiet=args.quiet)
    print_outcome(outcome, folder)
    return 0


def print_outcome(outcome: object, folder: Path) -> None:
    from sweeper.engine import SweepOutcome

    assert isinstance(outcome, SweepOutcome)
    best = outcome.best or {}
    params = {k[len("param_"):]: v for k, v in best.items()
              if k.startswith("param_") and v == v}
    counts = outcome.trials["status"].value_counts().to_dict() if not outcome.trials.empty \
        else {}
    print(f"sweep {outcome.name} finished: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    print(f"best trial {best.get('number')}: {outcome.metric} {float(best['score']):.4f} "
          f"at epoch {best.get('best_epoch')} ({best.get('status')})")
    print("  " + ", ".join(f"{k}={v}" for k, v in params.items()))
    if outcome.test is not None:
        print(f"test: the exported model scored {outcome.test.describe()}")
    flag = "" if folder == runs_dir(None) else f" --runs-dir {folder}"
    print(f"tables: {outcome.folder / 'trials.csv'}, {outcome.folder / 'history.csv'}; "
          f"`sweeper results {outcome.name}{flag}`")
    from sweeper.engine import load_spec_for, tracking_config

    tracking = tracking_config(load_spec_for(outcome.name, folder).spec, folder)
    if tracking.embedded:
        print(f"MLflow: `sweeper ui{flag}`, then open http://127.0.0.1:5000 "
              f"(experiment {tracking.experiment!r})")
    else:
        from sweeper.tracking import redact

        print(f"MLflow: experiment {tracking.experiment!r} at {redact(tracking.uri)}")


def cmd_status(args: argparse.Namespace) -> int:
    from sweeper.results import status_text

    print(status_text(args.name, runs_dir(args.runs_dir)))
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    from sweeper.engine import load_spec_for
    from sweeper.results import history_frame, ranked, render, trials_frame

    folder = runs_dir(args.runs_dir)
    trials = trials_frame(args.name, folder)
    if args.plots:
        from sweeper.api import load
        from sweeper.engine import tracking_config
        from sweeper.tracking import log_files

        sweep = load(args.name, folder)
        paths = sweep.plots()
        logged = log_files(tracking_config(sweep.loaded.spec, folder), args.name, paths,
                           "plots")
        print(f"plots: {', '.join(str(p) for p in paths)}"
              + ("" if logged else " (not logged to MLflow: the store is unreachable)"),
              file=sys.stderr)
    if args.history:
        frame = history_frame(args.name, folder)
        if args.top:
            frame = frame.head(args.top)
    else:
        mode = load_spec_for(args.name, folder).spec.objective.direction
        frame = ranked(trials, mode, args.sort, args.top)
    print(render(frame, args.format))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from sweeper.export import export

    output = Path(args.output)
    document = export(args.name, runs_dir(args.runs_dir), output,
                      Path(args.model) if args.model else None, args.trial)
    provenance = document["provenance"]
    print(f"wrote {output}: trial {provenance['trial_number']} of {args.name}, "
          f"{provenance['objective_metric']} {provenance['objective']:.4f} at epoch "
          f"{provenance['best_epoch']} (training seed {provenance['training_seed']})")
    if "test_score" in provenance:
        print(f"test split: {provenance['test_metric']} {provenance['test_score']:.4f} on "
              f"{provenance['test_images']} held-out images")
    if args.model:
        print(f"wrote {args.model}: the trial's best checkpoint")
    print(f"train it again: sweeper train {output}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from sweeper.api import compare
    from sweeper.results import render

    print(render(compare(args.names, runs_dir(args.runs_dir)), args.format))
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    import subprocess

    from sweeper.errors import UserInputError
    from sweeper.tracking import resolve

    folder = runs_dir(args.runs_dir)
    config = resolve(args.tracking_uri, None, "ui", folder)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: the MLflow UI will listen on {args.host}, reachable from other "
              "machines; it has no login", file=sys.stderr)
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", config.uri,
               "--host", args.host, "--port", str(args.port), "--workers", "1"]
    if config.artifact_root:
        command += ["--default-artifact-root", config.artifact_root]
    print(f"MLflow UI for {config.uri}: http://{args.host}:{args.port} (Ctrl-C stops it)",
          flush=True)
    try:
        return subprocess.call(command)
    except FileNotFoundError as exc:
        raise UserInputError(f"cannot start the MLflow server: {exc}") from None


def check_writable(folder: Path) -> None:
    """Fail before any work when outputs cannot be written."""
    from sweeper.errors import UserInputError

    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".sweeper-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UserInputError(f"cannot write to {folder}: {exc.strerror or exc}; choose another "
                             "folder with --runs-dir or --output") from None


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweeper",
        description="Hyperparameter sweeps for Keras CNNs on Ray Tune, Optuna and MLflow.")
    parser.add_argument("--version", action="version", version=f"sweeper {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser(
        "validate", help="check a search-space file and show its space",
        description="Check a search-space file: schema, parameter names and values, "
                    "conditions, grid size, and how many sampled architectures are infeasible.")
    validate.add_argument("file", help="search-space YAML file")
    validate.set_defaults(handler=cmd_validate)

    train = commands.add_parser(
        "train", help="train one fixed configuration (e.g. an exported best config)",
        description="Train a search-space file whose every parameter is fixed, with early "
                    "stopping on the objective, and save the model.")
    train.add_argument("file", help="search-space YAML file with every parameter fixed")
    train.add_argument("--epochs", type=positive_int, default=None,
                       help="epochs at most (default: budget.max_epochs)")
    train.add_argument("--output", default=None,
                       help="model file (default: RUNS_DIR/NAME/model.keras)")
    train.add_argument("--seed", type=non_negative_int, default=None,
                       help="training seed: weights, shuffling, augmentation "
                            "(default: the file's provenance.training_seed, else 0)")
    train.add_argument("--runs-dir", default=None,
                       help="outputs folder (default: $SWEEPER_RUNS_DIR or ./runs)")
    train.add_argument("--seeds", type=positive_int, default=1,
                       help="train with this many seeds (SEED, SEED+1, ...) and report the "
                            "objective's mean and standard deviation")
    train.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    train.set_defaults(handler=cmd_train)

    run = commands.add_parser(
        "run", help="run a sweep on the local machine or a Ray cluster",
        description="Run a sweep: Optuna samples, Ray Tune places trials on every CPU/GPU and "
                    "stops bad ones early. Flags override the file.")
    run.add_argument("file", help="search-space YAML file")
    run.add_argument("--name", type=sweep_name, help="sweep name (default: the file's name)")
    add_runs_dir(run)
    run.add_argument("--address", default=None,
                     help="Ray cluster to join, or local (default: $RAY_ADDRESS, else the "
                          "`ray start` cluster of this machine, else a private local Ray)")
    run.add_argument("--storage", default=None,
                     help="Ray Tune storage: a folder every node sees, or s3://, gs:// "
                          "(default: RUNS_DIR/NAME/tune)")
    run.add_argument("--trials", type=positive_int, help="trials to run")
    run.add_argument("--max-epochs", type=positive_int, help="epochs at most per trial")
    run.add_argument("--time-limit", type=duration, help="wall-clock limit: 90s, 30m, 2h")
    run.add_argument("--concurrency", type=positive_int, help="trials at once")
    run.add_argument("--gpus-per-trial", type=non_negative_float, help="GPUs per trial (0.5 "
                     "= two trials share a GPU)")
    run.add_argument("--cpus-per-trial", type=positive_float, help="CPU cores per trial")
    run.add_argument("--seed", type=non_negative_int, help="sampler seed")
    run.add_argument("--tracking-uri", default=None,
                     help="MLflow tracking server (default: tracking.uri, $MLFLOW_TRACKING_URI, "
                          "else RUNS_DIR/mlflow.db)")
    run.add_argument("--register-model", default=None, metavar="NAME",
                     help="register the best model in the MLflow model registry as NAME")
    run.add_argument("--quiet", action="store_true", help="summaries only, no line per trial")
    run.set_defaults(handler=cmd_run)

    resume = commands.add_parser(
        "resume", help="continue an interrupted or crashed sweep",
        description="Continue a sweep from its saved state (refused when its file changed).")
    resume.add_argument("name", help="sweep name")
    add_runs_dir(resume)
    resume.add_argument("--address", default=None, help="Ray cluster to join")
    resume.add_argument("--quiet", action="store_true", help="summaries only")
    resume.set_defaults(handler=cmd_resume)

    status = commands.add_parser("status", help="trials by status and the best so far")
    status.add_argument("name", help="sweep name")
    add_runs_dir(status)
    status.set_defaults(handler=cmd_status)

    results = commands.add_parser(
        "results", help="the trials table (or per-epoch history) of a sweep")
    results.add_argument("name", help="sweep name")
    add_runs_dir(results)
    results.add_argument("--format", choices=("table", "csv", "json", "markdown"),
                         default="table")
    results.add_argument("--history", action="store_true", help="one row per trial and epoch")
    results.add_argument("--top", type=positive_int, help="only the first N rows")
    results.add_argument("--sort", help="column to sort by (default: score, best first)")
    results.add_argument("--plots", action="store_true",
                         help="also write PNG plots to RUNS_DIR/NAME/plots/ (and log them to "
                              "the sweep's MLflow run)")
    results.set_defaults(handler=cmd_results)

    export = commands.add_parser(
        "export", help="the best (or a chosen) trial as a fixed file that trains again",
        description="Write the best trial (or --trial) as a search-space file with every "
                    "parameter fixed and a provenance block; --model copies its best "
                    "checkpoint's model.")
    export.add_argument("name", help="sweep name")
    add_runs_dir(export)
    export.add_argument("-o", "--output", default="best.yaml", help="file to write")
    export.add_argument("--model", default=None, help="also write the model (.keras)")
    export.add_argument("--trial", default=None, help="a trial id or number (default: best)")
    export.set_defaults(handler=cmd_export)

    compare = commands.add_parser(
        "compare", help="sweeps side by side: best, trials by status, time, epochs")
    compare.add_argument("names", nargs="+", help="sweep names")
    add_runs_dir(compare)
    compare.add_argument("--format", choices=("table", "csv", "json", "markdown"),
                         default="table")
    compare.set_defaults(handler=cmd_compare)

    ui = commands.add_parser("ui", help="the MLflow UI over the runs dir's store",
                             description="Serve the MLflow UI over RUNS_DIR/mlflow.db (or "
                                         "--tracking-uri), on 127.0.0.1 unless --host says "
                                         "otherwise.")
    add_runs_dir(ui)
    ui.add_argument("--port", type=positive_int, default=5000)
    ui.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1; others warn)")
    ui.add_argument("--tracking-uri", default=None, help="a store other than the runs dir's")
    ui.set_defaults(handler=cmd_ui)
    return parser


def add_runs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", default=None,
                        help="outputs folder (default: $SWEEPER_RUNS_DIR or ./runs)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run one command, report any error once, return the exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ chatter out
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    debug = os.environ.get("SWEEPER_DEBUG") == "1"
    try:
        return handler(args)
    except SweeperError as exc:
        if debug:
            traceback.print_exc()
        if isinstance(exc, SpecError):
            for problem in exc.problems:
                print(problem, file=sys.stderr)
        else:
            print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

