"""``sweeper extend``: the new budget an extension gives, checked before anything is
written (a zero or negative extension, a failed sweep, an exhausted grid are bad input)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from sweeper.config.schema import SweepSpec
from sweeper.errors import UserInputError
from sweeper.search.space import planned_trials
from sweeper.status import SweepStatus
from sweeper.store.meta import SweepMeta
from sweeper.store.study import issued_trials, open_study

__all__ = ["Extension", "check_amounts", "grid_overrun", "grid_trials", "plan_extension",
           "started_trials"]


@dataclass(frozen=True)
class Extension:
    """An ended sweep's new budget: ``trials`` in all, and ``more_time_s`` more run time
    (applied once the driver has restored the time spent, which only it knows exactly)."""

    trials: int
    more_time_s: float | None
    started: int  # trials started before it

    def describe(self) -> str:
        more = "" if self.more_time_s is None else \
            f", and {self.more_time_s:.0f} s more run time"
        return (f"{self.trials - self.started} more trial(s) ({self.trials} in all, "
                f"{self.started} started before){more}")


def check_amounts(trials: int | None, time_s: float | None) -> None:
    """At least one of the two, each above zero."""
    if trials is None and time_s is None:
        raise UserInputError("extend needs --trials N (more trials), --time-limit D (more "
                             "time), or both")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int)
                               or trials < 1):
        raise UserInputError(f"--trials: an extension is a whole number of trials above 0, "
                             f"got {trials!r}")
    if time_s is not None and not (isinstance(time_s, int | float)
                                   and math.isfinite(time_s) and time_s > 0):
        raise UserInputError(f"--time-limit: an extension is a time above 0 (90s, 30m, "
                             f"2h), got {time_s!r}")


def grid_trials(spec: SweepSpec) -> int | None:
    """A grid's size (the most trials it can have), else None."""
    return planned_trials(spec) if spec.search.algorithm == "grid" else None


def grid_overrun(spec: SweepSpec | int | None, budget: int, started: int,
                 more: int) -> str | None:
    """Why ``more`` trials beyond a budget of ``budget`` do not fit the sweep's grid (its
    spec, or its size), or None when they fit or it searches no grid. The one rule for the
    client's checks and the running driver's."""
    grid = grid_trials(spec) if isinstance(spec, SweepSpec) else spec
    if grid is None or budget + more <= grid:
        return None
    left = grid - budget
    if left > 0:
        return (f"the grid has {grid} points and the budget holds {budget} of them: at "
                f"most {left} more (--trials {left})")
    if budget > started:
        return (f"the grid's {grid} points are all in the budget already ({started} "
                "started): the sweep tries the rest")
    return (f"the grid's {grid} points were all tried: the search space is exhausted. "
            "Widen the space in a new sweep (`sweeper run FILE --name NEW`)")


def started_trials(folder: Path, spec: SweepSpec) -> int:
    """Trials the sweep has started (its study's count; 0 before the study exists)."""
    try:
        return issued_trials(open_study(folder, spec.name))
    except KeyError:  # no study yet
        return 0


def plan_extension(folder: Path, meta: SweepMeta, spec: SweepSpec, status: SweepStatus,
                   trials: int | None, time_s: float | None) -> Extension:
    """The budget a sweep that is not running continues with: ``trials`` more than it
    started, ``time_s`` more run time than it spent (or than its limit, when later)."""
    check_amounts(trials, time_s)
    name = meta.name
    if status == SweepStatus.FAILED:
        raise UserInputError(
            f"sweep {name!r} failed (see `sweeper status {name}`); extend continues sweeps "
            "that finished or were stopped. Fix the cause and start it again with "
            "`sweeper run FILE --name NEW`")
    if not meta.steerable:
        raise UserInputError(
            f"sweep {name!r} was started by an older version of sweeper, whose saved state "
            "cannot take a new budget; start a new sweep with `sweeper run FILE --name NEW`"
            " (--warm-start " + name + " starts its study from this one's trials)")
    started = started_trials(folder, spec)
    budget = meta.trial_budget if meta.trial_budget is not None else planned_trials(spec)
    # an ended sweep gets N more than it ran; an interrupted or crashed one is still owed
    # the rest of its budget, and N more
    owed = budget if status in (SweepStatus.INTERRUPTED, SweepStatus.CRASHED) else started
    base = max(owed, started)
    total = base + trials if trials is not None else max(budget, started)
    overrun = grid_overrun(spec, base, started, trials or 0)
    if overrun is not None:
        raise UserInputError(f"sweep {name!r}: {overrun}"
                             + (f"; `sweeper resume {name}` runs the rest"
                                if base > started else ""))
    if trials is None and total <= started:
        raise UserInputError(
            f"sweep {name!r} started all {started} trials of its budget; give --trials N "
            "to run more")
    limit = spec.budget.time_limit
    if time_s is None and limit is not None and (meta.spent_s or 0.0) >= limit:
        raise UserInputError(
            f"sweep {name!r} ended at its time limit ({limit:.0f} s of run time); give "
            "--time-limit D too, for D more")
    return Extension(total, time_s, started)
