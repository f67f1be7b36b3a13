"""Where a sweep starts: the model kind's defaults within the space, the user's own
``search.start`` points, and an earlier sweep's finished trials (``--warm-start``).

The first two become enqueued Optuna trials (asked before the sampler samples), the third
becomes finished trials of the new study, so the sampler starts from what was learnt.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sweeper.config.params import (
    AnyParam,
    ChoiceParam,
    FixedParam,
    IntParam,
    condition_order,
    refusal,
)
from sweeper.config.schema import SweepSpec
from sweeper.search.space import active, config_of, distribution
from sweeper.store.study import INFEASIBLE_ATTR, WARM_START_ATTR

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

__all__ = ["WARM_START_ATTR", "WarmStart", "default_point", "start_points", "warm_start"]



def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _within(param: AnyParam, default: Any) -> Any:
    """``default`` when the parameter allows it, else the allowed value nearest to it (or
    the middle of the range, the first choice, when there is no numeric default)."""
    if default is not None and refusal(param, default) is None:
        return default
    if isinstance(param, ChoiceParam):
        numbers = [c for c in param.choice if _number(c)]
        if _number(default) and numbers:
            return min(numbers, key=lambda c: abs(c - default))
        return param.choice[0]
    assert not isinstance(param, FixedParam)
    low, high = param.range_
    if _number(default):
        value = min(max(float(default), low), high)
    else:
        value = math.sqrt(low * high) if param.log else (low + high) / 2
    if param.step:
        top = low + math.floor((high - low) / param.step + 1e-9) * param.step  # on the grid
        value = min(low + round((value - low) / param.step) * param.step, top)
    return round(value) if isinstance(param, IntParam) else value


def default_point(space: dict[str, AnyParam], defaults: dict[str, Any]) -> dict[str, Any]:
    """The searched values of the defaults' configuration, conditions followed."""
    config: dict[str, Any] = {}
    point: dict[str, Any] = {}
    for name in condition_order(space):
        param = space[name]
        if not active(param, config):
            continue
        if isinstance(param, FixedParam):
            config[name] = param.value
            continue
        config[name] = point[name] = _within(param, defaults.get(name))
    return point


def start_points(spec: SweepSpec, defaults: dict[str, Any]) -> list[dict[str, Any]]:
    """The points enqueued at a sweep's start: the defaults' point (KerasTuner's first
    trial), then the file's ``search.start`` in order (grid search runs its own grid)."""
    if spec.search.algorithm == "grid":
        return []
    points = []
    if spec.search.defaults_first and any(
            not isinstance(p, FixedParam) for p in spec.space.values()):
        points.append(default_point(spec.space, defaults))
    return points + [dict(point) for point in spec.search.start if point not in points]


@dataclass
class WarmStart:
    """An earlier sweep's trials as trials of the new study, and what did not fit."""

    source: str
    trials: list[FrozenTrial] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)  # why -> trials

    def note(self) -> str:
        text = f"warm start: {len(self.trials)} finished trial(s) of sweep {self.source!r}"
        if self.dropped:
            reasons = "; ".join(f"{n} with {why}" for why, n in self.dropped.most_common(3))
            text += (f"; {sum(self.dropped.values())} left out, their values lie outside "
                     f"this space ({reasons})")
        return text


def warm_start(source: str, old_spec: SweepSpec, old_trials: list[FrozenTrial],
               spec: SweepSpec, defaults: dict[str, Any]) -> WarmStart:
    """The old sweep's COMPLETE and PRUNED trials mapped onto ``spec``'s space: values
    the old space fixed (or left at the kind's default) count as the trial's values, and a
    trial with a value the new space does not allow is left out."""
    from optuna.trial import TrialState, create_trial

    from sweeper.search.searcher import CONSTRAINT

    result = WarmStart(source)
    for old in old_trials:
        if old.state not in (TrialState.COMPLETE, TrialState.PRUNED) \
                or "tune_trial_id" not in old.user_attrs or INFEASIBLE_ATTR in old.user_attrs \
                or any(value > 0 for value in old.constraints.values()):
            continue  # failed, infeasible (before or once launched) or never run
        try:
            ran = {**defaults, **config_of(old_spec.space, old.params)}
        except KeyError:
            result.dropped["a parameter the earlier space no longer names"] += 1
            continue
        params, dists, why = _map(spec.space, ran)
        if why is not None:
            result.dropped[why] += 1
            continue
        result.trials.append(create_trial(
            state=old.state, values=old.values if old.state == TrialState.COMPLETE else None,
            params=params, distributions=dists,
            intermediate_values=dict(old.intermediate_values),
            user_attrs={WARM_START_ATTR: source, "warm_start_number": old.number},
            constraints={CONSTRAINT: 0.0}))
    return result


def _map(space: dict[str, AnyParam], ran: dict[str, Any]
         ) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    config: dict[str, Any] = {}
    params: dict[str, Any] = {}
    dists: dict[str, Any] = {}
    for name in condition_order(space):
        param = space[name]
        if not active(param, config):
            continue
        if name not in ran:
            return {}, {}, f"no value for {name}"
        value = ran[name]
        why = refusal(param, value)
        if why is not None:
            return {}, {}, f"{name} {value!r} ({why})"
        config[name] = value
        dist = distribution(param)
        if dist is not None:
            params[name], dists[name] = value, dist
    return params, dists, None
