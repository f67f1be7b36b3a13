"""Good search-space files: what they mean, what Optuna samples, what the blueprint says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from sweeper import config as spec_module
from sweeper.cli import main
from sweeper.models.cnn.blueprint import plan
from sweeper.models.cnn.kind import CnnKind
from sweeper.models.inputs import InputInfo
from sweeper.models.kinds import feasibility
from sweeper.search.space import grid_size, planned_trials, sample_configs, suggest
from tests.events import PATIENCE_S

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "search_spaces").glob("*.yaml"))


def test_defaults_and_derived_values() -> None:
    loaded = spec_module.loads("space: {depth: 2}\n", file="my-sweep.yaml")
    spec = loaded.spec
    assert spec.name == "my-sweep"
    assert spec.data.source == "mnist5k"
    assert spec.objective.direction == "max"
    assert spec_module.loads("objective: {metric: val_loss}\n").spec.objective.direction == "min"
    assert spec.fixed and spec.fixed_params() == {"depth": 2}
    timed = spec_module.loads("budget: {time_limit: 1h30m}\n").spec
    assert timed.budget.time_limit == 5400.0
    assert spec_module.loads("budget: {time_limit: 90}\n").spec.budget.time_limit == 90.0


def test_conditional_parameters_are_sampled_only_when_active() -> None:
    loaded = spec_module.loads(
        "space:\n"
        "  optimizer: {choice: [adam, sgd]}\n"
        "  momentum: {float: [0.1, 0.9], when: {optimizer: sgd}}\n"
        "  nesterov: {choice: [false, true], when: {optimizer: sgd}}\n"
        "  depth: 2\n")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen = {"adam": 0, "sgd": 0}
    for _ in range(40):
        trial = study.ask()
        config = suggest(trial, loaded.spec.space)
        seen[config["optimizer"]] += 1
        assert config["depth"] == 2
        if config["optimizer"] == "sgd":
            assert 0.1 <= config["momentum"] <= 0.9 and "nesterov" in config
            assert set(trial.params) == {"optimizer", "momentum", "nesterov"}
        else:
            assert "momentum" not in config and set(trial.params) == {"optimizer"}
        study.tell(trial, 0.0)
    assert seen["adam"] and seen["sgd"]


def test_condition_order_follows_dependencies_not_file_order() -> None:
    loaded = spec_module.loads(
        "space:\n"
        "  momentum: {float: [0.1, 0.9], when: {optimizer: sgd}}\n"
        "  optimizer: {choice: [sgd]}\n")
    study = optuna.create_study()
    assert "momentum" in suggest(study.ask(), loaded.spec.space)


def test_grid_size_and_planned_trials() -> None:
    text = ("search: {algorithm: grid}\nbudget: {trials: 3}\n"
            "space:\n  depth: {int: [1, 3]}\n  dropout: {float: [0.0, 0.5], step: 0.25}\n"
            "  optimizer: {choice: [adam, sgd]}\n  filters: 16\n")
    spec = spec_module.loads(text).spec
    assert grid_size(spec.space) == 3 * 3 * 2
    assert planned_trials(spec) == 18
    configs = sample_configs(spec, 500)
    assert len(configs) == 18
    assert {c["dropout"] for c in configs} == {0.0, 0.25, 0.5}
    assert all(c["filters"] == 16 for c in configs)


def test_cmaes_warns_about_categorical_parameters(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("data: {source: digits}\nsearch: {algorithm: cmaes}\n"
                    "space:\n  optimizer: {choice: [adam, sgd]}\n  depth: {int: [1, 2]}\n")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "c.yaml:2:21: warning: CMA-ES samples categorical parameters at random (optimizer)" \
        in out


def test_blueprint_names_the_layer_that_collapses() -> None:
    bp = plan({"depth": 3, "kernel_size": 5, "padding": "valid", "stride": 1, "pooling": "none"},
               (8, 8, 1), 10)
    assert not bp.feasible
    assert bp.infeasible is not None and bp.infeasible.startswith("block2_conv1 (kernel 5")
    ok = plan({"depth": 3, "padding": "same", "pooling": "none"}, (8, 8, 1), 10)
    assert ok.feasible and ok.blocks[-1].out_hw == (8, 8)
    pooled = plan({"depth": 4, "padding": "same", "pooling": "max"}, (8, 8, 1), 10)
    assert pooled.infeasible is not None and pooled.infeasible.startswith("block4_maxpool")


def test_feasibility_report_counts_sampled_architectures() -> None:
    spec = spec_module.loads(
        "space:\n  depth: {int: [1, 4]}\n  padding: {choice: [same, valid]}\n"
        "  kernel_size: 5\n  pooling: none\n").spec
    configs = sample_configs(spec, 500)
    assert len(configs) == 8  # the whole grid, each point once
    report = feasibility(CnnKind(), configs, InputInfo((8, 8), 1, 10))
    # valid 5x5 convs: 8 -> 4 -> 0, so depth 2, 3 and 4 collapse with valid padding
    assert report.infeasible == 3
    assert sum(report.reasons.values()) == 3


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_validates(path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "sweeper", "validate", str(path)],
                            capture_output=True, text=True, timeout=PATIENCE_S, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{path}: OK" in result.stdout.replace("\n", "")


def test_examples_cover_the_three_use_cases() -> None:
    specs = {p.name: spec_module.load(p).spec for p in EXAMPLES}
    assert specs["quickstart.yaml"].data.source == "mnist5k"
    assert specs["folder.yaml"].data.source == "directory"
    cluster = specs["gpu_cluster.yaml"]
    assert cluster.resources.gpus_per_trial >= 1
    assert cluster.data.image_size is not None and min(cluster.data.image_size) >= 96
    assert specs["quickstart-best.yaml"].fixed
