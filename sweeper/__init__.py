"""sweeper: hyperparameter sweeps for Keras CNNs on Ray Tune, Optuna and MLflow.

The notebook API: ``sweeper.run(path)``, ``sweeper.load(name)``, ``sweeper.compare(names)``
and the ``Sweep`` they return, ``sweeper.stop(name)``, ``sweeper.extend(name, trials=N)``,
``sweeper.list_sweeps()`` (``sweeper.api``). Importing sweeper imports none of the heavy
libraries; each is imported when a call needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from sweeper.api import Sweep

from sweeper.version import __version__

__all__ = ["Sweep", "__version__", "compare", "extend", "list_sweeps", "load", "run", "stop"]


def run(path_or_spec: str | Path | dict[str, Any], runs_dir: str | Path | None = None,
        address: str | None = None, quiet: bool = True, **overrides: Any) -> Sweep:
    """Run a sweep and return it (see ``sweeper.api.run``)."""
    from sweeper.api import run as run_sweep

    return run_sweep(path_or_spec, runs_dir, address, quiet, **overrides)


def load(name: str, runs_dir: str | Path | None = None) -> Sweep:
    """Open a sweep by name: ``.trials``, ``.history``, ``.best()``, ``.export()``."""
    from sweeper.api import load as load_sweep

    return load_sweep(name, runs_dir)


def compare(names: list[str], runs_dir: str | Path | None = None) -> pd.DataFrame:
    """Sweeps side by side (see ``sweeper.api.compare``)."""
    from sweeper.api import compare as compare_sweeps

    return compare_sweeps(names, runs_dir)


def stop(name: str, now: bool = False, wait: bool = False,
         runs_dir: str | Path | None = None) -> str:
    """Stop a running sweep from any process (see ``sweeper.api.stop``)."""
    from sweeper.api import stop as stop_sweep

    return stop_sweep(name, now=now, wait=wait, runs_dir=runs_dir)


def extend(name: str, trials: int | None = None, time_limit: float | str | None = None,
           runs_dir: str | Path | None = None, **options: Any) -> Sweep:
    """More trials or time for a running or ended sweep (see ``sweeper.api.extend``)."""
    from sweeper.api import extend as extend_sweep

    return extend_sweep(name, trials, time_limit, runs_dir, **options)


def list_sweeps(runs_dir: str | Path | None = None) -> pd.DataFrame:
    """Every sweep in the runs dir, a row each (see ``sweeper.api.list_sweeps``)."""
    from sweeper.api import list_sweeps as sweeps

    return sweeps(runs_dir)


def __getattr__(name: str) -> Any:
    if name == "Sweep":
        from sweeper.api import Sweep

        return Sweep
    raise AttributeError(f"module 'sweeper' has no attribute {name!r}")
