"""The ``sweeper`` commands. Heavy libraries (TensorFlow, Ray, MLflow) are imported inside
the commands that need them, so ``status``, ``results``, ``compare`` and ``export`` read a
sweep without them, and ``--help`` answers at once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sweeper.cli.args import check_writable, runs_dir
from sweeper.cli.show import PrintNotifier, print_outcome
from sweeper.errors import SweeperError, UserInputError

if TYPE_CHECKING:
    from sweeper.observe.tracking.config import TrackingConfig

__all__ = ["cmd_compare", "cmd_doctor", "cmd_export", "cmd_results", "cmd_resume", "cmd_run",
           "cmd_status", "cmd_train", "cmd_ui"]


def cmd_train(args: argparse.Namespace) -> int:
    from sweeper.api import load_spec
    from sweeper.driver.train import check_output, require_fixed, train, train_seeds

    if args.output:
        check_output(Path(args.output))
    loaded = load_spec(args.file)
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
    if args.seeds > 1:
        summary = train_seeds(loaded, epochs=args.epochs, output=output, first_seed=seed,
                              count=args.seeds, verbose=not args.quiet,
                              notifier=PrintNotifier())
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
                   verbose=not args.quiet, notifier=PrintNotifier())
    print(f"best {result.objective_metric}: {result.objective:.4f} at epoch "
          f"{result.best_epoch} of {result.epochs_run} (seed {result.seed})")
    print("validation: " + ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
    if result.test_metrics:
        print(f"test ({result.test_images} held-out images): "
              + ", ".join(f"{k} {v:.4f}" for k, v in result.test_metrics.items()))
    for finding in result.findings:
        print(f"diagnosis: {finding['code']} ({finding['severity']}, epoch {finding['epoch']}): "
              f"{finding['message']}; fix: {finding['fix']}")
    print(f"model saved to {result.model_path} (metrics in {output.with_suffix('.json')})")
    return 0



def cmd_run(args: argparse.Namespace) -> int:
    from sweeper.api import load_spec
    from sweeper.config.overrides import Overrides
    from sweeper.driver.engine import run_sweep

    loaded = load_spec(args.file)
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
                        register_model=args.register_model, notifier=PrintNotifier(),
                        warm_start=args.warm_start)
    print_outcome(outcome, folder)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from sweeper.driver.restored import resume_sweep

    folder = runs_dir(args.runs_dir)
    outcome = resume_sweep(args.name, folder, args.address, quiet=args.quiet,
                           notifier=PrintNotifier())
    print_outcome(outcome, folder)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    if args.watch:
        from sweeper.cli.steering import cmd_watch

        return cmd_watch(args)
    from sweeper.report.results import status_text

    print(status_text(args.name, runs_dir(args.runs_dir)))
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    from sweeper.report.results import pareto_table, ranked, render
    from sweeper.store.specs import load_spec_for
    from sweeper.store.tables import history_frame, trials_frame

    if args.pareto and args.history:
        raise UserInputError("--pareto lists trials and --history epochs; give one of them")
    folder = runs_dir(args.runs_dir)
    trials = trials_frame(args.name, folder)
    if args.plots:
        from sweeper.api import load
        from sweeper.observe.tracking.config import resolve
        from sweeper.observe.tracking.store import log_files

        sweep = load(args.name, folder)
        paths = sweep.plots()
        tracking = sweep.loaded.spec.tracking
        logged = log_files(resolve(tracking.uri, tracking.experiment, args.name, folder),
                           args.name, paths, "plots")
        print(f"plots: {', '.join(str(p) for p in paths)}"
              + ("" if logged else " (not logged to MLflow: the store is unreachable)"),
              file=sys.stderr)
    if args.history:
        frame = history_frame(args.name, folder)
        if args.top:
            frame = frame.head(args.top)
    elif args.pareto:
        frame = pareto_table(trials, load_spec_for(args.name, folder).spec.objectives)
        if args.sort:
            if args.sort not in frame.columns:
                raise UserInputError(f"--sort: no column {args.sort!r} in the Pareto front's "
                                     f"table; columns: {', '.join(frame.columns)}")
            frame = frame.sort_values(args.sort, na_position="last", kind="stable")
        if args.top:
            frame = frame.head(args.top)
    else:
        objective = load_spec_for(args.name, folder).spec.primary.objective()
        frame = ranked(trials, objective, args.sort, args.top)
    print(render(frame, args.format))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from sweeper.report.doctor import diagnose_sweep, render_doctor

    print(render_doctor(diagnose_sweep(args.name, runs_dir(args.runs_dir)), args.format))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from sweeper.report.export import export

    output = Path(args.output)
    folder = runs_dir(args.runs_dir)
    pick = None
    if args.pick is not None:
        from sweeper.store.pareto import as_pick

        pick = as_pick(args.pick, "--pick")
    document = export(args.name, folder, output, args.trial, pick)
    provenance = document["provenance"]
    if args.model:
        from sweeper.driver.best_model import copy_trial_model
        from sweeper.store.layout import existing_sweep
        from sweeper.store.meta import SweepMeta
        from sweeper.store.specs import load_spec_for

        sweep = existing_sweep(folder, args.name)
        copy_trial_model(sweep, SweepMeta.read(sweep),
                         load_spec_for(args.name, folder).spec.primary.objective(),
                         provenance["trial_id"], Path(args.model))
    print(f"wrote {output}: trial {provenance['trial_number']} of {args.name}, "
          f"{provenance['objective_metric']} {provenance['objective']:.4f} at epoch "
          f"{provenance['best_epoch']} (training seed {provenance['training_seed']})")
    if "objectives" in provenance:
        from sweeper.store.pareto import format_value

        how = f"picked by {provenance['pick']} from the Pareto front" \
            if "pick" in provenance else "its objectives"
        print(f"{how}: " + ", ".join(f"{metric} {format_value(metric, value)}"
                                     for metric, value in provenance["objectives"].items()))
    if "test_score" in provenance:
        print(f"test split: {provenance['test_metric']} {provenance['test_score']:.4f} on "
              f"{provenance['test_images']} held-out images")
    if args.model:
        print(f"wrote {args.model}: the trial's best checkpoint")
    print(f"train it again: sweeper train {output}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from sweeper.api import compare
    from sweeper.report.results import render

    print(render(compare(args.names, runs_dir(args.runs_dir)), args.format))
    return 0


def _ui_base(host: str, port: int) -> str:
    """The address a browser reaches the UI at, on the host and port it serves on."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _runs_links(folder: Path, config: TrackingConfig, base: str,
                name: str | None) -> list[str]:
    """A line per sweep of the runs dir whose runs are in the served store: the link to
    its runs table (the UI's front page is MLflow's GenAI overview, not the runs)."""
    from sweeper.observe.tracking.config import client, redact, resolve
    from sweeper.store.layout import SWEEP_JSON, existing_sweep
    from sweeper.store.specs import load_spec_for

    names = [existing_sweep(folder, name).name] if name else sorted(
        p.parent.name for p in folder.glob(f"*/{SWEEP_JSON}"))
    experiments: dict[str, str] = {}
    for sweep in names:
        try:
            tracking = load_spec_for(sweep, folder).spec.tracking
        except SweeperError:
            if name:
                raise
            continue  # a sweep this version cannot read does not keep the UI from the rest
        own = resolve(tracking.uri, tracking.experiment, sweep, folder)
        if own.uri == config.uri:
            experiments[sweep] = own.experiment
        elif name:
            raise UserInputError(f"sweep {sweep!r} logs to the MLflow store at "
                                 f"{redact(own.uri)}; pass --tracking-uri to serve that one")
    if not experiments:
        return []
    from mlflow.entities import LifecycleStage

    mlflow = client(config)
    lines = []
    for sweep, experiment in experiments.items():
        found = mlflow.get_experiment_by_name(experiment)
        if found is None or found.lifecycle_stage != LifecycleStage.ACTIVE:
            state = "deleted" if found is not None else "not written yet"
            lines.append(f"  {sweep}: its MLflow experiment {experiment!r} is {state}")
        else:
            lines.append(f"  {sweep}: {base}/#/experiments/{found.experiment_id}/runs")
    return lines


