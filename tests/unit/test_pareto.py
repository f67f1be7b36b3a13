"""The Pareto front and the pick rules (store.pareto), on hand-built trials tables: who is on
the front, in which order, and which trial each rule names; a failed or infeasible trial is
never on it. No Ray, no TensorFlow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweeper.config.load import loads
from sweeper.errors import UserInputError
from sweeper.objective import Objective, Pick
from sweeper.status import Status
from sweeper.store.best import best_trial
from sweeper.store.pareto import (
    dominated,
    front_objectives,
    pareto_front,
    pick_trial,
    sweep_best,
    sweep_pick,
)
from tests.sweep_on_disk import PARETO_FRONT, PARETO_SPACE, PARETO_TRIALS, TRIALS

ACC = Objective.of("val_accuracy", "max")
PARAMS = Objective.of("param_count", "min")
LOSS = Objective.of("val_loss", "min")
TWO = (ACC, PARAMS)


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Trials rows with the columns best/pareto read; number = position unless given."""
    full = [{"trial_id": f"t{i}", "number": i, "status": "completed", "best_epoch": 1, **row}
            for i, row in enumerate(rows)]
    return pd.DataFrame(full)


def pareto_table() -> pd.DataFrame:
    return frame([{"status": s.value, "score": v, "param_count": p, "param_depth": d}
                  for s, v, p, d, _ in PARETO_TRIALS])


def numbers(trials: pd.DataFrame) -> list[int]:
    return [int(n) for n in trials["number"]]


def test_the_front_skips_failed_and_infeasible_trials_and_is_best_first() -> None:
    trials = pareto_table()
    front = pareto_front(trials, TWO)
    assert numbers(front) == PARETO_FRONT == [2, 4, 0]
    assert list(front.columns) == list(trials.columns)  # every column kept
    # trial 1 (failed) and 3 (infeasible) beat every front member on both objectives
    assert trials.loc[1, "score"] > front["score"].max()
    assert trials.loc[3, "param_count"] < front["param_count"].min()


def test_equal_trials_both_stay_and_dominated_ones_go() -> None:
    trials = frame([{"score": 0.9, "param_count": 10}, {"score": 0.9, "param_count": 10},
                    {"score": 0.9, "param_count": 11}, {"score": 0.8, "param_count": 5}])
    assert numbers(pareto_front(trials, TWO)) == [0, 1, 3]  # 2: as good, but larger


def test_a_trial_without_a_value_of_every_objective_is_left_out() -> None:
    trials = frame([{"score": 0.9, "param_count": None}, {"score": 0.8, "param_count": 50},
                    {"score": float("nan"), "param_count": 1}])
    assert numbers(pareto_front(trials, TWO)) == [1]
    assert pareto_front(trials.drop(columns=["param_count"]), TWO).empty
    assert pareto_front(pd.DataFrame(), TWO).empty


def test_directions_and_later_metric_objectives() -> None:
    """val_loss (min) as first objective, a later Keras metric (score_<metric>, max) and the
    mean epoch time (min)."""
    objectives = (LOSS, Objective.of("val_auc", "max"), Objective.of("epoch_seconds", "min"))
    trials = frame([{"score": 0.30, "score_val_auc": 0.90, "epoch_seconds": 9.0},
                    {"score": 0.20, "score_val_auc": 0.80, "epoch_seconds": 9.0},
                    {"score": 0.30, "score_val_auc": 0.90, "epoch_seconds": 8.0},
                    {"score": 0.40, "score_val_auc": 0.70, "epoch_seconds": 1.0},
                    {"score": 0.50, "score_val_auc": 0.70, "epoch_seconds": 1.0}])
    # 0 is dominated by 2 (same loss and auc, faster); 4 by 3
    assert numbers(pareto_front(trials, objectives)) == [1, 2, 3]


def test_a_single_objective_sweeps_front_is_over_its_objective_and_param_count() -> None:
    assert front_objectives((ACC,)) == (ACC, PARAMS)
    assert front_objectives((ACC, LOSS)) == (ACC, LOSS)
    trials = frame([{"score": 0.9, "param_count": 900}, {"score": 0.8, "param_count": 100},
                    {"score": 0.7, "param_count": 500}])
    assert numbers(pareto_front(trials, (ACC,))) == [0, 1]
    assert pick_trial(trials, (ACC,), Pick.parse("best:param_count")).number == 1  # type: ignore[union-attr]


