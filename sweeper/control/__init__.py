"""Steering sweeps from any terminal that sees the runs dir: what a sweep's driver is doing
(its heartbeat), stop and extend requests, the live view, the list of sweeps. Nothing here
imports Ray or TensorFlow; continuing an ended sweep is the driver's (``driver.restored``)."""

__all__: list[str] = []
