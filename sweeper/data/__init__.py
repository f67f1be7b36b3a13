"""Images in, arrays and tf.data pipelines out: sources, the split dataset, the pipeline."""

__all__: list[str] = []
