"""One rule picks the best trial, and every command follows it: a failed or infeasible trial
is never best, whatever score it kept; and reading a sweep imports neither Ray nor
TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

import sweeper
from sweeper.objective import Objective
from sweeper.report.compare import compare
from sweeper.report.results import ranked
from sweeper.status import Status
from sweeper.store.best import best_trial
from tests.events import PATIENCE_S
from tests.sweep_on_disk import BEST_NUMBER, TRIALS, write_sweep

HEAVY = ("ray", "tensorflow", "keras")


@pytest.fixture()
def runs(tmp_path: Path) -> Path:
    write_sweep(tmp_path / "runs", "ruled")
    return tmp_path / "runs"


def run_cli(runs: Path, *argv: str) -> tuple[str, list[str]]:
    """The real command in a fresh interpreter; its stdout and the heavy modules it loaded."""
    probe = textwrap.dedent(f"""
        import json, sys
        from sweeper.cli import main
        code = main({list(argv)!r})
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
        print("\\nMODULES " + json.dumps(loaded))
        sys.exit(code)
    """)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=PATIENCE_S, env={"SWEEPER_RUNS_DIR": str(runs),
                                              "PATH": "/usr/bin:/bin"}, cwd=runs.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    out, _, modules = result.stdout.rpartition("\nMODULES ")
    return out, json.loads(modules)


def test_the_rule_skips_failed_and_infeasible_trials_with_higher_scores(runs: Path) -> None:
    trials = pd.read_csv(runs / "ruled" / "trials.csv")
    best = best_trial(trials, Objective.of("val_accuracy", "max"))
    assert best is not None and best.number == BEST_NUMBER
    assert trials["score"].max() > best.score  # the top scores belong to failed/infeasible
    order = ranked(trials, Objective.of("val_accuracy", "max"))["number"].tolist()
    assert order[0] == BEST_NUMBER and order[:2] == [2, 0]
    # minimizing: the lowest scored trial, still never the failed or infeasible one
    assert best_trial(trials, Objective.of("val_loss", "min")).number == 0  # type: ignore[union-attr]


def test_no_scored_trial_means_no_best() -> None:
    failed = pd.DataFrame([{"trial_id": "a", "number": 0, "status": Status.FAILED.value,
                            "score": 0.9, "best_epoch": 1}])
    assert best_trial(failed, Objective.of("val_accuracy", "max")) is None


@pytest.mark.parametrize("command", ["status", "results", "export", "compare"])
def test_every_reading_command_names_the_same_best_without_ray_or_tensorflow(
        runs: Path, command: str) -> None:
    argv = {"status": ["status", "ruled"],
            "results": ["results", "ruled", "--format", "json"],
            "export": ["export", "ruled", "-o", str(runs.parent / "best.yaml")],
            "compare": ["compare", "ruled", "--format", "json"]}[command]
    out, heavy = run_cli(runs, *argv)
    assert heavy == [], f"`sweeper {command}` imported {heavy}"
    if command == "status":
        assert f"best: trial {BEST_NUMBER} val_accuracy 0.8500" in out
    elif command == "results":
        assert json.loads(out)[0]["number"] == BEST_NUMBER
    elif command == "export":
        exported = yaml.safe_load((runs.parent / "best.yaml").read_text())
        assert exported["provenance"]["trial_number"] == BEST_NUMBER
        depth, optimizer = TRIALS[BEST_NUMBER][3:]
        assert exported["space"] == {"depth": depth, "optimizer": optimizer}
    else:
        assert json.loads(out)[0]["best_trial"] == BEST_NUMBER


def test_the_api_and_the_progress_line_name_the_same_best(runs: Path) -> None:
    sweep = sweeper.load("ruled", runs)
    assert sweep.best() is not None and sweep.best()["number"] == BEST_NUMBER  # type: ignore[index]
    assert compare(["ruled"], runs)["best_trial"].tolist() == [BEST_NUMBER]

    from sweeper.observe.progress import ProgressPrinter

    class Rows:  # the recorder's face ProgressPrinter reads
        def __init__(self) -> None:
            records = pd.read_csv(runs / "ruled" / "trials.csv").to_dict("records")
            self.rows = {str(i): r for i, r in enumerate(records)}

        def now(self) -> float:
            return 12.0

    printer = ProgressPrinter(Rows(), 4, Objective.of("val_accuracy", "max"))  # type: ignore[arg-type]
    summary = printer.summary()
    assert f"best val_accuracy 0.8500 (trial {BEST_NUMBER})" in summary


def test_trial_ids_that_look_like_numbers_read_back_as_written(tmp_path: Path) -> None:
    """Tune's ids are 8 hex digits: some are all digits or read as a float. A table that
    turned them into numbers would lose the trial (export, resume and the Optuna check all
    match rows by id); a one-GPU list stays text too."""
    from sweeper.store.tables import read_table, write_table

    written = pd.DataFrame({"trial_id": ["21884169", "1234e567", "00ab12cd"], "number": [0, 1, 2],
                            "gpu_ids": ["0", "0,1", ""], "score": [0.5, 0.25, None]})
    write_table(written, tmp_path / "trials.csv")
    table = read_table(tmp_path / "trials.csv")
    assert list(table["trial_id"]) == ["21884169", "1234e567", "00ab12cd"]
    assert list(table["gpu_ids"].fillna("")) == ["0", "0,1", ""]
    assert table["number"].tolist() == [0, 1, 2] and table["score"].iloc[0] == 0.5
