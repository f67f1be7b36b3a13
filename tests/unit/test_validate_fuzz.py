"""`sweeper validate` on generated YAML and on mutations of the example files: exit 0 or 2,
never a traceback, in bounded memory (issue 13, item 15). How long validate takes is a
benchmark's question (benchmarks/validate_time.py), not a clock in a test.

Each example runs the command in-process (``sweeper.cli.main``), so a few hundred of them
fit in seconds on two cores.
"""

from __future__ import annotations

import contextlib
import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweeper.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "search_spaces").glob("*.yaml"))
# a hypermodel's validate imports TensorFlow and builds its model (README: "What runs
# where"), seconds by design: the fuzz mutates the files whose validate stays light
LIGHT_EXAMPLES = [p for p in EXAMPLES if "hypermodel" not in p.read_text()]
MAX_BYTES = 200 * 2**20  # Python allocations at the peak of one validate

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

# Values YAML writers get wrong: non-finite and huge numbers, YAML 1.1 words, aliases.
SCALARS = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40), st.booleans(), st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([".inf", "-.inf", ".nan", "1e-3", "1.0e-320", "on", "no", "yes", "off",
                     "~", "adam", "same", "valid", "max", "grid", "tpe", "asha", "optuna_sha",
                     "digits", "npz", "directory", "30m", "soon", "'1'", "true", "x.npy"]),
    st.text(max_size=12),
)
KEYS = st.sampled_from([
    "name", "data", "space", "budget", "search", "scheduler", "resources", "model", "objective",
    "early_stopping", "failures", "tracking", "source", "path", "image_size",
    "validation_split", "test_split", "trials", "max_epochs", "time_limit", "algorithm", "kind",
    "reduction_factor", "grace_period", "cpus_per_trial", "gpus_per_trial", "depth", "filters",
    "dropout", "learning_rate", "optimizer", "batch_size", "choice", "int", "float", "step",
    "log", "when", "value", "on", "no", "yes", "lr@block1", "a" * 260,
])
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=5),
                               st.dictionaries(KEYS, children, max_size=6)),
    max_leaves=30,
)


def _flow(value: object) -> str:
    """YAML text for generated data; strings from the list are written as they are, so
    `.inf`, `on` and `1e-3` reach the loader as YAML spells them."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, str):
        return value if value and value.replace(".", "").replace("-", "").isalnum() \
            else yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def validate(path: Path) -> tuple[int, str]:
    """Exit code and stderr of `sweeper validate PATH`; asserts the memory bound."""
    out, err = io.StringIO(), io.StringIO()
    tracemalloc.start()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["validate", str(path)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code in (0, 2), f"exit {code}:\n{err.getvalue()}"
    assert "Traceback" not in err.getvalue()
    assert peak < MAX_BYTES, f"validate peaked at {peak / 2**20:.0f} MiB"
    if code == 2:
        assert err.getvalue().startswith(str(path)) or err.getvalue().startswith("error: "), \
            err.getvalue()
    return code, err.getvalue()


@pytest.fixture(scope="module", autouse=True)
def fewer_architectures() -> Iterator[None]:
    """Fifty sampled architectures, not 500: what is fuzzed is the input, not the sampling."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sweeper.cli.validate.FEASIBILITY_SAMPLES", 50)
        yield


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the examples' relative data.path (data/shapes) finds the shipped images."""
    path = tmp_path_factory.mktemp("fuzz")
    if (ROOT / "search_spaces" / "data").exists():
        (path / "data").symlink_to(ROOT / "search_spaces" / "data")
    for module in (ROOT / "search_spaces").glob("*.py"):  # a hypermodel's module beside it
        (path / module.name).symlink_to(module)
    return path


@FUZZ
@given(document=DOCUMENTS)
def test_generated_documents(document: object, folder: Path) -> None:
    path = folder / "generated.yaml"
    path.write_text(_flow(document) + "\n")
    validate(path)


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    """An example file with a few lines replaced, duplicated, removed or re-indented, or a
    value swapped for an awkward one."""
    lines = draw(st.sampled_from(LIGHT_EXAMPLES)).read_text().splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["value", "drop", "copy", "indent", "key", "alias"]))
        line = lines[i]
        head, colon, _ = line.partition(":")
        if action == "value" and colon:
            lines[i] = f"{head}: {_flow(draw(DOCUMENTS))}"
        elif action == "drop":
            del lines[i]
        elif action == "copy":
            lines.insert(i, line)
        elif action == "indent":
            lines[i] = " " * draw(st.integers(0, 6)) + line.lstrip()
        elif action == "key" and colon:
            indent = head[: len(head) - len(head.lstrip())]
            lines[i] = f"{indent}{draw(KEYS)}:{line[len(head) + 1:]}"
        elif action == "alias" and colon:
            lines[i] = f"{head}: &x [*x]"
    return "\n".join(lines) + "\n"


@pytest.mark.skipif(not EXAMPLES, reason="no example files")
@FUZZ
@given(text=mutated_example())
def test_mutated_examples(text: str, folder: Path) -> None:
    path = folder / "mutated.yaml"
    path.write_text(text)
    validate(path)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_the_examples_themselves_pass(example: Path, folder: Path) -> None:
    path = folder / example.name
    path.write_text(example.read_text())
    code, err = validate(path)
    assert code == 0, err
