"""``sweeper doctor``: counts per finding code, the rules that explain a code by parameter
values, the search-space changes they suggest, and the Markdown/JSON it prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sweeper.cli import main
from sweeper.config.load import loads
from sweeper.errors import UserInputError
from sweeper.findings import Code
from sweeper.report.doctor import (
    DOCTOR_MD,
    DoctorFormat,
    diagnose,
    diagnose_sweep,
    render_doctor,
    write_doctor,
)
from sweeper.status import Reason, Status
from sweeper.store.layout import TRIALS_CSV
from sweeper.store.tables import write_table
from tests.sweep_on_disk import write_finished_sweep

SPACE = """name: {name}
data: {{source: digits}}
budget: {{trials: 24, max_epochs: 3}}
space:
  optimizer: {{choice: [adam, sgd]}}
  learning_rate: {{float: [0.0001, 0.3], log: true}}
  momentum: {{float: [0.0, 0.99], when: {{optimizer: sgd}}}}
  batch_norm: {{choice: [true, false]}}
  dropout: {{float: [0.0, 0.5]}}
"""
LEARNING_RATES = [0.001, 0.003, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2]
MOMENTA = [0.9, 0.0, 0.5, 0.95, 0.1, 0.3, 0.99, 0.2, 0.6, 0.8]

EXPECTED_MARKDOWN = """\
# sweeper doctor: sick

21 trials examined (ended after training, or failed); 7 with a diagnosed problem.

| code | trials | share | fix |
|:--|--:|--:|:--|
| diverging | 6 | 29% | {diverging} |
| nan_loss | 1 | 5% | {nan_loss} |

## Rules

- diverging: optimizer=sgd and learning_rate > 0.05, 5 of 5 trials (covers 5 of 6 with \
diverging)
- nan_loss: one trial, too few for a rule

## Suggestions

