"""``sweeper stop`` and ``sweeper extend`` of a running sweep: a request to its driver
(``store.requests``), addressed to the driver the heartbeat names, and its answer awaited.
Refusals are bad input (exit 2) and change nothing the sweep records."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sweeper.control.extension import check_amounts, grid_overrun, grid_trials, started_trials
from sweeper.errors import UserInputError
from sweeper.search.space import planned_trials
from sweeper.status import DriverPhase, DriverState, SweepStatus
from sweeper.store.requests import (
    Answer,
    RequestKind,
    SteeringRequest,
    read_answer,
    submit,
    withdraw,
)
from sweeper.store.specs import load_spec_for
from sweeper.store.sweep_view import SweepView

__all__ = [
    "ENDING_ANSWER",
    "Asked",
    "DriverEnding",
    "ask_driver",
    "extend_request",
    "require_running",
    "stop_request",
    "wait_until_ended",
]

ANSWER_WAIT_S = 60.0
# the driver's answer to requests still waiting once the trials are over
ENDING_ANSWER = ("the sweep's trials had ended; it is finishing (an extend continues it "
                 "once it has ended)")


class DriverEnding(UserInputError):
    """The request came as the sweep's trials ended: it can apply to the ended sweep."""


@dataclass(frozen=True)
class Asked:
    """What the driver answered (``answer`` None: not in time; the request stays queued)."""

    request: SteeringRequest
    answer: Answer | None
    waited_s: float

    def message(self) -> str:
        if self.answer is not None:
            return self.answer.message
        return (f"the driver has not answered in {self.waited_s:.0f} s (it takes requests "
                "between Tune's steps); the request stays queued and applies at its next one")


def require_running(view: SweepView, doing: str) -> None:
    """Bad input unless a driver that reads requests runs the sweep now."""
    name = view.name
    status = view.status
    if status == SweepStatus.CRASHED:
        assert view.heartbeat is not None
        raise UserInputError(
            f"cannot {doing}: sweep {name!r} is marked running but its driver is dead "
            f"({view.heartbeat.describe()}); its state is saved: continue it with "
            f"`sweeper resume {name}`")
    if status != SweepStatus.RUNNING:
        raise UserInputError(f"cannot {doing}: sweep {name!r} is not running (it {status.value})")
    if view.heartbeat is None or not view.meta.steerable:
        raise UserInputError(
            f"cannot {doing}: sweep {name!r} runs without a heartbeat (an older sweeper "
            "started it), so its driver reads no requests; stop it with Ctrl-C in its "
            "terminal, or SIGTERM to the driver's process (its state is saved either way)")


def ask_driver(view: SweepView, request: SteeringRequest, wait_s: float = ANSWER_WAIT_S,
               sleep: Callable[[float], None] = time.sleep) -> Asked:
    """Submit the request and wait for the answer; the driver dying meanwhile withdraws it
    (a later driver would not apply it) and is bad input."""
    folder = view.folder
    submit(folder, request)
    started = time.monotonic()
    while time.monotonic() - started < wait_s:
        answer = read_answer(folder, request.id)
        if answer is not None:
            if not answer.applied:
                error = DriverEnding if answer.message == ENDING_ANSWER else UserInputError
                raise error(f"sweep {view.name!r}: not applied: {answer.message}")
            return Asked(request, answer, time.monotonic() - started)
        current = SweepView.of(folder)
        ended = current.meta.status != SweepStatus.RUNNING
        gone = ended or current.driver == DriverState.DEAD or current.phase in (
            DriverPhase.ENDING, DriverPhase.EXITED)
        if gone and request.id in current.meta.applied_requests:  # applied, not answered
            return Asked(request, Answer(request.id, True, "already applied", time.time()),
                         time.monotonic() - started)
        if gone and withdraw(folder, request.id):
            if current.phase == DriverPhase.ENDING and not ended:
                raise DriverEnding(f"sweep {view.name!r}'s trials ended before the "
                                   "request reached its driver; nothing was changed")
            raise UserInputError(
                f"sweep {view.name!r} {'had ended' if ended else 'lost its driver'} before the "
                "request reached it; nothing was changed"
                + ("" if ended else f": continue it with `sweeper resume {view.name}`"))
        sleep(0.2)
    return Asked(request, read_answer(folder, request.id), time.monotonic() - started)


def stop_request(view: SweepView, now: bool) -> SteeringRequest | str:
    """The request, or what to say instead when there is nothing to stop."""
    require_running(view, "stop it")
    if view.phase == DriverPhase.ENDING:
        return (f"sweep {view.name}'s trials have ended; it is finishing (the best model, "
                "plots, MLflow): nothing to stop")
    assert view.heartbeat is not None
    kind = RequestKind.STOP_NOW if now else RequestKind.STOP
    return SteeringRequest.new(kind, view.heartbeat.driver_id)


def extend_request(view: SweepView, runs_dir: Path, trials: int | None,
                   time_s: float | None) -> SteeringRequest:
    check_amounts(trials, time_s)
    require_running(view, "extend it")
    name = view.name
    if view.stopping is not None:
        raise UserInputError(
            f"sweep {name!r} is stopping ({view.stopping.value}); extend it once it has "
            "ended, which continues the same sweep")
    if view.phase == DriverPhase.ENDING:
        raise DriverEnding(f"sweep {name!r}'s trials have ended and it is finishing")
    spec = load_spec_for(name, runs_dir).spec
    if trials and grid_trials(spec) is not None:  # the driver checks again, with its count
        meta = view.meta
        budget = meta.trial_budget if meta.trial_budget is not None else planned_trials(spec)
        overrun = grid_overrun(spec, budget, started_trials(view.folder, spec), trials)
        if overrun is not None:
            raise UserInputError(f"sweep {name!r}: {overrun}")
    assert view.heartbeat is not None
    return SteeringRequest.new(RequestKind.EXTEND, view.heartbeat.driver_id, trials, time_s)


def wait_until_ended(folder: Path, timeout_s: float | None = None,
                     sleep: Callable[[float], None] = time.sleep) -> SweepView:
    """Until the sweep is no longer running (ended, or its driver died) and its driver has
    let go of it (a new driver may start then)."""
    started = time.monotonic()
    while True:
        view = SweepView.of(folder)
        if view.status != SweepStatus.RUNNING and view.driver != DriverState.ALIVE:
            return view
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            return view
        sleep(0.5)