def cmd_ui(args: argparse.Namespace) -> int:
    import os
    import subprocess

    from sweeper.driver.signals import quiet_mlflow
    from sweeper.observe.tracking.config import redact, resolve

    quiet_mlflow()
    folder = runs_dir(args.runs_dir)
    config = resolve(args.tracking_uri, None, "ui", folder)
    links = _runs_links(folder, config, _ui_base(args.host, args.port), args.name)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: the MLflow UI will listen on {args.host}, reachable from other "
              "machines; it has no login", file=sys.stderr)
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", config.uri,
               "--host", args.host, "--port", str(args.port), "--workers", "1"]
    if config.artifact_root:
        command += ["--default-artifact-root", config.artifact_root]
    print(f"MLflow UI for {redact(config.uri)}: {_ui_base(args.host, args.port)} "
          "(Ctrl-C stops it)", flush=True)
    if links:
        print("each sweep's runs:\n" + "\n".join(links), flush=True)
    # the server's INFO lines (creating its database) are not for the user, nor is its job
    # runner (GenAI evaluation jobs: a pool of processes, and a folder in /dev/shm it leaves)
    env = {**os.environ, "MLFLOW_LOGGING_LEVEL": os.environ.get("MLFLOW_LOGGING_LEVEL")
           or "WARNING", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": os.environ.get(
               "MLFLOW_SERVER_ENABLE_JOB_EXECUTION") or "false"}
    try:
        return subprocess.call(command, env=env)
    except FileNotFoundError as exc:
        raise UserInputError(f"cannot start the MLflow server: {exc}") from None


