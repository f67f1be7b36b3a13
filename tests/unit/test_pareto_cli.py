"""A multi-objective sweep on disk, read by the commands: `results --pareto`, `export
--pick`, `status` naming the picked best, the API, the Pareto plot; a bad rule is one line
and exit 2. No Ray, no TensorFlow, no training."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

import sweeper
from sweeper.cli import main
from sweeper.errors import UserInputError
from tests.events import PATIENCE_S
from tests.sweep_on_disk import PARETO_FRONT, PARETO_TRIALS, write_pareto_sweep


@pytest.fixture()
def runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    write_pareto_sweep(runs, "two")  # no pick: best:val_accuracy, trial 2
    write_pareto_sweep(runs, "small", pick="smallest-within:0.01")  # trial 4
    return runs


def cli(runs: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--runs-dir", str(runs)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_results_pareto_lists_the_front_in_every_format(
        runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(runs, capsys, "results", "two", "--pareto", "--format", "json")
    assert code == 0
    records = json.loads(out)
    assert [r["number"] for r in records] == PARETO_FRONT
    assert list(records[0]) == ["trial_id", "number", "status", "val_accuracy", "param_count",
                                "param_depth", "param_optimizer"]
    assert records[1] == {"trial_id": "p0004", "number": 4, "status": "completed",
                          "val_accuracy": 0.845, "param_count": 2000, "param_depth": 1,
                          "param_optimizer": "sgd"}
    code, out, _ = cli(runs, capsys, "results", "two", "--pareto", "--format", "csv",
                       "--sort", "param_count", "--top", "2")
    lines = out.strip().splitlines()
    assert code == 0 and lines[1].startswith("p0000,0,") and len(lines) == 3
    code, out, _ = cli(runs, capsys, "results", "two", "--pareto", "--format", "markdown")
    assert code == 0 and len(out.strip().splitlines()) == 2 + len(PARETO_FRONT)
    code, _, err = cli(runs, capsys, "results", "two", "--pareto", "--history")
    assert code == 2 and err.startswith("error: --pareto") and len(err.splitlines()) == 1


def test_export_pick_exports_the_trial_the_rule_names(
        runs: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "out.yaml"
    code, out, _ = cli(runs, capsys, "export", "two", "--pick", "smallest-within:0.01",
                       "-o", str(out_file))
    assert code == 0, out
    exported = yaml.safe_load(out_file.read_text())
    provenance = exported["provenance"]
    assert provenance["trial_number"] == 4 and provenance["pick"] == "smallest-within:0.01"
    assert provenance["objectives"] == {"val_accuracy": 0.845, "param_count": 2000}
    depth, optimizer = PARETO_TRIALS[4][3:]
    assert exported["space"] == {"depth": depth, "optimizer": optimizer}
    assert "picked by smallest-within:0.01 from the Pareto front" in out
    # without --pick: the spec's rule (none: best on the first objective)
    code, _, _ = cli(runs, capsys, "export", "two", "-o", str(out_file))
    provenance = yaml.safe_load(out_file.read_text())["provenance"]
    assert code == 0 and provenance["trial_number"] == 2
    assert provenance["pick"] == "best:val_accuracy"


def test_status_names_the_picked_best(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(runs, capsys, "status", "small")
    assert code == 0
    assert "best: trial 4 val_accuracy 0.8450 at epoch 2 (completed)" in out
    assert "picked by smallest-within:0.01 from the Pareto front (3 trials): " \
           "val_accuracy 0.8450, param_count 2,000" in out
    assert "      depth=1, optimizer=sgd" in out  # param_count is no parameter
    code, out, _ = cli(runs, capsys, "status", "two")
    assert code == 0 and "best: trial 2 val_accuracy 0.8500" in out
    code, out, _ = cli(runs, capsys, "compare", "two", "small", "--format", "json")
    assert [r["best_trial"] for r in json.loads(out)] == [2, 4]


@pytest.mark.parametrize(("flags", "says"), [
    (["--pick", "largest:0.1"], "error: --pick: expected best:METRIC"),
    (["--pick", "smallest-within:-1"], "error: --pick: smallest-within:DELTA needs a number"),
    (["--pick", "best:val_acuracy"], "error: pick best:val_acuracy: 'val_acuracy' is not an"),
    (["--pick", "best:val_accuracy", "--trial", "1"], "error: --trial 1 and --pick"),
])
def test_a_bad_pick_is_one_line_and_exit_2(runs: Path, tmp_path: Path, flags: list[str],
                                           says: str) -> None:
    result = subprocess.run([sys.executable, "-m", "sweeper", "export", "two", "--runs-dir",
                             str(runs), "-o", str(tmp_path / "x.yaml"), *flags],
                            capture_output=True, text=True, timeout=PATIENCE_S)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(says) and len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr and not (tmp_path / "x.yaml").exists()


def test_the_api_reads_the_same_front_and_best(runs: Path, tmp_path: Path) -> None:
    sweep = sweeper.load("two", runs)
    assert sweep.pareto()["number"].tolist() == PARETO_FRONT
    assert sweep.best()["number"] == 2  # type: ignore[index]
    assert sweeper.load("small", runs).best()["number"] == 4  # type: ignore[index]
    sweep.export(tmp_path / "api.yaml", pick="best:param_count")
    assert yaml.safe_load((tmp_path / "api.yaml").read_text())["provenance"]["trial_number"] == 0
    with pytest.raises(UserInputError, match="pick: expected"):
        sweep.export(tmp_path / "bad.yaml", pick="nonsense")


def test_the_pareto_plot_joins_the_plots(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = sweeper.load("small", runs).plots()
    assert [p.name for p in paths][-1] == "pareto.png"
    with Image.open(paths[-1]) as image:
        assert image.width > 300 and image.height > 200
        assert len(set(image.convert("L").getdata())) > 5

    from sweeper.objective import Objective
    from sweeper.report import plots

    titles: list[str] = []
    save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: (
        titles.append(fig.axes[0].get_title()), save(fig, path))[1])
    three = (Objective.of("val_accuracy", "max"), Objective.of("param_count", "min"),
             Objective.of("flops", "min"))
    trials = sweeper.load("small", runs).trials
    path = plots.pareto_plot(trials, three, None, None, runs / "three.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert titles == ["Pareto front: val_accuracy against param_count (the front is over "
                      "all 3 objectives; the first two shown)"]
