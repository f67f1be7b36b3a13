"""Stopping bad trials early: recorded decisions, Ray's schedulers, Optuna's pruners."""

__all__: list[str] = []
