"""Running sweeps: run and resume (``engine``), their parts (``wiring``), the end of a
sweep (``finish``), Ray (``cluster``), signals, ``sweeper train``."""

__all__: list[str] = []
