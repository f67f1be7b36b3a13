"""One exception tree; each class carries the process exit code the CLI reports.

Code anywhere in sweeper raises one of these; only ``sweeper.cli.main`` turns them into
a message and an exit code, so there is exactly one place that reports errors.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Interrupted", "Problem", "SpecError", "SweepFailed", "SweeperError",
           "UserInputError"]


class SweeperError(Exception):
    """Base of every error sweeper reports to a user (exit code 1: the work failed)."""

    exit_code = 1


class UserInputError(SweeperError):
    """Bad input: a file, a flag, a path, resources the cluster lacks (exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One located complaint about an input file."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class SpecError(UserInputError):
    """A search-space file is invalid; carries every problem found, each with its place."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.column))
        super().__init__("\n".join(str(p) for p in self.problems))


class SweepFailed(SweeperError):
    """The work ran but did not succeed (exit code 1)."""


class Interrupted(SweeperError):
    """Stopped by a signal; exit code 130 for SIGINT, 143 for SIGTERM."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code
