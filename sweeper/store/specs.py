"""The spec a sweep ran with, read back from its folder."""

from __future__ import annotations

from pathlib import Path

from sweeper.config.discovered import DiscoveredSpace
from sweeper.config.load import DiscoverHook, loads
from sweeper.config.loaded import LoadedSpec
from sweeper.config.overrides import Overrides
from sweeper.config.yamlio import dump, load_text
from sweeper.store.layout import DISCOVERED_SPACE, SWEEP_YAML, existing_sweep
from sweeper.store.meta import SweepMeta

__all__ = ["load_spec_for", "recorded_discovery", "write_discovery"]


def write_discovery(folder: Path, discovered: DiscoveredSpace | None) -> None:
    """Record the space a hypermodel's code declared at the sweep's start (or that there
    was none), so every later command sees that space without importing the model."""
    path = folder / DISCOVERED_SPACE
    if discovered is None:
        path.unlink(missing_ok=True)
        return
    path.write_text("# the space the model's code declared when the sweep started; "
                    "sweep.yaml's space fixes or narrows it\n" + dump(discovered.to_json()))


def recorded_discovery(folder: Path) -> DiscoverHook | None:
    """The loader's ``discover`` hook for a sweep's recorded file: the space recorded at its
    start, as it was (None when its model declares none)."""
    path = folder / DISCOVERED_SPACE
    if not path.exists():
        return None
    recorded = DiscoveredSpace.from_json(load_text(path.read_text(), str(path)).data)
    return lambda _loaded: recorded


def load_spec_for(name: str, runs_dir: Path) -> LoadedSpec:
    """The spec a sweep ran with, its command-line overrides applied (`--name` names the
    Optuna study, `--tracking-uri` the MLflow store): for results, export and the API."""
    folder = existing_sweep(runs_dir, name)
    meta = SweepMeta.read(folder)
    loaded = loads((folder / SWEEP_YAML).read_text(), file=meta.source_file,
                   base_dir=Path(meta.base_dir), discover=recorded_discovery(folder))
    loaded.spec = Overrides(**meta.overrides).apply(loaded.spec)
    return loaded
