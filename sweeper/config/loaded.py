"""A validated spec together with the located document it came from."""

from __future__ import annotations

from pathlib import Path

from sweeper.config.discovered import DiscoveredSpace
from sweeper.config.schema import SweepSpec
from sweeper.config.yamlio import LocatedDocument, PathKey
from sweeper.errors import Problem

__all__ = ["LoadedSpec"]


class LoadedSpec:
    """A validated spec with the document it came from (for located messages later).

    ``doc`` is the file as written; ``discovered`` the space its model's code declared
    (a KerasTuner hypermodel's), which ``spec.space`` holds merged with the file's entries."""

    def __init__(self, spec: SweepSpec, doc: LocatedDocument, base_dir: Path,
                 warnings: list[Problem], discovered: DiscoveredSpace | None = None) -> None:
        self.spec = spec
        self.doc = doc
        self.base_dir = base_dir
        self.warnings = warnings
        self.discovered = discovered

    def problem(self, path: PathKey, message: str, *, key: bool = False) -> Problem:
        return self.doc.problem(path, message, key=key)

    def data_path(self) -> Path | None:
        if self.spec.data.path is None:
            return None
        path = Path(self.spec.data.path).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)

    def weights_path(self) -> Path | None:
        """``model.weights`` as a path (relative ones are the file's folder's)."""
        if self.spec.model.weights is None:
            return None
        path = Path(self.spec.model.weights).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)
