"""The search-space file: located YAML, the schema, its rules, loading, overrides."""

from sweeper.config.load import SpecCheck, load, loads
from sweeper.config.loaded import LoadedSpec
from sweeper.config.overrides import Overrides
from sweeper.config.schema import SweepSpec

__all__ = ["LoadedSpec", "Overrides", "SpecCheck", "SweepSpec", "load", "loads"]
