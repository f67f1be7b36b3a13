"""keras.applications networks as model kinds: which networks and knobs (``catalog``), their
parameter counts measured once by ``tools/backbone_counts.py`` (``counts``), the file's
checks (``check``), the Keras model (``build``) and the kind itself (``kind``).

Everything but ``build`` is free of TensorFlow, so ``sweeper validate`` and the driver
check and count a backbone without starting it.
"""

__all__: list[str] = []
