"""``runs/<name>/sweep.json``: what resume needs to continue exactly this sweep, and how
it ended."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sweeper.status import SweepStatus
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

    def __post_init__(self) -> None:
        self.status = SweepStatus(self.status)

    def test_score(self) -> TestScore | None:
        return TestScore.from_dict(self.test)

    @classmethod
    def read(cls, folder: Path) -> SweepMeta:
        return cls(**json.loads((folder / SWEEP_JSON).read_text()))

    def write(self, folder: Path) -> None:
        tmp = folder / (SWEEP_JSON + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(folder / SWEEP_JSON)
