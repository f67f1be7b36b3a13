"""MLflow: where runs go (``config``), the write-ahead-logged Tune callback (``tracker``),
and the writer that applies its events (``store``)."""

__all__: list[str] = []
