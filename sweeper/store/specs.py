"""The spec a sweep ran with, read back from its folder."""

from __future__ import annotations

from pathlib import Path

from sweeper.config.load import loads
from sweeper.config.loaded import LoadedSpec
from sweeper.config.overrides import Overrides
from sweeper.store.layout import SWEEP_YAML, existing_sweep
from sweeper.store.meta import SweepMeta

__all__ = ["load_spec_for"]


def load_spec_for(name: str, runs_dir: Path) -> LoadedSpec:
    """The spec a sweep ran with, its command-line overrides applied (`--name` names the
    Optuna study, `--tracking-uri` the MLflow store): for results, export and the API."""
    folder = existing_sweep(runs_dir, name)
    meta = SweepMeta.read(folder)
    loaded = loads((folder / SWEEP_YAML).read_text(), file=meta.source_file,
                   base_dir=Path(meta.base_dir))
    loaded.spec = Overrides(**meta.overrides).apply(loaded.spec)
    return loaded
