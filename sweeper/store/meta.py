"""``runs/<name>/sweep.json``: what resume needs to continue exactly this sweep, and how
it ended."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sweeper.status import StopCause, SweepStatus
from sweeper.store.layout import SWEEP_JSON
from sweeper.store.test_score import TestScore

__all__ = ["SweepMeta"]


@dataclass
class SweepMeta:
    name: str
    source_file: str
    base_dir: str
    spec_sha256: str
    overrides: dict[str, Any]
    experiment_path: str
    started_at: float
    status: SweepStatus = SweepStatus.RUNNING
    address: str | None = None
    register_model: str | None = None
    data_fingerprint: str | None = None
    warm_start: str | None = None  # the earlier sweep whose trials the study started from
    history: list[dict[str, Any]] = field(default_factory=list)
    test: dict[str, Any] | None = None  # TestScore of the exported best model
    # steering (`sweeper stop` / `extend`): False for a sweep an older sweeper started,
    # whose driver reads no requests
    steerable: bool = False
    trial_budget: int | None = None  # trials in all once `extend` grew it (None: the file's)
    pending_time_s: float | None = None  # more run time an extend gave, for the next driver
    stop_cause: StopCause | None = None  # a stop (or a reached target) in effect
    applied_requests: list[str] = field(default_factory=list)  # request ids, applied once
    ends: int = 0  # how many times the sweep's end ran (an extended sweep's runs again)
    spent_s: float | None = None  # the run time of every driver so far, as the last ended
    registered_trial_id: str | None = None  # the trial whose model was last registered
    model_artifact: str | None = None  # the parent run's artifact of the best model
    model_trial_id: str | None = None  # the trial whose model that artifact is

    def __post_init__(self) -> None:
        self.status = SweepStatus(self.status)
        if self.stop_cause is not None:
            self.stop_cause = StopCause(self.stop_cause)

    def test_score(self) -> TestScore | None:
        return TestScore.from_dict(self.test)

    @classmethod
    def read(cls, folder: Path) -> SweepMeta:
        return cls(**json.loads((folder / SWEEP_JSON).read_text()))

    def write(self, folder: Path) -> None:
        tmp = folder / (SWEEP_JSON + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(folder / SWEEP_JSON)
