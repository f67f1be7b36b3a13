"""The ``sweeper`` command: the only place that turns errors into messages and exit codes."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from sweeper.cli.parser import build_parser
from sweeper.errors import SpecError, SweeperError
from sweeper.status import SweepStatus

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run one command, report any error once, return the exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ chatter out
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    debug = os.environ.get("SWEEPER_DEBUG") == "1"
    try:
        return handler(args)
    except SweeperError as exc:
        if debug:
            traceback.print_exc()
        if isinstance(exc, SpecError):
            for problem in exc.problems:
                print(problem, file=sys.stderr)
        else:
            print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(SweepStatus.INTERRUPTED.value, file=sys.stderr)
        return 130

