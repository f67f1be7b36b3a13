"""sweeper: hyperparameter sweeps for Keras CNNs on Ray Tune, Optuna and MLflow.

``sweeper.run(path)`` and ``sweeper.load(name)`` are the notebook API (``sweeper.api``);
they import the heavy libraries only when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sweeper.api import Sweep

__version__ = "0.1.0"


def run(path_or_spec: str | Path | dict[str, Any], runs_dir: str | Path | None = None,
        address: str | None = None, quiet: bool = True, **overrides: Any) -> Sweep:
    """Run a sweep and return it (see ``sweeper.api.run``)."""
    from sweeper.api import run as run_sweep

    return run_sweep(path_or_spec, runs_dir, address, quiet, **overrides)


def load(name: str, runs_dir: str | Path | None = None) -> Sweep:
    """Open a sweep by name: ``.trials``, ``.history``, ``.best()``, ``.export()``."""
    from sweeper.api import load as load_sweep

    return load_sweep(name, runs_dir)
