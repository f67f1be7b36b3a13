"""sweeper's version, importable by any layer without the API behind ``sweeper``."""

__all__ = ["__version__"]

__version__ = "0.1.0"
