"""Parsing the command line's values: argparse types that name what was expected, the runs
folder, and a write check before any work."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from pathlib import Path

from sweeper.config.schema import NAME_PATTERN, parse_duration
from sweeper.errors import UserInputError

__all__ = ["check_writable", "duration", "non_negative_float", "non_negative_int",
           "positive_float", "positive_int", "runs_dir", "sweep_name"]


def runs_dir(value: str | None) -> Path:
    """``--runs-dir``, else ``SWEEPER_RUNS_DIR``, else ``./runs``."""
    return Path(value or os.environ.get("SWEEPER_RUNS_DIR") or "runs")


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected a number of at least {minimum}, got {value}")
        return value

    return parse


positive_int = _int_at_least(1)
non_negative_int = _int_at_least(0)


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of at least 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number above 0, got 0")
    return value


def duration(text: str) -> float:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    assert value is not None
    return value


def sweep_name(text: str) -> str:
    if not re.match(NAME_PATTERN, text):
        raise argparse.ArgumentTypeError(
            f"expected letters, digits, '.', '_' or '-' (no '/' or '..'), got {text!r}")
    return text



def check_writable(folder: Path) -> None:
    """Fail before any work when outputs cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".sweeper-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UserInputError(f"cannot write to {folder}: {exc.strerror or exc}; choose another "
                             "folder with --runs-dir or --output") from None


