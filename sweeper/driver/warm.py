"""``sweeper run FILE --warm-start OLD``: an earlier sweep's finished trials for the new
study, read from OLD's folder (its spec, its study, its data fingerprint)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sweeper.config.schema import SweepSpec
from sweeper.errors import UserInputError
from sweeper.objective import Objective
from sweeper.search.start import WarmStart, warm_start
from sweeper.store.layout import existing_sweep
from sweeper.store.meta import SweepMeta
from sweeper.store.specs import load_spec_for
from sweeper.store.study import open_study

__all__ = ["read_warm_start"]


def read_warm_start(source: str, runs_dir: Path, spec: SweepSpec, fingerprint: str,
                    defaults: dict[str, Any]) -> WarmStart:
    """OLD's COMPLETE and PRUNED trials on this sweep's space; refused when OLD trained on
    other data (its scores would mean nothing here)."""
    if source == spec.name:
        raise UserInputError(f"--warm-start {source}: a sweep cannot start from itself; "
                             "name an earlier sweep, or resume this one")
    try:
        folder = existing_sweep(runs_dir, source)
    except UserInputError as exc:
        raise UserInputError(f"--warm-start {source}: {exc}") from None
    meta = SweepMeta.read(folder)
    if meta.data_fingerprint is None:
        raise UserInputError(f"--warm-start {source}: that sweep recorded no data fingerprint "
                             "(it ran before sweeper recorded one), so whether it trained on "
                             "this data cannot be told; start without --warm-start")
    if meta.data_fingerprint != fingerprint:
        raise UserInputError(
            f"--warm-start {source}: that sweep trained on other data (fingerprint "
            f"{meta.data_fingerprint}, this sweep's data {fingerprint}); its scores do not "
            "carry over. Warm-start from a sweep on the same data and split")
    old = load_spec_for(source, runs_dir).spec
    if old.objectives != spec.objectives:
        def said(objectives: tuple[Objective, ...]) -> str:
            return ", ".join(f"{o.metric} ({o.direction})" for o in objectives)

        raise UserInputError(
            f"--warm-start {source}: that sweep optimised {said(old.objectives)}, this one "
            f"{said(spec.objectives)}; its scores do not carry over")
    try:
        trials = open_study(folder, old.name).get_trials(deepcopy=False)
    except (KeyError, OSError) as exc:
        raise UserInputError(f"--warm-start {source}: its Optuna study cannot be read "
                             f"({exc})") from None
    return warm_start(source, old, trials, spec, defaults)