- fix optimizer: adam or narrow learning_rate to below 0.05 (now [0.0001, 0.3]) (from \
diverging: optimizer=sgd and learning_rate > 0.05)"""


def row(number: int, optimizer: str, learning_rate: float, momentum: float | None,
        diagnosis: str, status: Status = Status.COMPLETED, epochs: int = 3,
        reason: Reason = Reason.NONE) -> dict[str, Any]:
    return {"trial_id": f"t{number:04d}", "number": number, "status": status.value,
            "reason": reason.value, "score": 0.5, "best_epoch": min(epochs, 2),
            "epochs": epochs, "param_optimizer": optimizer,
            "param_learning_rate": learning_rate, "param_momentum": momentum,
            "param_batch_norm": number % 3 != 0, "param_dropout": [0.1, 0.4][number % 2],
            "diagnosis": diagnosis, "seed": number, "started_s": 1.0 + number,
            "ended_s": 10.0 + number, "error": ""}


def sick_trials() -> list[dict[str, Any]]:
    """Diverging exactly where optimizer=sgd and learning_rate > 0.05 (5 trials), plus one
    adam trial at a low rate (noise); trials that did not train are not examined."""
    rows = []
    for i, lr in enumerate(LEARNING_RATES):
        rows.append(row(i, "sgd", lr, MOMENTA[i], "diverging" if lr > 0.05 else ""))
    for i, lr in enumerate(LEARNING_RATES, start=10):
        rows.append(row(i, "adam", lr, None, "diverging" if i == 11 else ""))
    rows += [row(20, "adam", 0.001, None, "nan_loss", Status.FAILED, 0, Reason.NAN_LOSS),
             row(21, "sgd", 0.2, 0.5, "diverging", Status.INFEASIBLE, 0),
             row(22, "sgd", 0.2, 0.5, "diverging", Status.RUNNING, 1)]
    return rows


def write_sweep(runs_dir: Path, name: str, rows: list[dict[str, Any]]) -> Path:
    """A sweep folder as the driver leaves it: sweep.yaml, sweep.json and trials.csv."""
    folder = write_finished_sweep(runs_dir, name, SPACE.format(name=name))
    write_table(pd.DataFrame(rows), folder / TRIALS_CSV)
    return folder


@pytest.fixture()
def runs(tmp_path: Path) -> Path:
    write_sweep(tmp_path / "runs", "sick", sick_trials())
    return tmp_path / "runs"


def test_counts_examine_only_trials_that_trained_or_failed(runs: Path) -> None:
    report = diagnose_sweep("sick", runs)
    assert report.trials == 21 and report.affected == 7 and report.diagnosed
    assert [(c.code, c.trials) for c in report.counts] == [(Code.DIVERGING, 6),
                                                           (Code.NAN_LOSS, 1)]
    assert report.counts[0].share == pytest.approx(6 / 21)
    assert report.counts[0].fix.startswith("lower the learning rate")


def test_the_rule_names_sgd_with_a_high_learning_rate(runs: Path) -> None:
    rules = diagnose_sweep("sick", runs).rules_for(Code.DIVERGING)
    assert [r.text for r in rules] == [
        "optimizer=sgd and learning_rate > 0.05, 5 of 5 trials (covers 5 of 6 with diverging)"]
    rule = rules[0]
    assert (rule.matched, rule.coded, rule.total) == (5, 5, 6)
    assert rule.precision == 1.0 and rule.coverage == pytest.approx(5 / 6)
    # momentum is set only for sgd: an inactive cell matches no condition, so no rule on
    # momentum stands in for optimizer=sgd
    assert not any("momentum" in r.text for r in rules)


def test_the_suggestion_undoes_either_condition(runs: Path) -> None:
    (suggestion,) = diagnose_sweep("sick", runs).suggestions
    assert suggestion.code == Code.DIVERGING and suggestion.rule is not None
    assert suggestion.text == ("fix optimizer: adam or narrow learning_rate to below 0.05 "
                               "(now [0.0001, 0.3])")


def test_markdown(runs: Path) -> None:
    text = render_doctor(diagnose_sweep("sick", runs), "markdown")
    from sweeper.findings import FIXES

    assert text == EXPECTED_MARKDOWN.format(diverging=FIXES[Code.DIVERGING],
                                            nan_loss=FIXES[Code.NAN_LOSS])


def test_json_is_a_plain_document_with_stable_keys(runs: Path) -> None:
    text = render_doctor(diagnose_sweep("sick", runs), DoctorFormat.JSON)
    document = json.loads(text)
    assert list(document) == sorted(document)
    assert document["trials"] == 21 and document["diagnosed"] is True
    assert document["findings"][0] == {"code": "diverging", "trials": 6,
                                       "share": pytest.approx(6 / 21),
                                       "fix": document["findings"][0]["fix"]}
    (rule,) = document["rules"]
    assert rule["conditions"] == [{"op": "=", "param": "optimizer", "value": "sgd"},
                                  {"op": ">", "param": "learning_rate", "value": 0.05}]
    assert (rule["matched"], rule["coded"], rule["total"]) == (5, 5, 6)
    assert document["suggestions"][0]["rule"] == rule["text"]
    assert render_doctor(diagnose_sweep("sick", runs), "json") == text  # same every time


def test_a_healthy_sweep_has_no_findings(tmp_path: Path) -> None:
    rows = [{**r, "diagnosis": ""} for r in sick_trials()]
    write_sweep(tmp_path, "well", rows)
    report = diagnose_sweep("well", tmp_path)
    assert report.healthy and report.trials == 21 and not report.rules
    text = render_doctor(report, "markdown")
    assert text.endswith("no findings: every trial trained without a diagnosed problem")
    assert json.loads(render_doctor(report, "json"))["findings"] == []


def test_a_sweep_from_before_diagnosis_has_no_findings(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "diagnosis"} for r in sick_trials()]
    write_sweep(tmp_path, "old", rows)
    report = diagnose_sweep("old", tmp_path)
    assert report.healthy and not report.diagnosed and report.trials == 21
    text = render_doctor(report, "markdown")
    assert "no diagnosis column" in text and text.endswith("without a diagnosed problem")


def test_a_sweep_without_trials(tmp_path: Path) -> None:
    write_sweep(tmp_path, "empty", [])
    report = diagnose_sweep("empty", tmp_path)
    assert report.trials == 0 and report.healthy
    assert "nothing to diagnose" in render_doctor(report, "markdown")


def space_of(body: str) -> dict[str, Any]:
    return dict(loads(f"name: s\nspace:\n{body}", file="s.yaml").spec.space)


def test_batch_norm_off_means_turn_it_on() -> None:
    space = space_of("  batch_norm: {choice: [true, false]}\n  depth: {int: [1, 4]}\n")
    trials = pd.DataFrame([
        {"status": "completed", "epochs": 3, "param_batch_norm": i % 2 == 0,
         "param_depth": 1 + i % 4, "diagnosis": "" if i % 2 == 0 else "exploding_gradients"}
        for i in range(12)])
    report = diagnose("s", trials, space)
    (rule,) = report.rules
    assert rule.text == ("batch_norm=false, 6 of 6 trials (covers 6 of 6 with "
                         "exploding_gradients)")
    assert [s.text for s in report.suggestions] == ["fix batch_norm: true"]


def test_overfitting_asks_for_more_dropout_when_no_rule_explains_it() -> None:
    space = space_of("  dropout: {float: [0.0, 0.5]}\n  optimizer: {choice: [adam, sgd]}\n")
    trials = pd.DataFrame([
        {"status": "stopped_early", "epochs": 5, "param_dropout": d, "param_optimizer": o,
         "diagnosis": "overfitting" if c else ""}
        for d, o, c in [(0.1, "adam", 1), (0.4, "sgd", 0), (0.2, "sgd", 1), (0.3, "adam", 0),
                        (0.05, "sgd", 0), (0.45, "adam", 1)]])
    report = diagnose("s", trials, space)
    assert not report.rules
    assert [s.text for s in report.suggestions] == [
        "shift dropout upward (now [0, 0.5]; its overfitting trials had a median of 0.2)"]
    assert "overfitting: no parameter condition holds for 80%" in render_doctor(report,
                                                                                "markdown")


def test_a_report_that_cannot_be_written_is_a_warning(tmp_path: Path) -> None:
    class Notes:
        def __init__(self) -> None:
            self.warnings: list[str] = []

        def note(self, text: str) -> None:
            pass

        def warn(self, text: str) -> None:
            self.warnings.append(text)

    notes = Notes()
    space = space_of("  depth: {int: [1, 4]}\n")
    assert write_doctor("s", pd.DataFrame([{"status": "completed", "epochs": 1}]), space,
                        tmp_path / "missing" / DOCTOR_MD, notes) is None
    assert notes.warnings and notes.warnings[0].startswith("the doctor's report failed")
    assert write_doctor("s", pd.DataFrame(), space, tmp_path / DOCTOR_MD, notes) == \
        tmp_path / DOCTOR_MD
    assert (tmp_path / DOCTOR_MD).read_text().startswith("# sweeper doctor: s")


def test_an_unknown_format_is_bad_input(runs: Path) -> None:
    with pytest.raises(UserInputError, match="formats: markdown, json"):
        render_doctor(diagnose_sweep("sick", runs), "html")


def test_the_command_prints_the_report(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "sick", "--runs-dir", str(runs)]) == 0
    assert "optimizer=sgd and learning_rate > 0.05" in capsys.readouterr().out
    assert main(["doctor", "sick", "--runs-dir", str(runs), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["trials"] == 21


def test_the_command_refuses_an_unknown_sweep(runs: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "nope", "--runs-dir", str(runs)]) == 2
    assert "error: no sweep named 'nope'" in capsys.readouterr().err


def test_the_api_reads_the_same_report(runs: Path) -> None:
    from sweeper import api

    assert api.doctor("sick", runs) == diagnose_sweep("sick", runs)
    assert api.load("sick", runs).doctor().trials == 21
