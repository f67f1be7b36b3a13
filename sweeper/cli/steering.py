"""The commands that steer and watch sweeps from any terminal: ``stop``, ``extend``,
``list`` and ``status --watch``. None imports Ray or TensorFlow, but ``extend`` of a sweep
that ended, which continues it in this process as its driver."""

from __future__ import annotations

import argparse
import sys

from sweeper.cli.args import runs_dir
from sweeper.cli.show import PrintNotifier, print_outcome

__all__ = ["cmd_extend", "cmd_list", "cmd_stop", "cmd_watch"]

CLEAR_SCREEN = "\033[H\033[J"


def cmd_stop(args: argparse.Namespace) -> int:
    from sweeper.api import stop

    print(f"sweep {args.name}: " + stop(args.name, now=args.now, wait=args.wait,
                                        runs_dir=runs_dir(args.runs_dir)))
    return 0


def cmd_extend(args: argparse.Namespace) -> int:
    from sweeper.api import extend_outcome

    folder = runs_dir(args.runs_dir)
    outcome = extend_outcome(args.name, folder, args.trials, args.time_limit, args.address,
                             args.quiet, PrintNotifier())
    if not isinstance(outcome, str):  # the sweep continued here
        print_outcome(outcome, folder)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from sweeper.control.listing import sweep_list
    from sweeper.report.results import render

    folder = runs_dir(args.runs_dir)
    frame = sweep_list(folder)
    if frame.empty and args.format == "table":
        print(f"no sweeps in {folder}")
        return 0
    print(render(frame, args.format))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    """``status --watch``: frames until the sweep ends; exit 1 when its driver died."""
    from sweeper.control.watch import live_frames
    from sweeper.errors import SweepFailed
    from sweeper.status import SweepStatus

    tty = sys.stdout.isatty()
    view = None
    for frame, current in live_frames(args.name, runs_dir(args.runs_dir), args.every):
        print((CLEAR_SCREEN if tty else "") + frame + ("" if tty else "\n"), flush=True)
        view = current
    assert view is not None
    if view.status == SweepStatus.CRASHED:
        raise SweepFailed(f"sweep {args.name}'s driver died; continue it with "
                          f"`sweeper resume {args.name}`")
    print(f"sweep {args.name} {view.status.value}")
    return 0
