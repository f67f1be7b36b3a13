"""The decoded data split into train, validation and test, and how trials receive it.

Every source is decoded once into arrays (N, H, W, C) of raw pixel values: trials share
them (through Ray's object store in sweeps) instead of decoding files again, or, with
``data.load_on: workers``, each worker process decodes them once from a path every node
mounts.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from sweeper.config.loaded import LoadedSpec
from sweeper.data.sources import bad_data, read_source

__all__ = ["AUTO_TEST_MIN_IMAGES", "AUTO_TEST_SPLIT", "DataMismatchError", "Dataset",
           "WorkerLoadedData", "load_dataset", "split_problem", "test_fraction"]

log = logging.getLogger(__name__)

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
    _stats: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False,
                                                         compare=False)

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
        """Per-channel mean and variance of the training split (for Normalization).

        Computed once, on the driver before the data is shipped: every trial asks, and a
        float64 copy of a large training split costs seconds and gigabytes."""
        if self._stats is None:
            x = self.x_train.astype(np.float64)
            mean = x.mean(axis=(0, 1, 2))
            variance = np.maximum(x.var(axis=(0, 1, 2)), 1e-6)
            self._stats = (mean.astype(np.float32), variance.astype(np.float32))
        return self._stats

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
        copy._stats = self.channel_stats()
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


def load_dataset(loaded: LoadedSpec) -> Dataset:
    """Read the spec's data source and split it (stratified, seeded)."""
    x, y, names, skipped = read_source(loaded)
    warnings = []
    if skipped:
        warnings.append(f"skipped {skipped} unreadable image file(s) of "
                        f"{skipped + len(x)} in {loaded.data_path()}")
        log.warning(warnings[-1])
    counts = np.bincount(y, minlength=len(names))
    if (counts > 0).sum() < 2:
        raise bad_data(loaded, "the data has fewer than two classes", key="source")
    lonely = [names[i] for i, c in enumerate(counts) if c == 1]
    if lonely:
        raise bad_data(loaded, f"class {lonely[0]!r} has a single image; a stratified split needs "
                           "at least two per class")
    idx_train, idx_val, idx_test, note = _split(loaded, y, names)
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


def split_problem(validation_split: float, test_split: float,
                  counts: dict[str, int]) -> tuple[str, str] | None:
    """The data key and why a stratified split of images with these counts per class would
    leave a class out of a part (train, validation, test), else None; counted as ``_split``
    counts (rounding up)."""
    total, classes = sum(counts.values()), len(counts)
    if classes < 2:
        return None  # the source's own checks say so
    n_test, n_val = math.ceil(test_split * total), math.ceil(validation_split * total)
    least = min(counts, key=lambda name: counts[name])
    need = 3 if n_test else 2
    if counts[least] < need:
        return ("test_split" if n_test else "validation_split",
                f"class {least!r} has {counts[least]} image(s); a stratified split needs at "
                f"least {need} per class (one in each of train, validation"
                + (", test" if n_test else "") + "): add images of it"
                + (" or set data.test_split: 0" if n_test else ""))
    for key, count, fraction in (("test_split", n_test, test_split),
                                 ("validation_split", n_val, validation_split)):
        if count and count < classes:
            return (key, f"{key} {fraction} holds out {count} of {total} images for {classes} "
                         f"classes, so some class would have none there; raise {key} to at "
                         f"least {math.ceil(100 * classes / total) / 100} or add images")
    if n_test:
        short = [n for n, c in counts.items() if c - math.ceil(c * n_test / total) < 2]
        if short:
            return ("test_split", f"test_split {test_split} leaves class {short[0]!r} "
                                  f"({counts[short[0]]} images) under 2 for train and "
                                  "validation; lower test_split or add images of it")
    if total - n_test - n_val < classes:
        return ("validation_split",
                f"validation_split {validation_split} and test_split {test_split} leave "
                f"{total - n_test - n_val} images to train {classes} classes; lower them")
    return None


def _split(loaded: LoadedSpec, y: np.ndarray, names: list[str]) -> tuple[
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
    codes, numbers = np.unique(y, return_counts=True)
    counts = {names[int(c)]: int(n) for c, n in zip(codes, numbers, strict=True)}
    problem = split_problem(data.validation_split, test, counts)
    if problem is not None:
        raise bad_data(loaded, problem[1], key=problem[0])
    try:
        if n_test:
            everything, idx_test = train_test_split(everything, test_size=n_test,
                                                    stratify=y, random_state=data.seed)
        idx_train, idx_val = train_test_split(everything, test_size=n_val,
                                              stratify=y[everything], random_state=data.seed)
    except ValueError as exc:
        raise bad_data(loaded, f"cannot split {len(y)} images of {len(np.unique(y))} classes "
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
