"""A trial: the one training loop, its checkpoint, its process, the Tune trainable."""

__all__: list[str] = []
