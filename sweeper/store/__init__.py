"""A sweep on disk, read without Ray or TensorFlow: its folder, sweep.json, tables, study,
and the one rule for its best trial."""

__all__: list[str] = []
