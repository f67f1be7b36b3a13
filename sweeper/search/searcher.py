"""A thin Ray Tune ``Searcher`` over an Optuna study, driven through ask/tell.

Ray's own OptunaSearch tells Optuna COMPLETE with the last value for scheduler-stopped
trials, hard-codes a no-op pruner and keeps its trials private. This one tells the truth:
COMPLETE with the trial's best-epoch score, PRUNED (after reporting every epoch) for
pruned trials, FAIL for failed ones, and infeasible architectures as constraint violations
so TPE learns to avoid them. The study lives in a journal file beside the sweep, so a
crashed driver loses nothing Optuna knew.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState
from ray.tune.search import Searcher

from sweeper.config.schema import SweepSpec
from sweeper.models.inputs import ModelDescription
from sweeper.models.kinds import ConfigCheck
from sweeper.models.limits import Limits
from sweeper.pruning.budget import SweepBudget
from sweeper.pruning.decisions import DecisionLog, final_status
from sweeper.pruning.pruners import make_pruner
from sweeper.result import OBJECTIVE_KEY, TrialResult
from sweeper.search.samplers import make_sampler, training_seed
from sweeper.search.space import suggest
from sweeper.status import Reason, Status
from sweeper.store.study import INFEASIBLE_ATTR, ORPHANED_ATTR, issued_trials

__all__ = ["CONSTRAINT", "OptunaSearcher"]

InfeasibleSink = Callable[[int, dict[str, Any], str, int, dict[str, int]], None]
CONSTRAINT = "infeasible_architecture"  # Optuna constraint: > 0 means infeasible
# samplers that learn from infeasible trials told COMPLETE with their constraints; the
# others are told FAIL (they would rank a stand-in value as a real one)
CONSTRAINED_SAMPLERS = ("tpe", "nsga2")


class OptunaSearcher(Searcher):
    """Tune searcher on Optuna's ask/tell API; also the bridge Optuna's pruners report through."""

    def __init__(self, spec: SweepSpec, study_path: Path, planned_trials: int, parallel: bool,
                 decisions: DecisionLog, feasibility: ConfigCheck | None,
                 on_infeasible: InfeasibleSink, budget: SweepBudget,
                 start: list[dict[str, Any]] | None = None,
                 warm: list[FrozenTrial] | None = None) -> None:
        super().__init__(metric=OBJECTIVE_KEY, mode=spec.primary.direction)
        self.objective = spec.primary.objective()
        self.objectives = spec.objectives  # several: Optuna's study has one direction each
        self.limits = Limits.of(spec.constraints)
        self.spec = spec
        self.study_path = Path(study_path)
        if budget.trials is None:  # the budget counts the trials (and may grow)
            budget.trials = planned_trials
        self.parallel = parallel
        self.decisions = decisions
        self.feasibility = feasibility
        self.on_infeasible = on_infeasible
        self.budget = budget
        self.start = start or []  # enqueued when the study is new
        self.warm = warm or []  # an earlier sweep's trials, added when the study is new
        self.ended_before: set[str] = set()  # restored trials Optuna already saw end
        self.issued = 0  # trials handed to Tune plus infeasible ones: what the budget counts
        self.live: dict[str, int] = {}  # Tune trial id -> Optuna trial number
        self.reported: dict[str, int] = {}  # Tune trial id -> last epoch told to Optuna
        self.last: dict[str, dict[str, Any]] = {}  # Tune trial id -> its last result (Tune's
        # form, so that it saves as JSON)
        self._study: optuna.Study | None = None
        self._trials: dict[int, optuna.trial.Trial] = {}

    # -- pickling: Tune stores the searcher in tuner.pkl; the study is re-opened from disk
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_study"] = None
        state["_trials"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A searcher pickled before sweeps had several objectives and limits has neither."""
        state.setdefault("objectives", (state["objective"],))
        state.setdefault("limits", Limits())
        planned = state.pop("planned_trials", None)  # before the budget counted trials
        if planned is not None and getattr(state["budget"], "trials", None) is None:
            state["budget"].trials = planned
        self.__dict__.update(state)

    @property
    def study(self) -> optuna.Study:
        if self._study is None:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            self.study_path.parent.mkdir(parents=True, exist_ok=True)
            storage = optuna.storages.JournalStorage(JournalFileBackend(str(self.study_path)))
            existing = 0
            with contextlib.suppress(KeyError):
                existing = len(optuna.load_study(study_name=self.spec.name,
                                                 storage=storage).trials)
            self._study = optuna.create_study(
                study_name=self.spec.name, storage=storage, load_if_exists=True,
                directions=[o.optuna_direction for o in self.objectives],
                sampler=make_sampler(self.spec, self.parallel,
                                     self.spec.search.seed + existing),
                pruner=make_pruner(self.spec))
            if existing == 0:
                self._seed_new_study(self._study)
        return self._study

    def _seed_new_study(self, study: optuna.Study) -> None:
        """A new study learns from the warm start's trials, then asks the start points."""
        study.add_trials(self.warm)
        for point in self.start:
            study.enqueue_trial(point, skip_if_exists=True)
        self.warm, self.start = [], []  # the study holds them now (and Tune pickles self)

    def _trial(self, number: int) -> optuna.trial.Trial:
        """An Optuna Trial handle for a running trial, also after a driver restart."""
        if number not in self._trials:
            frozen = self.study.trials[number]
            self._trials[number] = optuna.trial.Trial(self.study, frozen._trial_id)
        return self._trials[number]

    # -- Tune's Searcher API
    def set_search_properties(self, metric: str | None, mode: str | None, config: dict[str, Any],
                              **spec: Any) -> bool:
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:  # or Searcher.FINISHED
        while self.budget.accepts_trials(self.issued):
            trial = self.study.ask()
            self._trials[trial.number] = trial
            params = suggest(trial, self.spec.space)
            self.issued += 1
            seed = training_seed(self.spec.search.seed, trial.number)
            described = (self.feasibility.describe(params) if self.feasibility
                         else ModelDescription())
            why = described.infeasible or self.limits.over_size(described.param_count,
                                                                described.flops)
            if why:
                self._tell_infeasible(trial, why, described.param_count, described.flops,
                                      architecture=described.infeasible is not None)
                cost = {k: v for k, v in (("param_count", described.param_count),
                                          ("flops", described.flops)) if v is not None}
                self.on_infeasible(trial.number, params, why, seed, cost)
                continue
            trial.set_constraint(CONSTRAINT, 0.0)  # the limits: from what the trial measures
            trial.set_user_attr("tune_trial_id", trial_id)
            trial.set_user_attr("training_seed", seed)
            self.live[trial_id] = trial.number
            return {"params": params, "seed": seed, "number": trial.number}
        return Searcher.FINISHED  # type: ignore[return-value]

    def _set_constraints(self, trial: optuna.trial.Trial, param_count: int | None,
                         flops: int | None, first_epoch_seconds: float | None) -> None:
        """Each limit's constraint (0 where within it or unknown), once per trial."""
        values = self.limits.violations(param_count, flops, first_epoch_seconds)
        already = self.study.get_trials(deepcopy=False)[trial.number].system_attrs
        for key, value in values.items():
            if f"constraints:{key}" not in already:
                trial.set_constraint(key, value)

    def _measured(self, trial: optuna.trial.Trial, record: TrialResult | None) -> None:
        if record is None:
            self._set_constraints(trial, None, None, None)
        else:
            self._set_constraints(trial, record.param_count, record.flops,
                                  record.first_epoch_seconds)

    def _tell_infeasible(self, trial: optuna.trial.Trial, why: str, param_count: int | None,
                         flops: int | None, first_epoch_seconds: float | None = None,
                         architecture: bool = False) -> None:
        """``architecture``: the model cannot exist at all (else it is over a limit)."""
        trial.set_user_attr(INFEASIBLE_ATTR, why)
        if f"constraints:{CONSTRAINT}" not in \
                self.study.get_trials(deepcopy=False)[trial.number].system_attrs:
            trial.set_constraint(CONSTRAINT, 1.0 if architecture else 0.0)
        self._set_constraints(trial, param_count, flops, first_epoch_seconds)
        if self.spec.search.algorithm in CONSTRAINED_SAMPLERS:
            # COMPLETE with a violated constraint: ranked below every feasible trial
            self.study.tell(trial, [o.stand_in for o in self.objectives])
        else:
            self.study.tell(trial, state=TrialState.FAIL)  # these samplers cannot use constraints

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Nothing to do: the scheduler wrapper reports each epoch through ``report``."""

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None,
                          error: bool = False) -> None:
        number = self.live.pop(trial_id, None)
        if number is None:
            return
        # Tune passes no result for a paused trial its scheduler stops: use the last one seen.
        record = TrialResult.from_tune(result or self.last.get(trial_id))
        status, _ = final_status(self.decisions, trial_id, record,
                                 Reason.WORKER_DIED if error else None)
        values = record.values(self.objectives) if record is not None else (None,)
        trial = self._trial(number)
        if self.study.get_trials(deepcopy=False)[number].state.is_finished():
            pass  # told before a driver crash (it finished after Tune's last save): keep that
        elif status == Status.INFEASIBLE:
            assert record is not None
            self._tell_infeasible(trial, record.error or Reason.CONSTRAINT.value,
                                  record.param_count, record.flops, record.first_epoch_seconds)
        elif status == Status.PRUNED:
            self._measured(trial, record)
            self.study.tell(trial, state=TrialState.PRUNED)
        elif status.scored and None not in values:
            self._measured(trial, record)
            self.study.tell(trial, [float(v) for v in values if v is not None])
        else:
            self.study.tell(trial, state=TrialState.FAIL)
        self.reported.pop(trial_id, None)
        self.last.pop(trial_id, None)
        self._trials.pop(number, None)
        self.ended_before.discard(trial_id)

    def already_ended(self, trial_id: str) -> bool:
        return trial_id in self.ended_before

    def is_live(self, trial_id: str) -> bool:
        return trial_id in self.live

    def withdraw(self, trial_id: str) -> None:
        """A trial handed out that never started (the sweep stopped while it waited): an
        orphan in the study (FAIL, which no sampler learns from), its values asked again
        first if the sweep is extended, and not counted in the budget."""
        number = self.live.pop(trial_id, None)
        if number is None:
            return
        trial = self._trial(number)
        params = self.study.get_trials(deepcopy=False)[number].params
        trial.set_user_attr(ORPHANED_ATTR, True)
        self.study.tell(trial, state=TrialState.FAIL)
        self.study.enqueue_trial(params)
        self.issued -= 1
        for table in (self.reported, self.last):
            table.pop(trial_id, None)
        self._trials.pop(number, None)

    def accepts_trials(self) -> bool:
        """Whether the budget lets another trial start (Tune's search ends when not)."""
        return self.budget.accepts_trials(self.issued)

    # -- the bridge the scheduler wrapper and Optuna pruners use
    def observe(self, trial_id: str, result: TrialResult) -> None:
        """Every result, before the scheduler decides: kept, and healthy epochs told to Optuna."""
        self.last[trial_id] = result.to_tune()
        if result.healthy and len(self.objectives) == 1:  # Optuna: no report in several
            assert result.objective is not None
            self.report(trial_id, result.epoch, result.objective)

    def report(self, trial_id: str, epoch: int, value: float) -> None:
        number = self.live.get(trial_id)
        if number is None or self.reported.get(trial_id, 0) >= epoch:
            return
        self._trial(number).report(value, epoch)
        self.reported[trial_id] = epoch

    def should_prune(self, trial_id: str) -> bool:
        number = self.live.get(trial_id)
        return number is not None and self._trial(number).should_prune()

    # -- state saved with Tune's experiment state
    def save_to_dir(self, checkpoint_dir: str, session_str: str = "default") -> None:
        """Write the state beside, not inside, the folder Tune syncs to storage.

        Ray's own save_to_dir writes a temporary file inside that folder while a background
        sync may be copying it; the copy then fails on the renamed file (seen in CI).
        """
        target = Path(checkpoint_dir) / self.CKPT_FILE_TMPL.format(session_str)
        fd, tmp = tempfile.mkstemp(dir=Path(checkpoint_dir).parent, suffix=".tmp")
        os.close(fd)
        self.save(tmp)
        os.replace(tmp, target)

    def save(self, checkpoint_path: str) -> None:
        state = {"issued": self.issued, "live": self.live, "reported": self.reported,
                 "last": self.last, "budget": self.budget.to_state()}
        Path(checkpoint_path).write_text(json.dumps(state))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        self.issued = int(state["issued"])
        self.live = {k: int(v) for k, v in state["live"].items()}
        self.reported = {k: int(v) for k, v in state["reported"].items()}
        self.last = state.get("last", {})
        self.budget.restore(state.get("budget", {}))
        self._fail_orphans()
        # every trial asked counts, also one asked after this state was saved that ended
        # before the crash (its row is kept); orphans never ran, enqueued points not yet
        # asked wait, a warm start's trials ran in another sweep
        self.issued = issued_trials(self.study)
        # by the Tune id Optuna recorded: this state and Tune's trial list are saved at
        # different moments, so a trial Tune restores may be unknown here
        self.ended_before = {str(t.user_attrs["tune_trial_id"])
                             for t in self.study.get_trials(deepcopy=False)
                             if t.state.is_finished() and "tune_trial_id" in t.user_attrs}

    def _fail_orphans(self) -> None:
        """Optuna trials asked after Tune's last saved state never ran: mark them FAIL."""
        known = set(self.live.values())
        for frozen in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if frozen.number not in known:
                frozen_trial = optuna.trial.Trial(self.study, frozen._trial_id)
                frozen_trial.set_user_attr(ORPHANED_ATTR, True)
                self.study.tell(frozen_trial, state=TrialState.FAIL)
                fixed = frozen.system_attrs.get("fixed_params")
                if fixed:  # a start point (or the defaults') asked but never run: again
                    self.study.enqueue_trial(fixed)
