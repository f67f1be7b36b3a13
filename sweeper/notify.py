"""How the library tells its user something without printing: a ``Notifier`` passed in.

The command line passes one that prints; notebooks get ``LogNotifier`` (Python logging),
so the library itself never writes to stdout.
"""

from __future__ import annotations

import logging
from typing import Protocol

__all__ = ["LogNotifier", "Notifier"]


class Notifier(Protocol):
    def note(self, text: str) -> None:
        """Something worth a line: what a sweep will do, where its outputs go."""

    def warn(self, text: str) -> None:
        """Something the user should act on; the work goes on."""


class LogNotifier:
    """Notes and warnings as records of the ``sweeper`` logger."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("sweeper")

    def note(self, text: str) -> None:
        self.logger.info(text)

    def warn(self, text: str) -> None:
        self.logger.warning(text)
