"""Watching a sweep: its tables (``recorder``), what the user sees (``progress``), MLflow."""

__all__: list[str] = []
