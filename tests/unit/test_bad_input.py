"""Bad search-space files: each exits 2 with FILE:LINE:COL and a message that says the fix.

Each case names the line the error must point at by a piece of that line's text, so the
expected line number is computed from the file itself, and asserted exactly.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from sweeper.cli import main
from tests.events import PATIENCE_S


@dataclass
class Case:
    id: str
    text: str
    at: str  # text found on the line the error must point at
    message: str  # regular expression the message must match
    column_of: str | None = None  # when given: the column must be where this text starts


CASES = [
    Case("yaml-syntax", """
        name: x
        space:
          optimizer: {choice: [adam, sgd}
        """, "optimizer", r"YAML syntax error"),
    Case("duplicate-top-key", """
        budget: {trials: 3}
        data: {source: digits}
        budget: {trials: 4}
        """, "budget: {trials: 4}", r"duplicate key 'budget' \(first defined at line 1\)",
         column_of="budget"),
    Case("duplicate-param", """
        space:
          depth: {int: [1, 3]}
          filters: 16
          depth: 2
        """, "depth: 2", r"duplicate key 'depth'"),
    Case("tab-indent", "space:\n\tdepth: 2\n", "\tdepth", r"tab in the indentation.*spaces"),
    Case("python-tag", """
        name: x
        space:
          depth: !!python/object/apply:os.system ["echo hacked"]
        """, "depth", r"tag .*python/object/apply:os.system.* not allowed.*never construct",
         column_of="!!python"),
    Case("custom-tag", """
        data: !include other.yaml
        """, "data:", r"tag '!include' is not allowed"),
    Case("merge-key", """
        base: &b {trials: 2}
        budget:
          <<: *b
        """, "<<", r"merge keys"),
    Case("top-level-list", """
        - depth
        - filters
        """, "- depth", r"expected a mapping of sections"),
    Case("unknown-section", """
        spaces:
          depth: 2
        """, "spaces:", r"unknown key 'spaces' in the top level.*did you mean 'space'\?"),
    Case("unknown-data-key", """
        data:
          source: digits
          validaton_split: 0.3
        """, "validaton_split", r"unknown key 'validaton_split' in 'data'.*did you mean "
                                r"'validation_split'\?"),
    Case("unknown-source", """
        data: {source: mnist}
        """, "source", r"data.source: expected one of .*got 'mnist'; did you mean 'mnist5k'\?"),
    Case("directory-without-path", """
        data:
          source: directory
        """, "source: directory", r"data.source 'directory' needs data.path"),
    Case("image-size-scalar", """
        data:
          image_size: 28
        """, "image_size", r"data.image_size: .*tuple.*got 28"),
    Case("validation-split-range", """
        data:
          validation_split: 1.5
        """, "validation_split", r"data.validation_split: .*less than 1.*got 1.5"),
    Case("splits-leave-nothing-to-train", """
        data:
          validation_split: 0.5
          test_split: 0.45
        """, "test_split", r"data.test_split: validation_split 0.5 and test_split 0.45 "
                           r"leave under 5% of the images to train on; lower one"),
    Case("test-split-range", """
        data:
          test_split: -0.1
        """, "test_split", r"data.test_split: .*greater than or equal to 0.*got -0.1"),
    Case("channels-two", """
        data:
          channels: 2
        """, "channels", r"data.channels: expected one of 1 or 3, got 2"),
    Case("unknown-scheduler", """
        scheduler:
          kind: hyperbnd
        """, "hyperbnd", r"scheduler.kind: .*got 'hyperbnd'; did you mean 'hyperband'\?"),
    Case("unknown-searcher", """
        search: {algorithm: bayes}
        """, "bayes",
         r"search.algorithm: expected one of 'tpe', 'random', 'grid', 'cmaes' or 'nsga2'"),
    Case("negative-trials", """
        budget:
          trials: -1
        """, "trials", r"budget.trials: Input should be greater than 0, got -1"),
    Case("zero-epochs", """
        budget:
          max_epochs: 0
        """, "max_epochs", r"budget.max_epochs: .*greater than 0"),
    Case("bad-duration", """
        budget:
          time_limit: soon
        """, "time_limit", r"expected a duration such as 90s, 30m, 2h or 1h30m, got 'soon'"),
    Case("unknown-param", """
        space:
          depth: 2
          learnig_rate: {float: [1.0e-4, 1.0e-1], log: true}
        """, "learnig_rate", r"no parameter 'learnig_rate'; did you mean 'learning_rate'\?",
         column_of="learnig_rate"),
    Case("unknown-optimizer-choice", """
        space:
          optimizer:
            choice:
              - adam
              - nadamm
        """, "nadamm", r"space.optimizer: expected one of 'adam', 'sgd', 'rmsprop', 'adamw', "
                       r"got 'nadamm'; did you mean 'adam'\?"),
    Case("unknown-optimizer-fixed", """
        space:
          optimizer: sdg
        """, "sdg", r"space.optimizer: expected one of .*got 'sdg'; did you mean 'sgd'\?"),
    Case("inverted-int-range", """
        space:
          depth: {int: [4, 1]}
        """, "depth", r"space.depth.int: low must be below high, got \[4, 1\]"),
    Case("empty-float-range", """
        space:
          dropout: {float: [0.3, 0.3]}
        """, "dropout", r"low must be below high.*for a fixed value write the value itself"),
    Case("log-through-zero", """
        space:
          learning_rate: {float: [0.0, 0.1], log: true}
        """, "learning_rate", r"a log range must be above zero, got \[0.0, 0.1\]"),
    Case("log-and-step", """
        space:
          filters: {int: [8, 64], log: true, step: 8}
        """, "filters", r"'log' and 'step' cannot be combined"),
    Case("empty-choice", """
        space:
          batch_size: {choice: []}
        """, "batch_size", r"empty choice list"),
    Case("duplicate-choice", """
        space:
          batch_size: {choice: [32, 64, 32]}
        """, "batch_size", r"the value 32 is listed twice"),
    Case("condition-unknown-param", """
        space:
          optimizer: {choice: [adam, sgd]}
          momentum: {float: [0.0, 0.9], when: {optimiser: sgd}}
        """, "momentum", r"space.momentum.when: unknown parameter 'optimiser'; did you mean "
                         r"'optimizer'\?"),
    Case("condition-unknown-value", """
        space:
          optimizer: {choice: [adam, sgd]}
          momentum:
            float: [0.0, 0.9]
            when: {optimizer: sgdd}
        """, "when: {optimizer: sgdd}", r"'sgdd' is not a value of 'optimizer' .*did you mean "
                                        r"'sgd'\?"),
    Case("condition-on-range", """
        space:
          depth: {int: [1, 3]}
          filters: {choice: [16, 32], when: {depth: 2}}
        """, "filters", r"'depth' is a range; conditions can refer only to choice or fixed"),
    Case("condition-cycle", """
        space:
          padding: {choice: [same, valid], when: {pooling: max}}
          pooling: {choice: [max, none], when: {padding: same}}
        """, "padding", r"conditions form a cycle"),
    Case("grid-over-continuous", """
        search: {algorithm: grid}
        space:
          optimizer: {choice: [adam, sgd]}
          dropout: {float: [0.0, 0.5]}
        """, "dropout", r"'grid' needs every parameter discrete; 'dropout' is a continuous "
                        r"range: add 'step'"),
    Case("model-kind-format", """
        model:
          kind: my_models.build
        """, "kind", r"model.kind: .*expected 'cnn' or 'package.module:function', got "
                     r"'my_models.build'"),
    Case("builder-module-missing", """
        model: {kind: "no_such_module_xyz:build"}
        space: {units: 3}
        """, "model:", r"model.kind: no module 'no_such_module_xyz'"),
    Case("int-range-of-floats", """
        space:
          depth: {int: [1.5, 3]}
        """, "depth", r"space.depth.int\[0\]: Input should be a valid integer, got 1.5"),
    Case("yaml11-float-string", """
        space:
          learning_rate: 1e-3
        """, "learning_rate", r"got '1e-3' \(str\) \(YAML reads 1e-3 as text: write 1.0e-3"),
    Case("numeric-range-for-string-param", """
        space:
          padding: {int: [0, 2]}
        """, "padding", r"space.padding: expected one of 'same', 'valid'; a numeric range does "
                        r"not fit"),
    Case("float-range-for-int-param", """
        space:
          depth: {float: [1.0, 3.0]}
        """, "depth", r"expected whole numbers; use \{int: \[low, high\]\}"),
    Case("value-out-of-bounds", """
        space:
          dropout: {choice: [0.2, 1.5]}
        """, "dropout", r"space.dropout: expected a float in \[0.0, 1.0\), got 1.5"),
    Case("param-without-kind", """
        space:
          batch_size: {values: [16, 32]}
        """, "batch_size", r"expected \{choice: \[a, b\]\}, \{int: \[low, high\]\}"),
    Case("bare-list", """
        space:
          filters: [16, 32]
        """, "filters", r"a bare list is ambiguous: write \{choice: \[...\]\}"),
    Case("name-escapes-runs-dir", """
        name: ../../etc
        """, "name:", r"name: expected letters, digits, '.', '_' or '-' \(no '/' or '..'\)"),
    Case("fractional-gpus-above-one", """
        resources:
          gpus_per_trial: 1.5
        """, "gpus_per_trial", r"more than one GPU per trial must be a whole number"),
    Case("unknown-metric", """
        objective:
          metric: val_acc
        """, "metric", r"objective.metric: .*got 'val_acc'; did you mean 'val_accuracy'\?"),
    Case("no-feasible-architecture", """
        data: {source: digits}
        space:
          depth: {int: [3, 4]}
          kernel_size: 5
          padding: valid
          stride: {choice: [1, 2]}
        """, "space:", r"no architecture in this space is feasible at input 8x8: block\d_conv1 "
                       r"\(kernel 5, stride \d, padding valid\)"),
    Case("missing-data-folder", """
        data:
          source: directory
          path: no/such/folder
        """, "path:", r"data.path: no folder .*no/such/folder.*one sub-folder of images per "
                      r"class"),
    Case("npz-missing", """
        data:
          source: npz
          path: missing.npz
        """, "path:", r"data.path: no file .*missing.npz.*arrays 'x' and 'y'"),
    # issue 13, item 10: each of these was a traceback, or accepted and wrong
    Case("self-referencing-alias", """
        data: {source: digits}
        space:
          depth: &loop [1, *loop]
        """, "depth", r"an alias refers to the value that contains it"),
    Case("nesting-3000-deep", "space:\n  depth: " + "[" * 3000 + "]" * 3000 + "\n",
         "depth", r"nested more than 32 levels deep"),
    Case("alias-bomb", "".join(
        f"{a}: &{a} [{', '.join([f'*{p}'] * 9) if p else '1, 1, 1, 1, 1, 1, 1, 1, 1'}]\n"
        for p, a in zip(["", "a", "b", "c", "d", "e", "f"], "abcdefg", strict=True)),
         "a: &a", r"the file expands to more than 100,000 values"),
    Case("resources-inf", """
        resources:
          cpus_per_trial: .inf
        """, "cpus_per_trial", r"resources.cpus_per_trial: expected a finite number, got inf"),
    Case("range-nan", """
        space:
          learning_rate: {float: [.nan, 0.1], log: true}
        """, "learning_rate", r"space.learning_rate.float\[0\]: expected a finite number, "
                              r"got nan.*write a number"),
    Case("fixed-nan", """
        space:
          learning_rate: .nan
        """, "learning_rate", r"space.learning_rate: expected a finite number, got nan"),
    Case("choice-inf", """
        space:
          dropout: {choice: [0.1, .inf]}
        """, "dropout", r"space.dropout.choice: expected a finite number, got inf"),
    Case("condition-nan", """
        model: {kind: "ok_builder:build"}
        space:
          units: {choice: [1, 2]}
          rate: {float: [0.1, 0.2], when: {units: .nan}}
        """, "rate", r"expected a finite number, got nan"),
    Case("time-limit-nan", """
        budget:
          time_limit: .nan
        """, "time_limit", r"budget.time_limit: expected a duration .*got nan; for no limit "
                           r"leave time_limit out"),
    Case("step-denormal", """
        search: {algorithm: grid}
        space:
          dropout: {float: [0.0, 0.5], step: 1.0e-320}
        """, "dropout", r"step 1e-320 cuts \[0.0, 0.5\] into more than 1,000,000 values"),
    Case("grid-of-two-billion", """
        search: {algorithm: grid}
        model: {kind: "ok_builder:build"}
        space:
          units: {int: [0, 2147483647]}
        """, "search:", r"search.algorithm 'grid' would run 2,147,483,648 trials .*more than "
                        r"100,000"),
    Case("npy-as-npz", """
        data:
          source: npz
          path: images.npy
        """, "path:", r"data.path: .*images.npy' is a .npy file \(one array\).*np.savez"),
    Case("optuna-sha-fractional-reduction", """
        scheduler:
          kind: optuna_sha
          reduction_factor: 1.5
        """, "reduction_factor", r"scheduler.reduction_factor: scheduler 'optuna_sha' .*whole "
                                 r"reduction_factor of at least 2, got 1.5"),
    Case("optuna-hyperband-fractional-reduction", """
        scheduler: {kind: optuna_hyperband, reduction_factor: 2.5}
        """, "scheduler", r"'optuna_hyperband' .*got 2.5"),
    Case("yaml11-key-on", """
        space:
          on: 1
        """, "on: 1", r"space.on: the built-in cnn model has no parameter 'on'"),
    Case("choice-one-and-true", """
        model: {kind: "ok_builder:build"}
        space:
          units: {choice: [1, true, "1"]}
        """, "units", r"the values 1 and true are the same value to Optuna.*quote them"),
    # item 5: MLflow refuses these parameter names, so validate does
    Case("mlflow-bad-character", """
        model: {kind: "ok_builder:build"}
        space:
          lr@block1: 0.1
        """, "lr@block1", r"space: the parameter name 'lr@block1' has '@', which MLflow does "
                          r"not accept", column_of="lr@block1"),
    Case("mlflow-name-too-long", f"""
        model: {{kind: "ok_builder:build"}}
        space:
          {"u" * 251}: 0.1
        """, "uuu", r"is 251 characters long; MLflow records parameter names of at most 250"),
    Case("mlflow-path-name", """
        model: {kind: "ok_builder:build"}
        space:
          block1//lr: 0.1
        """, "block1//lr", r"'block1//lr' is not a plain path to MLflow"),
]


def line_of(text: str, fragment: str) -> tuple[int, int]:
    for number, line in enumerate(text.splitlines(), start=1):
        if fragment in line:
            return number, line.index(fragment) + 1
    raise AssertionError(f"{fragment!r} is not in the case's text")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_file_is_located(case: Case, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    text = textwrap.dedent(case.text).lstrip("\n")
    path = tmp_path / "space.yaml"
    path.write_text(text)
    (tmp_path / "ok_builder.py").write_text("def build(params, shape, classes):\n    pass\n")
    np.save(tmp_path / "images.npy", np.zeros((2, 4, 4), np.uint8))
    before = sorted(tmp_path.rglob("*"))
    code, out, err = run_cli(capsys, "validate", str(path))
    assert sorted(tmp_path.rglob("*")) == before  # nothing written
    assert code == 2, out + err
    assert "Traceback" not in err
    line, column = line_of(text, case.at)
    pattern = rf"^{re.escape(str(path))}:(\d+):(\d+): (.*)$"
    located = [m for m in re.finditer(pattern, err, re.M) if re.search(case.message, m[3])]
    assert located, f"no error matching {case.message!r} in:\n{err}"
    assert int(located[0][1]) == line, err
    if case.column_of is not None:
        _, column = line_of(text, case.column_of)
        assert int(located[0][2]) == column, err


def test_every_problem_is_reported_at_once(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("data: {source: mnist}\nscheduler: {kind: ashaa}\nbudget: {trials: 0}\n")
    code, _, err = run_cli(capsys, "validate", str(path))
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith(str(path))]
    assert [int(line.split(":")[1]) for line in lines] == [1, 2, 3]


def test_missing_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "validate", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "nope.yaml:1:1: no such file" in err


def test_train_refuses_a_searched_parameter(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "space.yaml"
    text = "data: {source: digits}\nspace:\n  depth: 2\n  filters: {choice: [8, 16]}\n"
    path.write_text(text)
    code, _, err = run_cli(capsys, "train", str(path), "--runs-dir", str(tmp_path / "runs"))
    assert code == 2
    assert f"{path}:4:3: space.filters: `sweeper train` needs every parameter fixed" in err
    assert not (tmp_path / "runs").exists()


def test_builder_that_fails_to_import_is_located(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken_builder.py").write_text("import math\nraise RuntimeError('boom')\n")
    # its own module name: loading a file imports its builder, and the cases above imported
    # an ok_builder that has build() (a process imports a module once)
    (tmp_path / "make_builder.py").write_text("def make(params, shape, classes):\n    pass\n")
    path = tmp_path / "space.yaml"
    for kind, message in [
        ("broken_builder:build", r"importing 'broken_builder' raised RuntimeError: boom "
                                 r"\(.*broken_builder.py:2\)"),
        ("make_builder:build", r"'make_builder' has no function 'build'; it has: make"),
    ]:
        path.write_text(f"data: {{source: digits}}\nmodel:\n  kind: '{kind}'\n")
        code, _, err = run_cli(capsys, "validate", str(path))
        assert code == 2
        assert re.search(rf"space.yaml:3:9: model.kind: {message}", err), err


@pytest.mark.parametrize("argv, fragment", [
    (["train", "x.yaml", "--epochs", "0"], "--epochs: expected a number of at least 1"),
    (["train", "x.yaml", "--seed", "-3"], "--seed: expected a number of at least 0"),
    (["train", "x.yaml", "--epochs", "many"], "--epochs: expected a whole number"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_flags_exit_2_naming_the_flag(argv: list[str], fragment: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert fragment in capsys.readouterr().err


def test_no_traceback_from_the_real_command(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("space:\n  depth: {int: [3, 1]}\n")
    result = subprocess.run([sys.executable, "-m", "sweeper", "validate", str(path)],
                            capture_output=True, text=True, timeout=PATIENCE_S)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{path}:2:16: space.depth.int: low must be below high" in result.stderr


@pytest.mark.parametrize("argv", [
    ["status", "a\x00b"], ["status", "x" * 300], ["compare", "nope", "x" * 300],
    ["status", "nope"], ["compare", "nope"],
])
def test_reading_an_unknown_sweep_is_bad_input(argv: list[str], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "runs").mkdir()
    code, _, err = run_cli(capsys, *argv, "--runs-dir", str(tmp_path / "runs"))
    assert code == 2, err
    assert re.search(r"^error: no sweep (can be )?named", err, re.M), err
    assert not any((tmp_path / "runs").iterdir())


def test_validate_sees_the_folder_image_size_run_will_use(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    for label in ("cat", "dog"):
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (20, 12)).save(tmp_path / "images" / label / f"{i}.png")
    path = tmp_path / "space.yaml"
    path.write_text("data: {source: directory, path: images}\n"
                    "space:\n  depth: 3\n  kernel_size: 5\n  padding: valid\n")
    code, _, err = run_cli(capsys, "validate", str(path))
    assert code == 2  # 64x64 (what validate assumed) fits three valid 5x5 blocks; 12x20 not
    assert f"{path}:2:1: space: no architecture in this space is feasible at input 12x20" in err


def test_validate_checks_the_split_run_will_make(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(tmp_path / "small.npz", x=np.zeros((6, 8, 8), np.uint8),
             y=np.array([0, 0, 1, 1, 2, 2]))
    path = tmp_path / "space.yaml"
    path.write_text("data:\n  source: npz\n  path: small.npz\n  validation_split: 0.2\n")
    code, _, err = run_cli(capsys, "validate", str(path))
    assert code == 2
    assert (f"{path}:4:21: data.validation_split: validation_split 0.2 holds out 2 of 6 images "
            "for 3 classes, so some class would have none there; raise validation_split to "
            "at least 0.5") in err


@pytest.mark.parametrize("name", [
    "lr", "block1/lr", "a b", "x:y", "a-b.c_d", "lr@block1", "/lr", "a//b", "a/", "..", ".",
    "a/../b", "ü", "a\tb", "u" * 250, "u" * 251, "a/./b", "é/x",
])
def test_the_parameter_name_rule_is_mlflows(name: str) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import MAX_ENTITY_KEY_LENGTH, _validate_param

    from sweeper.config.rules import MLFLOW_KEY_MAX_LENGTH, mlflow_name_problem

    assert MLFLOW_KEY_MAX_LENGTH == MAX_ENTITY_KEY_LENGTH
    try:
        _validate_param(name, "value")
        accepted = True
    except MlflowException:
        accepted = False
    assert (mlflow_name_problem(name) is None) == accepted, name


def test_grid_sizes_are_counted_not_made() -> None:
    from sweeper.config.load import loads
    from sweeper.search.space import grid_size, planned_trials

    # no kind check passed to loads: a custom builder's parameter may range this far
    spec = loads("space:\n  units: {int: [0, 2147483647]}\n"
                 "  dropout: {float: [0.0, 0.5], step: 1.0e-6}\n").spec
    tracemalloc.start()
    try:
        assert grid_size(spec.space) == 2**31 * 500_001  # a list of 2**31 ints needed 17 GB
        assert planned_trials(spec) == 20
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # counted: no list of the values was made


def test_aliases_of_aliases_nested_deep_are_located_not_a_recursion_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each anchor is shallow, but every one holds the alias of the one before: expanded,
    the value nests hundreds of levels deep with only a few values."""
    lines = ["a0: &a0 1"]
    for i in range(1, 30):
        lines.append(f"a{i}: &a{i} " + "[" * 25 + f"*a{i - 1}" + "]" * 25)
    path = tmp_path / "space.yaml"
    path.write_text("\n".join(lines) + "\n")
    code, out, err = run_cli(capsys, "validate", str(path))
    assert code == 2, out + err
    assert "Traceback" not in err and "nested more than 32 levels" in err
    assert re.search(rf"^{re.escape(str(path))}:\d+:\d+: ", err, re.M)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated"], ids=["empty", "truncated"])
def test_an_empty_or_truncated_npz_is_bad_input(content: bytes, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from sweeper.config import loads
    from sweeper.data.dataset import load_dataset
    from sweeper.errors import UserInputError

    (tmp_path / "images.npz").write_bytes(content)
    path = tmp_path / "space.yaml"
    path.write_text("data: {source: npz, path: images.npz}\nspace: {filters: 8}\n")
    code, out, err = run_cli(capsys, "validate", str(path))
    assert code in (0, 2) and "Traceback" not in err, out + err
    loaded = loads(path.read_text(), file=str(path), base_dir=tmp_path)
    with pytest.raises(UserInputError, match=r"is not a readable \.npz file"):
        load_dataset(loaded)
