"""A sweep's folder, ``runs/<name>/``: the files in it and how a name finds it."""

from __future__ import annotations

import re
from pathlib import Path

from sweeper.config.schema import NAME_MAX_LENGTH, NAME_PATTERN
from sweeper.errors import UserInputError

__all__ = ["BEST_MODEL", "DECISIONS_FILE", "DISCOVERED_SPACE", "DRIVER_LOCK", "HEARTBEAT_FILE",
           "HISTORY_CSV", "REQUESTS_DIR", "STUDY_FILE", "SWEEP_JSON", "SWEEP_YAML", "TRIALS_CSV",
           "existing_sweep", "sweep_folder"]

SWEEP_JSON = "sweep.json"  # SweepMeta: what resume needs
SWEEP_YAML = "sweep.yaml"  # the search-space file as it was at the start
DISCOVERED_SPACE = "discovered_space.yaml"  # a hypermodel's space, as discovered at the start
STUDY_FILE = "optuna.journal"  # the Optuna study
DECISIONS_FILE = "decisions.jsonl"  # scheduler decisions
TRIALS_CSV = "trials.csv"
HISTORY_CSV = "history.csv"
BEST_MODEL = "best_model.keras"
HEARTBEAT_FILE = "heartbeat.json"  # the running driver: who, where, when it last beat
DRIVER_LOCK = "driver.lock"  # held by the driver of the sweep on this machine
REQUESTS_DIR = "requests"  # stop and extend requests to the driver, and its answers


def sweep_folder(runs_dir: Path, name: str) -> Path:
    """The folder of a sweep's name; a name no sweep can have is bad input before any path
    is built from it (a NUL byte, 300 characters)."""
    if not re.fullmatch(NAME_PATTERN, name):
        if "/" in name or name.startswith(".."):
            raise UserInputError(f"the sweep name {name!r} would write outside {runs_dir}")
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise UserInputError(f"no sweep can be named {shown!r}: sweep names are letters, "
                             f"digits, '.', '_' or '-', at most {NAME_MAX_LENGTH} characters")
    folder = (runs_dir / name).resolve()
    if runs_dir.resolve() not in folder.parents:
        raise UserInputError(f"the sweep name {name!r} would write outside {runs_dir}")
    return folder


def existing_sweep(runs_dir: Path, name: str) -> Path:
    """The folder of a sweep that exists, else bad input naming the sweeps there."""
    folder = sweep_folder(runs_dir, name)
    if not (folder / SWEEP_JSON).exists():
        known = sorted(p.parent.name for p in runs_dir.glob(f"*/{SWEEP_JSON}"))
        raise UserInputError(f"no sweep named {name!r} in {runs_dir}"
                             + (f"; sweeps there: {', '.join(known)}" if known else ""))
    return folder
