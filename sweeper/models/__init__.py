"""Model kinds: the registry (``kinds``), the built-in CNN (``cnn/``), users' builders
(``custom``) and the compile step they share."""

__all__: list[str] = []
