"""What ``sweeper validate`` says of a space discovered from a model's code (a KerasTuner
hypermodel's): where each parameter comes from, what was mapped, and where the code runs."""

from __future__ import annotations

from typing import Any

from sweeper.config.discovered import space_sources
from sweeper.config.loaded import LoadedSpec

__all__ = ["discovered_lines", "parameter_sources"]


def parameter_sources(loaded: LoadedSpec) -> dict[str, str]:
    """Each parameter's origin (``code``, ``fixed by the file``, ``narrowed by the file``);
    empty when the file's space is the whole space."""
    if loaded.discovered is None:
        return {}
    return {row.name: row.source for row in
            space_sources(loaded.spec, loaded.doc, loaded.discovered) if row.name in
            loaded.spec.space}


def discovered_lines(loaded: LoadedSpec, kind: Any) -> list[str]:
    """The lines after the table for a hypermodel: notes, parameters the file's entries made
    never active, and where its code runs."""
    discovered = loaded.discovered
    if discovered is None:
        return []
    lines = [f"model: {loaded.spec.model.kind}, a KerasTuner hypermodel; its space was "
             f"discovered here ({discovered.source}): {len(discovered.entries)} hyperparameters"
             ", the file's space fixes or narrows them"]
    lines += [f"  note: {note}" for note in discovered.notes]
    never = [row.name for row in space_sources(loaded.spec, loaded.doc, discovered)
             if row.source == "never active"]
    if never:
        lines.append(f"  never active with the file's values (left out): {', '.join(never)}")
    fit = " and its fit(hp, model, ...)" if getattr(kind, "overrides_fit", False) else ""
    lines.append("where the code runs: build(hp) ran on this machine to discover the space "
                 "(as it will on the driver of `sweeper run` and `sweeper train`); the "
                 "driver's Optuna samples each trial's values from it before any worker "
                 f"builds a model; each trial's worker then calls build(hp){fit} once, "
                 "with those values")
    return lines
