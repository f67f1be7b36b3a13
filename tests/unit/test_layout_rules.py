"""Rules of the code's shape that a reader relies on: statuses are enums (no status string
outside sweeper/status.py), modules stay short, public modules say what they export."""

from __future__ import annotations

import ast
from pathlib import Path

from sweeper import status
from tests.events import PATIENCE_S

PACKAGE = Path(__file__).resolve().parents[2] / "sweeper"
STATUS_WORDS = {member.value for enum in (status.Status, status.SweepStatus, status.Decision,
                                          status.TrackedStatus) for member in enum}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def string_literals(tree: ast.AST) -> list[ast.Constant]:
    """Every string constant that is not a docstring."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [node for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings]


def test_status_words_are_written_only_in_status_py() -> None:
    found = []
    for path in modules():
        if path == PACKAGE / "status.py":
            continue
        for node in string_literals(ast.parse(path.read_text())):
            if node.value in STATUS_WORDS:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.value!r}")
    assert not found, "status strings outside sweeper/status.py (use the enums):\n" + \
        "\n".join(found)


def test_the_rule_catches_a_status_string(tmp_path: Path) -> None:
    sample = 'def f(row):\n    """failed"""\n    return row["status"] == "failed"\n'
    assert sorted(n.value for n in string_literals(ast.parse(sample))) == ["failed", "status"]


def test_no_module_is_over_400_lines() -> None:
    long = [f"{p.relative_to(PACKAGE.parent)}: {n}" for p in modules()
            if (n := len(p.read_text().splitlines())) > 400]
    assert not long, long


def test_every_module_declares_its_public_names() -> None:
    missing = [str(p.relative_to(PACKAGE.parent)) for p in modules()
               if p.name != "__main__.py" and "__all__" not in p.read_text()]
    assert not missing, missing


def test_a_trial_imports_tensorflow_only_when_it_trains() -> None:
    """A Ray worker unpickles the trainable before the trial sizes TensorFlow's thread pools;
    a TensorFlow import there would also slow every actor start (Tune then reuses one worker
    for all trials instead of running them side by side)."""
    import subprocess
    import sys

    probe = ("import sys, sweeper.trial.trainable, sweeper.driver.engine, sweeper.driver.train; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=PATIENCE_S, check=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_no_folder_or_module_shadows_the_python_api() -> None:
    """Importing sweeper.<name> sets the attribute sweeper.<name>: a folder named like an API
    function would replace sweeper.run (or load, compare) with a module."""
    import sweeper

    children = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
                if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert not children & set(sweeper.__all__), children & set(sweeper.__all__)


def test_every_benchmark_script_imports() -> None:
    """Benchmarks run rarely, so a moved module would break them unseen."""
    import subprocess
    import sys

    root = PACKAGE.parent
    for script in sorted((root / "benchmarks").glob("*.py")):
        probe = ("import importlib.util, sys; sys.path[:0] = ['benchmarks', '.']; "
                 f"spec = importlib.util.spec_from_file_location('bench', {str(script)!r}); "
                 "spec.loader.exec_module(importlib.util.module_from_spec(spec))")
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                timeout=PATIENCE_S, cwd=root)
        assert result.returncode == 0, f"{script.name}: {result.stderr[-800:]}"