def test_best_metric_picks_the_fronts_best_on_it_with_ties_to_the_lower_number() -> None:
    trials = pareto_table()
    assert pick_trial(trials, TWO, Pick.parse("best:val_accuracy")).number == 2  # type: ignore[union-attr]
    assert pick_trial(trials, TWO, Pick.parse("best:param_count")).number == 0  # type: ignore[union-attr]
    tied = frame([{"score": 0.8, "param_count": 9}, {"score": 0.9, "param_count": 20},
                  {"score": 0.9, "param_count": 20}])
    assert pick_trial(tied, TWO, Pick.parse("best:val_accuracy")).number == 1  # type: ignore[union-attr]


def test_smallest_within_delta() -> None:
    trials = pareto_table()
    assert pick_trial(trials, TWO, Pick.parse("smallest-within:0.01")).number == 4  # type: ignore[union-attr]
    assert pick_trial(trials, TWO, Pick.parse("smallest-within:0")).number == 2  # type: ignore[union-attr]
    assert pick_trial(trials, TWO, Pick.parse("smallest-within:0.004")).number == 2  # type: ignore[union-attr]
    # 0.85 - 0.80 is 0.04999... in floats and 0.85 - 0.84 is 0.0100...09: both count as
    # exactly DELTA away, and DELTA is inclusive
    assert pick_trial(trials, TWO, Pick.parse("smallest-within:0.05")).number == 0  # type: ignore[union-attr]
    edge = frame([{"score": 0.85, "param_count": 50}, {"score": 0.84, "param_count": 10}])
    assert pick_trial(edge, TWO, Pick.parse("smallest-within:0.01")).number == 1  # type: ignore[union-attr]


def test_smallest_within_ties_go_to_the_better_first_objective_then_the_lower_number() -> None:
    # val_loss as second objective, so equal sizes with unequal accuracy share the front
    trials = frame([{"score": 0.845, "score_val_loss": 0.4, "param_count": 100},
                    {"score": 0.85, "score_val_loss": 0.5, "param_count": 100},
                    {"score": 0.84, "score_val_loss": 0.3, "param_count": 100},
                    {"score": 0.86, "score_val_loss": 0.6, "param_count": 900}])
    rule = Pick.parse("smallest-within:0.02")
    assert numbers(pareto_front(trials, (ACC, LOSS))) == [3, 1, 0, 2]
    assert pick_trial(trials, (ACC, LOSS), rule).number == 1  # type: ignore[union-attr]
    same = frame([{"score": 0.9, "score_val_loss": 0.2, "param_count": 7}] * 2)
    assert pick_trial(same, (ACC, LOSS), rule).number == 0  # type: ignore[union-attr]


def test_smallest_within_falls_back_to_flops_and_refuses_without_either() -> None:
    trials = frame([{"score": 0.85, "score_val_loss": 0.5, "flops": 900},
                    {"score": 0.845, "score_val_loss": 0.4, "flops": 100}])
    rule = Pick.parse("smallest-within:0.01")
    assert pick_trial(trials, (ACC, LOSS), rule).number == 1  # type: ignore[union-attr]
    with pytest.raises(UserInputError, match="param_count or flops"):
        pick_trial(trials.drop(columns=["flops"]), (ACC, LOSS), rule)


def test_a_rule_that_names_no_objective_is_refused_and_an_empty_front_has_no_pick() -> None:
    with pytest.raises(UserInputError, match=r"best:nope: .*best:val_accuracy, best:param_count"):
        pick_trial(pareto_table(), TWO, Pick.parse("best:nope"))
    failed = frame([{"status": Status.FAILED.value, "score": 0.9, "param_count": 1}])
    assert pick_trial(failed, TWO, Pick.parse("best:val_accuracy")) is None
    assert pick_trial(failed, TWO, Pick.parse("smallest-within:0.1")) is None


def spec_of(text: str) -> Any:
    return loads(text, file="sweep.yaml", base_dir=Path.cwd()).spec


