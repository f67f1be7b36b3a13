"""The ``sweeper`` command line: every command, its flags and their help."""

from __future__ import annotations

import argparse

from sweeper.cli.args import (
    duration,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    sweep_name,
)
from sweeper.cli.commands import (
    cmd_compare,
    cmd_doctor,
    cmd_export,
    cmd_results,
    cmd_resume,
    cmd_run,
    cmd_status,
    cmd_train,
    cmd_ui,
)
from sweeper.cli.steering import cmd_extend, cmd_list, cmd_stop
from sweeper.cli.validate import cmd_validate
from sweeper.version import __version__

__all__ = ["build_parser"]


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
    validate.set_defaults(handler=cmd_validate)
    validate.add_argument("file", help="search-space YAML file")

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
    add_runs_dir(train)
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
    run.add_argument("--warm-start", default=None, metavar="OLD",
                     help="start the study from sweep OLD's finished trials (same data; "
                          "values outside this space are left out)")
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

    status = commands.add_parser(
        "status", help="trials by status and the best so far (--watch: live)",
        description="A sweep's trials by status, its best so far and, while it runs, its "
                    "driver (alive, or dead with how to resume it). --watch redraws it every "
                    "few seconds, with each running trial's epoch, last value and end, "
                    "until the sweep ends.")
    status.add_argument("name", help="sweep name")
    add_runs_dir(status)
    status.add_argument("--watch", action="store_true",
                        help="a live view, refreshed until the sweep ends")
    status.add_argument("--every", type=positive_float, default=2.0, metavar="SECONDS",
                        help="--watch: seconds between refreshes (default 2)")
    status.set_defaults(handler=cmd_status)

    stop = commands.add_parser(
        "stop", help="stop a running sweep from any terminal",
        description="Stop a running sweep: no new trial starts, running trials run to their "
                    "own end, then the sweep ends as usual (best model, plots, MLflow) with "
                    "status `stopped`. Works from any terminal that sees the runs dir.")
    stop.add_argument("name", help="sweep name")
    add_runs_dir(stop)
    stop.add_argument("--now", action="store_true",
                      help="end the running trials at once (pruned, reason stopped_by_user)")
    stop.add_argument("--wait", action="store_true", help="return once the sweep has ended")
    stop.set_defaults(handler=cmd_stop)

    extend = commands.add_parser(
        "extend", help="more trials or time for a running, finished or stopped sweep",
        description="Give a sweep more trials and/or more time. A running sweep takes the "
                    "new budget at once; one that ended continues here as the same sweep "
                    "(same Optuna study, tables and MLflow parent run).")
    extend.add_argument("name", help="sweep name")
    add_runs_dir(extend)
    extend.add_argument("--trials", type=positive_int, default=None, metavar="N",
                        help="this many more trials")
    extend.add_argument("--time-limit", type=duration, default=None, metavar="D",
                        help="this much more time: 90s, 30m, 2h (beyond its limit, or from "
                             "now when it has none or it passed)")
    extend.add_argument("--address", default=None,
                        help="Ray cluster to join when the sweep continues here")
    extend.add_argument("--quiet", action="store_true", help="summaries only")
    extend.set_defaults(handler=cmd_extend)

    listing = commands.add_parser(
        "list", help="every sweep in the runs dir: status, trials, best, start time")
    add_runs_dir(listing)
    listing.add_argument("--format", choices=("table", "csv", "json", "markdown"),
                         default="table")
    listing.set_defaults(handler=cmd_list)

    results = commands.add_parser(
        "results", help="the trials table (or per-epoch history) of a sweep")
    results.add_argument("name", help="sweep name")
    add_runs_dir(results)
    results.add_argument("--format", choices=("table", "csv", "json", "markdown"),
                         default="table")
    results.add_argument("--history", action="store_true", help="one row per trial and epoch")
    results.add_argument("--top", type=positive_int, help="only the first N rows")
    results.add_argument("--sort", help="column to sort by (default: score, best first)")
    results.add_argument("--pareto", action="store_true",
                         help="only the Pareto front: the trials no other trial beats on every "
                              "objective (a single-objective sweep: its objective and "
                              "param_count), best first on the first objective")
    results.add_argument("--plots", action="store_true",
                         help="also write PNG plots to RUNS_DIR/NAME/plots/ (and log them to "
                              "the sweep's MLflow run)")
    results.set_defaults(handler=cmd_results)

    doctor = commands.add_parser(
        "doctor", help="which problems the trials had, what explains them, what to change",
        description="Count the diagnosed problems of a sweep's trials (diverging, "
                    "overfitting, ...), find the parameter values that explain each "
                    "(e.g. optimizer=sgd and learning_rate > 0.05), and suggest changes to "
                    "the search space.")
    doctor.add_argument("name", help="sweep name")
    add_runs_dir(doctor)
    doctor.add_argument("--format", choices=("markdown", "json"), default="markdown")
    doctor.set_defaults(handler=cmd_doctor)

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
    export.add_argument("--pick", default=None, metavar="RULE",
                        help="choose from the Pareto front by RULE, in place of the file's "
                             "pick: best:METRIC (its best value) or smallest-within:DELTA (the "
                             "fewest parameters within DELTA of the best first objective)")
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
                                         "otherwise, and print the link to each sweep's "
                                         "runs table (NAME's alone, with NAME).")
    ui.add_argument("name", nargs="?", type=sweep_name, default=None,
                    help="a sweep in the runs dir: print the link to its runs alone")
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


