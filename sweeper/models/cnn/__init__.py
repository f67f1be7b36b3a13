"""The built-in CNN: its knobs (``catalog``), its layout without TensorFlow (``blueprint``),
its Keras layers (``build``) and its face as a model kind (``kind``)."""

__all__: list[str] = []
