"""Command-line values that replace the file's, applied through the schema again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sweeper.config.schema import SweepSpec

__all__ = ["Overrides"]


@dataclass
class Overrides:
    """Command-line values that replace the file's (None = keep the file's)."""

    name: str | None = None
    trials: int | None = None
    max_epochs: int | None = None
    time_limit: float | None = None
    concurrency: int | None = None
    gpus_per_trial: float | None = None
    cpus_per_trial: float | None = None
    seed: int | None = None
    storage: str | None = None
    tracking_uri: str | None = None

    def apply(self, spec: SweepSpec) -> SweepSpec:
        def section(model: Any, **values: Any) -> Any:
            kept = {k: v for k, v in values.items() if v is not None}
            return model.model_validate({**model.model_dump(by_alias=True), **kept})

        return spec.model_copy(update={
            "name": self.name or spec.name,
            "budget": section(spec.budget, trials=self.trials, max_epochs=self.max_epochs,
                              time_limit=self.time_limit),
            "resources": section(spec.resources, concurrency=self.concurrency,
                                 gpus_per_trial=self.gpus_per_trial,
                                 cpus_per_trial=self.cpus_per_trial),
            "search": section(spec.search, seed=self.seed),
            "storage": self.storage or spec.storage,
            "tracking": section(spec.tracking, uri=self.tracking_uri),
        })
