"""Where a sweep starts: the defaults' trial, ``search.start`` points, a warm start from an
earlier sweep, and the checkpoint and worker-recycling policies a trial runs under."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from sweeper import config as spec_module
from sweeper.errors import SpecError
from sweeper.models.cnn.kind import CnnKind
from sweeper.pruning.recycling import WorkerRecycler
from sweeper.result import Placement, TrialResult
from sweeper.search.space import suggest
from sweeper.search.start import default_point, start_points, warm_start
from sweeper.status import Status
from sweeper.store.study import WARM_START_ATTR
from sweeper.trial.checkpoint import CheckpointPolicy

SPACE = """\
search: {algorithm: tpe, start: [{learning_rate: 0.01, optimizer: sgd, momentum: 0.5}]}
space:
  optimizer: {choice: [sgd, adam]}
  momentum: {float: [0.5, 0.99], when: {optimizer: sgd}}
  learning_rate: {float: [1.0e-4, 3.0e-2], log: true}
  filters: {choice: [8, 48, 64]}
  dropout: {float: [0.3, 0.5]}
  depth: {int: [3, 5], step: 2}
  batch_norm: {choice: [false, true]}
  dense_units: 0
"""


def test_the_first_point_is_the_kinds_defaults_within_the_space() -> None:
    spec = spec_module.loads(SPACE).spec
    first, given = start_points(spec, CnnKind().defaults())
    # adam and 1e-3 are in the space; 32 filters is not: the nearest choice; dropout 0.25
    # is below the range: its end; depth 2 is off the grid of 3, 5: the nearest step
    assert first == {"optimizer": "adam", "learning_rate": 1.0e-3, "filters": 48,
                     "dropout": 0.3, "depth": 3, "batch_norm": True}
    assert "momentum" not in first  # inactive for adam: never asked of Optuna
    assert given == {"learning_rate": 0.01, "optimizer": "sgd", "momentum": 0.5}


def test_a_default_beyond_a_stepped_range_takes_its_last_grid_point() -> None:
    spec = spec_module.loads("space: {filters: {int: [8, 30], step: 4}}\n").spec
    assert default_point(spec.space, CnnKind().defaults()) == {"filters": 28}


def test_without_defaults_the_middle_of_each_range_and_the_first_choice() -> None:
    spec = spec_module.loads(SPACE).spec
    point = default_point(spec.space, {})
    assert point["optimizer"] == "sgd" and point["momentum"] == pytest.approx(0.745)
    assert point["learning_rate"] == pytest.approx(math.sqrt(1.0e-4 * 3.0e-2))
    assert point["depth"] == 3 and point["batch_norm"] is False


def test_optuna_asks_the_enqueued_points_first_then_samples() -> None:
    spec = spec_module.loads(SPACE).spec
    study = optuna.create_study(direction="maximize")
    for point in start_points(spec, CnnKind().defaults()):
        study.enqueue_trial(point)
    asked = [suggest(study.ask(), spec.space) for _ in range(3)]
    assert asked[0]["filters"] == 48 and asked[0]["optimizer"] == "adam"
    assert asked[1]["optimizer"] == "sgd" and asked[1]["momentum"] == 0.5
    assert asked[1]["filters"] in (8, 48, 64)  # left out of the point: sampled
    assert asked[2] not in asked[:2]


def test_defaults_first_off_and_grid_search_enqueue_nothing_of_their_own() -> None:
    off = spec_module.loads("search: {defaults_first: false}\nspace: {depth: {int: [1, 3]}}\n")
    assert start_points(off.spec, CnnKind().defaults()) == []
    grid = spec_module.loads("search: {algorithm: grid}\nspace: {depth: {int: [1, 3]}}\n")
    assert start_points(grid.spec, CnnKind().defaults()) == []


@pytest.mark.parametrize(("point", "line", "words"), [
    ("{learnin_rate: 0.01}", 4, "did you mean 'learning_rate'"),
    ("{learning_rate: 0.5}", 4, "expected a value in [0.0001, 0.03], got 0.5"),
    ("{filters: 16}", 4, "expected one of 8, 48, 64, got 16"),
    ("{depth: 4}", 4, "plus a multiple of the step 2"),
    ("{dense_units: 64}", 4, "the space fixes it at 0"),
])
def test_a_start_point_outside_the_space_is_located(point: str, line: int,
                                                    words: str) -> None:
    body = SPACE.split("\n", 1)[1]
    text = f"search:\n  start:\n    - {{depth: 3}}\n    - {point}\n{body}"
    with pytest.raises(SpecError) as caught:
        spec_module.loads(text, file="s.yaml")
    problems = caught.value.problems
    assert len(problems) == 1 and words in problems[0].message, problems
    assert problems[0].line == line


def test_grid_search_refuses_start_points() -> None:
    with pytest.raises(SpecError, match="grid search runs every point"):
        spec_module.loads("search: {algorithm: grid, start: [{depth: 1}]}\n"
                          "space: {depth: {int: [1, 3]}}\n")


def _old(number: int, lr: float, filters: int, state: TrialState) -> optuna.trial.FrozenTrial:
    from optuna.distributions import CategoricalDistribution

    trial = create_trial(
        state=state, value=0.9 if state == TrialState.COMPLETE else None,
        params={"learning_rate": lr, "filters": filters},
        distributions={"learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
                       "filters": CategoricalDistribution([4, 8, 16])},
        intermediate_values={1: 0.5, 2: 0.9 if state == TrialState.COMPLETE else 0.6},
        user_attrs={"tune_trial_id": f"t{number}"})
    trial.number = number
    return trial


def test_a_warm_start_keeps_the_trials_the_new_space_allows() -> None:
    old = spec_module.loads("space:\n  learning_rate: {float: [1.0e-4, 1.0e-1], log: true}\n"
                            "  filters: {choice: [4, 8, 16]}\n  depth: 3\n").spec
    new = spec_module.loads("space:\n  learning_rate: {float: [1.0e-4, 3.0e-2], log: true}\n"
                            "  filters: {choice: [8, 16]}\n  depth: {int: [2, 3]}\n").spec
    trials = [_old(0, 1e-3, 8, TrialState.COMPLETE), _old(1, 5e-2, 8, TrialState.COMPLETE),
              _old(2, 2e-3, 4, TrialState.PRUNED), _old(3, 2e-3, 16, TrialState.PRUNED),
              _old(4, 2e-3, 16, TrialState.FAIL)]
    warm = warm_start("old", old, trials, new, CnnKind().defaults())
    kept = {t.user_attrs["warm_start_number"]: t for t in warm.trials}
    assert sorted(kept) == [0, 3]  # 1: lr above the range, 2: 4 filters, 4: failed
    assert kept[0].params == {"learning_rate": 1e-3, "filters": 8, "depth": 3}  # was fixed
    assert kept[0].value == 0.9 and kept[3].state == TrialState.PRUNED
    assert kept[3].intermediate_values == {1: 0.5, 2: 0.6}
    assert all(t.user_attrs[WARM_START_ATTR] == "old" for t in warm.trials)
    assert sum(warm.dropped.values()) == 2
    assert "2 finished trial(s)" in warm.note() and "2 left out" in warm.note()
    study = optuna.create_study(direction="maximize")
    study.add_trials(warm.trials)  # Optuna takes them as they are
    assert len(study.trials) == 2


def test_a_warm_start_carries_several_objectives_and_leaves_infeasible_trials_out() -> None:
    from optuna.distributions import CategoricalDistribution

    text = ("objective: [{metric: val_accuracy}, {metric: param_count}]\n"
            "space: {filters: {choice: [4, 8, 16]}}\n")
    old, new = spec_module.loads(text).spec, spec_module.loads(text).spec

    def told(number: int, values: list[float], attrs: dict[str, Any],
             over: float = 0.0) -> optuna.trial.FrozenTrial:
        trial = create_trial(state=TrialState.COMPLETE, values=values,
                             params={"filters": 8},
                             distributions={"filters": CategoricalDistribution([4, 8, 16])},
                             user_attrs={"tune_trial_id": f"t{number}", **attrs},
                             constraints={"max_params": over})
        trial.number = number
        return trial

    trials = [told(0, [0.9, 1200.0], {}),
              told(1, [-1.0e9, 1.0e9], {"infeasible": "over constraints.max_params"}, 0.4),
              told(2, [0.7, 900.0], {}, 0.2)]  # over a limit, told before INFEASIBLE_ATTR
    warm = warm_start("old", old, trials, new, CnnKind().defaults())
    assert [t.user_attrs["warm_start_number"] for t in warm.trials] == [0]
    assert warm.trials[0].values == [0.9, 1200.0]
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.add_trials(warm.trials)
    assert study.best_trials[0].values == [0.9, 1200.0]


def _result(epoch: int, best_epoch: int, status: Status = Status.RUNNING) -> TrialResult:
    return TrialResult(number=0, seed=0, epoch=epoch, status=status, objective=0.5,
                       best_objective=0.5, best_epoch=best_epoch)


def test_checkpoints_at_a_new_best_the_end_and_after_the_interval() -> None:
    policy = CheckpointPolicy(interval_s=60)
    assert policy.due(_result(3, 3), 1.0)  # a new best
    assert not policy.due(_result(4, 3), 59.0)
    assert policy.due(_result(4, 3), 60.0)  # the interval ran out
    assert policy.due(_result(4, 3, Status.STOPPED_EARLY), 1.0)
    assert policy.due(_result(4, 3, Status.COMPLETED), 1.0)
    assert CheckpointPolicy(interval_s=0).due(_result(4, 3), 0.0)
    assert CheckpointPolicy(interval_s=60, every_epoch=True).due(_result(4, 3), 0.0)
    spec = spec_module.loads("failures: {checkpoint_interval: 2m}\n").spec
    assert spec.failures.checkpoint_interval == 120.0
    assert spec_module.loads("failures: {checkpoint_interval: 0}\n").spec \
        .failures.checkpoint_interval == 0.0
    with pytest.raises(SpecError, match="checkpoint_interval"):
        spec_module.loads("failures: {checkpoint_interval: -3}\n")


def _tune_result(pid: int, rss: float) -> dict[str, Any]:
    return TrialResult(number=0, seed=0, epoch=1, status=Status.COMPLETED, objective=0.5,
                       placement=Placement(pid=pid), rss_mb=rss).to_tune()


def test_a_worker_that_grew_past_the_bound_is_not_cached_for_reuse() -> None:
    # Tune caches a stopping trial's actor only while it is among _started_actors
    trial, actor = object(), object()
    controller = SimpleNamespace(_trial_to_actor={trial: actor}, _started_actors={actor})
    recycler = WorkerRecycler(bound_mb=100)
    first = TrialResult.from_tune(_tune_result(7, 900.0))
    assert first is not None
    recycler.observe(first)
    assert not recycler.retire_if_grown(controller, trial, _tune_result(7, 990.0))
    assert actor in controller._started_actors
    assert recycler.retire_if_grown(controller, trial, _tune_result(7, 1001.0))
    assert actor not in controller._started_actors and recycler.retired == [7]
    never = WorkerRecycler(bound_mb=None)
    never.observe(first)
    assert not never.grown(_tune_result(7, 5000.0))


def test_the_tune_internals_recycling_relies_on_exist() -> None:
    import inspect

    from ray.tune.execution.tune_controller import TuneController

    source = inspect.getsource(TuneController._maybe_cache_trial_actor)
    assert "self._started_actors" in source
    assert "_trial_to_actor" in inspect.getsource(TuneController)