def test_the_sweeps_best_is_one_rule() -> None:
    single = spec_of("name: one\ndata: {source: digits}\nspace:\n  depth: {int: [1, 3]}\n")
    legacy = frame([{"status": s.value, "score": v, "param_depth": d}
                    for s, _, v, d, _ in TRIALS])  # no param_count: as before
    assert sweep_pick(single) is None
    assert sweep_best(legacy, single) == best_trial(legacy, ACC)
    multi = spec_of(PARETO_SPACE.format(name="two", pick=""))
    assert str(sweep_pick(multi)) == "best:val_accuracy"
    assert sweep_best(pareto_table(), multi).number == 2  # type: ignore[union-attr]
    picked = spec_of(PARETO_SPACE.format(name="two", pick="pick: smallest-within:0.01\n"))
    assert sweep_best(pareto_table(), picked).number == 4  # type: ignore[union-attr]
    # an override (export --pick) wins over the spec's rule
    assert sweep_best(pareto_table(), picked, Pick.parse("best:param_count")).number == 0  # type: ignore[union-attr]


def test_blocked_domination_matches_the_whole_comparison() -> None:
    rng = np.random.default_rng(7)
    losses = rng.integers(0, 12, size=(1300, 3)).astype(float)  # many ties, > 2 blocks
    no_worse = (losses[None, :, :] <= losses[:, None, :]).all(axis=2)
    better = (losses[None, :, :] < losses[:, None, :]).any(axis=2)
    assert np.array_equal(dominated(losses), (no_worse & better).any(axis=1))


STATUSES = [s.value for s in Status]
VALUES = st.one_of(st.sampled_from([0.1, 0.2, 0.3, 0.5]), st.just(float("nan")))


@st.composite
def sweeps(draw: st.DrawFn) -> tuple[pd.DataFrame, tuple[Objective, ...]]:
    count = draw(st.integers(1, 3))
    directions = draw(st.lists(st.sampled_from(["max", "min"]), min_size=count,
                               max_size=count))
    metrics = ["val_accuracy", "param_count", "val_auc"][:count]
    objectives = tuple(Objective.of(m, d) for m, d in zip(metrics, directions, strict=True))
    rows = draw(st.lists(st.fixed_dictionaries({
        "status": st.sampled_from(STATUSES), "score": VALUES, "param_count": VALUES,
        "score_val_auc": VALUES}), max_size=25))
    trials = frame(rows) if rows else pd.DataFrame(
        columns=["trial_id", "number", "status", "score", "best_epoch"])
    return trials, objectives


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and a != b


@settings(max_examples=300, deadline=None)
@given(sweeps())
def test_the_front_is_exactly_the_non_dominated_scored_trials(
        sweep: tuple[pd.DataFrame, tuple[Objective, ...]]) -> None:
    trials, objectives = sweep
    front_of = front_objectives(objectives)
    columns = ["score"] + [o.metric if o.is_cost else f"score_{o.metric}" for o in front_of[1:]]

    def loss(row: Any) -> tuple[float, ...]:
        return tuple(-float(row[c]) if o.maximize else float(row[c])
                     for c, o in zip(columns, front_of, strict=True))

    scored = [r for _, r in trials.iterrows() if Status(r["status"]).scored
              and all(np.isfinite(float(r[c])) for c in columns)]
    front = pareto_front(trials, objectives)
    members = set(front["trial_id"])
    assert not set(front["status"]) & {Status.FAILED.value, Status.INFEASIBLE.value,
                                       Status.RUNNING.value, Status.PAUSED.value}
    assert members <= {r["trial_id"] for r in scored}
    on = [r for r in scored if r["trial_id"] in members]
    for member in on:  # no member is dominated by any scored trial
        assert not any(_dominates(loss(other), loss(member)) for other in scored)
    for other in scored:  # every scored non-member is dominated by a member
        if other["trial_id"] not in members:
            assert any(_dominates(loss(member), loss(other)) for member in on)
    firsts = [loss(r)[0] for _, r in front.iterrows()]
    assert firsts == sorted(firsts)  # best first on the first objective
    for rule in ("best:val_accuracy", "smallest-within:0.1"):
        try:
            picked = pick_trial(trials, objectives, Pick.parse(rule))
        except UserInputError:  # smallest-within, and no candidate has a param_count
            assert rule.startswith("smallest") and not front.empty
            continue
        assert (picked is None) == front.empty
        assert picked is None or picked.trial_id in members
