"""Choosing configurations: the space as Optuna sees it, samplers, the Tune searcher."""

__all__: list[str] = []
