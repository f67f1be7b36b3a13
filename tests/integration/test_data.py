"""Data sources: built-in arrays, npz, folders of mixed images, and their failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sweeper import config as spec_module
from sweeper.data.dataset import load_dataset
from sweeper.data.pipeline import pipeline
from sweeper.errors import SpecError

pytestmark = pytest.mark.integration


def load(text: str, base: Path) -> spec_module.LoadedSpec:
    path = base / "space.yaml"
    path.write_text(text)
    return spec_module.load(path)


def write(path: Path, mode: str, size: tuple[int, int], value: int, fmt: str = "PNG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = value if mode == "L" else (value, 255 - value, value // 2)[: len(mode)]
    if mode == "RGBA":
        colour = (value, 255 - value, value // 2, 128)
    Image.new(mode, size, colour).save(path, fmt)


def test_builtin_sources_are_uint8_and_split_stratified(tmp_path: Path) -> None:
    loaded = load("data: {source: digits, validation_split: 0.25, seed: 3}\n", tmp_path)
    ds = load_dataset(loaded)
    assert ds.x_train.dtype == np.uint8 and ds.x_train.shape[1:] == (8, 8, 1)
    assert ds.x_train.max() == 255
    assert len(ds.x_val) == pytest.approx(0.25 * 1797, abs=1)
    train_share = np.bincount(ds.y_train) / len(ds.y_train)
    val_share = np.bincount(ds.y_val) / len(ds.y_val)
    np.testing.assert_allclose(train_share, val_share, atol=0.01)
    again = load_dataset(loaded)
    np.testing.assert_array_equal(again.y_val, ds.y_val)
    assert again.fingerprint() == ds.fingerprint()
    other = load_dataset(load("data: {source: digits, validation_split: 0.25, seed: 4}\n",
                              tmp_path))
    assert other.fingerprint() != ds.fingerprint()
    mnist = load_dataset(load("data: {source: mnist5k}\n", tmp_path))
    assert len(mnist.x_train) + len(mnist.x_val) + mnist.test_images == 5000
    assert mnist.test_images == 500 and len(mnist.x_val) == 1000  # 10% test by default
    assert mnist.image_size == (28, 28) and mnist.num_classes == 10


def test_npz_source_with_string_labels_and_resizing(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 12, 12)).astype(np.uint8)
    y = np.array(["cat", "dog"] * 20)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds = load_dataset(load("data: {source: npz, path: d.npz, image_size: [16, 16], "
                           "channels: 3}\n", tmp_path))
    assert ds.class_names == ["cat", "dog"]
    assert ds.x_train.shape[1:] == (16, 16, 3)


def test_npz_without_labels_is_located(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", images=np.zeros((4, 8, 8)))
    loaded = load("data:\n  source: npz\n  path: d.npz\n", tmp_path)
    with pytest.raises(SpecError) as err:
        load_dataset(loaded)
    assert str(err.value).startswith(f"{tmp_path / 'space.yaml'}:3:9: data.path:")
    assert "has no array 'x' or 'y' (it has: images)" in str(err.value)


def test_folder_of_mixed_sizes_channels_and_corrupt_files(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    for i in range(6):
        write(root / "a" / f"{i}.png", "RGB", (20 + i, 30), 40)
        write(root / "b" / f"{i}.jpg", "L", (16, 16), 200, "JPEG")
    write(root / "a" / "alpha.png", "RGBA", (10, 10), 50)
    write(root / "b" / "odd.bmp", "P", (9, 12), 3, "BMP")
    write(root / "b" / "anim.gif", "RGB", (12, 12), 90, "GIF")
    (root / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    (root / "b" / "empty.jpg").write_bytes(b"")
    (root / "b" / "notes.txt").write_text("not an image, not counted")
    loaded = load("data: {source: directory, path: imgs, image_size: [24, 24], "
                  "validation_split: 0.3}\n", tmp_path)
    ds = load_dataset(loaded)
    assert ds.class_names == ["a", "b"]
    assert ds.skipped == 2
    assert ds.warnings == [f"skipped 2 unreadable image file(s) of 17 in {root}"]
    assert len(ds.x_train) + len(ds.x_val) == 15
    assert ds.x_train.shape[1:] == (24, 24, 3)  # colour images present: 3 channels


def test_folder_of_gray_images_gives_one_channel_and_common_size(tmp_path: Path) -> None:
    root = tmp_path / "g"
    for i in range(4):
        write(root / "x" / f"{i}.png", "L", (14, 10), 30 + i)
        write(root / "y" / f"{i}.png", "L", (14, 10), 220 - i)
    ds = load_dataset(load("data: {source: directory, path: g}\n", tmp_path))
    assert ds.x_train.shape[1:] == (10, 14, 1)  # (height, width) of the images themselves


@pytest.mark.parametrize("layout, message", [
    ({}, "no images in"),
    ({"only": 3}, "has images of 1 class (only)"),
])
def test_unusable_folders_are_located(tmp_path: Path, layout: dict[str, int],
                                      message: str) -> None:
    root = tmp_path / "imgs"
    root.mkdir()
    (root / "empty_class").mkdir()
    for name, count in layout.items():
        for i in range(count):
            write(root / name / f"{i}.png", "L", (8, 8), 10 * i)
    loaded = load("data:\n  source: directory\n  path: imgs\n", tmp_path)
    with pytest.raises(SpecError) as err:
        load_dataset(loaded)
    assert str(err.value).startswith(f"{tmp_path / 'space.yaml'}:3:9: data.path: ")
    assert message in str(err.value)


def test_folder_with_no_readable_image(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        (root / name / "x.png").write_bytes(b"garbage")
    with pytest.raises(SpecError, match=r"none of the 2 image files .* could be decoded"):
        load_dataset(load("data: {source: directory, path: imgs}\n", tmp_path))


def test_pipeline_batches_floats_and_shuffles_by_seed() -> None:
    x = np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1)
    y = np.arange(20)

    def order(seed: int) -> list[int]:
        return [int(v) for _, b in pipeline(x, y, 8, training=True, seed=seed) for v in b]

    first = order(1)
    assert sorted(first) == list(range(20)) and first != list(range(20))
    assert order(1) == first
    batch_x, _ = next(iter(pipeline(x, y, 8, training=False, seed=0)))
    assert batch_x.dtype.name == "float32" and batch_x.shape == (8, 1, 1, 1)


def npz_of(tmp_path: Path, images: int, classes: int = 5) -> Path:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (images, 6, 6)).astype(np.uint8)
    x[:, 0, 0] = np.arange(images) % 256  # no two images alike
    x[:, 0, 1] = np.arange(images) // 256
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(images) % classes)
    return tmp_path / "d.npz"


@pytest.mark.parametrize(("images", "setting", "expected"), [
    (1999, "null", 0), (2000, "null", 200), (2500, "0", 0), (1000, "0.3", 300)])
def test_test_split_default_and_explicit(tmp_path: Path, images: int, setting: str,
                                         expected: int) -> None:
    npz_of(tmp_path, images)
    data = load_dataset(load(f"data: {{source: npz, path: d.npz, validation_split: 0.2, "
                             f"test_split: {setting}}}\n", tmp_path))
    assert data.test_images == expected
    assert len(data.x_val) == pytest.approx(0.2 * images, abs=1)  # of the whole, either way
    assert len(data.x_train) + len(data.x_val) + expected == images
    if expected:
        assert f"{expected} test images held out" in data.split_note
        np.testing.assert_array_equal(np.bincount(data.y_test), [expected // 5] * 5)
        seen = {row.tobytes() for row in np.concatenate([data.x_train, data.x_val])}
        assert not any(row.tobytes() in seen for row in data.x_test)
    else:
        assert "no test split" in data.split_note
        if setting == "null":
            assert "fewer than 2000 images" in data.split_note


def test_no_test_split_keeps_the_validation_images_of_before(tmp_path: Path) -> None:
    """Data under 2,000 images splits exactly as it did before test splits existed."""
    from sklearn.model_selection import train_test_split

    data = load_dataset(load("data: {source: digits, validation_split: 0.25, seed: 3}\n",
                             tmp_path))
    assert data.test_images == 0 and data.x_test is None
    y = np.asarray(__import__("sklearn.datasets").datasets.load_digits().target)
    _, idx_val = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y,
                                  random_state=3)
    np.testing.assert_array_equal(data.y_val, y[idx_val])


def test_a_split_that_leaves_a_class_out_is_located(tmp_path: Path) -> None:
    npz_of(tmp_path, 2400, classes=300)  # 240 test images cannot hold 300 classes
    with pytest.raises(SpecError) as error:
        load_dataset(load("data: {source: npz, path: d.npz}\n", tmp_path))
    # the part at fault is named (it was data.validation_split, whatever the part), with
    # the numbers and the fix
    message = str(error.value)
    assert "data.test_split: test_split 0.1 holds out 240 of 2400 images for 300 classes" \
        in message and "raise test_split to at least 0.13" in message
