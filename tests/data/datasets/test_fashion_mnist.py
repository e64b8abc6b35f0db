"""Fashion-MNIST loader: search order, plain and gzipped files, verified downloads."""

from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from pigen.data.datasets import fashion_mnist as fm
from pigen.data.datasets.fashion_mnist import CLASS_NAMES, load_fashion_mnist

OFFICIAL_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


@pytest.fixture()
def no_debian(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Hide Debian's copy so the search reaches the cache and the download."""
    missing = tmp_path / "no-debian"
    monkeypatch.setattr(fm, "DEBIAN_DIR", missing)
    return missing


def write_fake_split(folder: Path, n: int) -> None:
    """A tiny, structurally valid 'train' split (not the real data)."""
    folder.mkdir(parents=True, exist_ok=True)
    images = (np.arange(n * 28 * 28) % 256).astype(np.uint8).tobytes()
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", n, 28, 28)
    (folder / "train-images-idx3-ubyte").write_bytes(header + images)
    labels = bytes([0, 0, 8, 1]) + struct.pack(">I", n) + bytes(i % 10 for i in range(n))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))


def test_class_names_are_the_official_ones() -> None:
    assert CLASS_NAMES == OFFICIAL_NAMES


def test_loads_debian_copy(debian_fashion_dir: Path, tmp_path: Path) -> None:
    data = load_fashion_mnist("test", download=False, cache_dir=tmp_path / "cache")
    assert data.source == debian_fashion_dir
    assert data.images.shape == (10000, 28, 28) and data.images.dtype == np.uint8
    assert data.labels.shape == (10000,) and data.labels.dtype == np.uint8
    assert data.class_names == OFFICIAL_NAMES and data.split == "test" and len(data) == 10000


def test_root_holding_copies_is_searched_first(debian_fashion_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "copies"
    root.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (root / name).symlink_to(debian_fashion_dir / name)
    data = load_fashion_mnist("test", root=root, download=False)
    assert data.source == root
    reference = load_fashion_mnist("test", download=False)
    np.testing.assert_array_equal(data.images, reference.images)
    np.testing.assert_array_equal(data.labels, reference.labels)


def test_root_with_plain_files(debian_fashion_dir: Path, tmp_path: Path) -> None:
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / stem).write_bytes(
            gzip.decompress((debian_fashion_dir / f"{stem}.gz").read_bytes())
        )
    data = load_fashion_mnist("test", root=tmp_path, download=False)
    assert data.source == tmp_path and data.images.shape == (10000, 28, 28)


def test_root_beats_debian_and_may_mix_gzip_and_plain(tmp_path: Path) -> None:
    write_fake_split(tmp_path / "fake", n=3)
    data = load_fashion_mnist("train", root=tmp_path / "fake", download=False)
    assert len(data) == 3 and data.labels.tolist() == [0, 1, 2]


def test_cache_is_searched_after_debian(no_debian: Path, tmp_path: Path) -> None:
    write_fake_split(tmp_path / "cache", n=4)
    data = load_fashion_mnist("train", download=False, cache_dir=tmp_path / "cache")
    assert data.source == tmp_path / "cache" and len(data) == 4


def test_missing_everywhere_says_where_it_looked(no_debian: Path, tmp_path: Path) -> None:
    root, cache = tmp_path / "root", tmp_path / "cache"
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist("train", root=root, download=False, cache_dir=cache)
    message = str(info.value)
    for place in (root, no_debian, cache):
        assert str(place) in message
    assert "apt-get install -y dataset-fashion-mnist" in message


def test_mismatched_counts_are_rejected(tmp_path: Path) -> None:
    write_fake_split(tmp_path, n=3)
    labels = bytes([0, 0, 8, 1]) + struct.pack(">I", 2) + bytes([1, 2])
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    with pytest.raises(ValueError, match="3 images but .* 2 labels"):
        load_fashion_mnist("train", root=tmp_path, download=False)


@pytest.fixture()
def mirror(
    debian_fashion_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_debian: Path
) -> Path:
    """A local 'official mirror' (a file:// URL) holding the test split; no network."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(debian_fashion_dir / name, folder / name)
    monkeypatch.setattr(fm, "BASE_URL", folder.as_uri() + "/")
    return folder


def test_download_verifies_and_caches(mirror: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    data = load_fashion_mnist("test", cache_dir=cache)
    assert data.source == cache and data.images.shape == (10000, 28, 28)
    assert sorted(p.name for p in cache.iterdir()) == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]


def test_tampered_download_is_rejected_and_not_kept(mirror: Path, tmp_path: Path) -> None:
    labels_gz = mirror / "t10k-labels-idx1-ubyte.gz"
    payload = bytearray(gzip.decompress(labels_gz.read_bytes()))
    payload[100] = (payload[100] + 1) % 10  # still a valid IDX file, just not the real one
    labels_gz.write_bytes(gzip.compress(bytes(payload)))
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="SHA-256 of the uncompressed t10k-labels-idx1-ubyte"):
        load_fashion_mnist("test", cache_dir=cache)
    # The good images file stays; the bad labels file and every temporary file are gone.
    assert sorted(p.name for p in cache.iterdir()) == ["t10k-images-idx3-ubyte.gz"]


def test_failed_download_becomes_file_not_found(
    no_debian: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fm, "BASE_URL", (tmp_path / "offline").as_uri() + "/")
    with pytest.raises(FileNotFoundError, match="(?s)download from .* failed.*apt-get install"):
        load_fashion_mnist("test", cache_dir=tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())


def test_unknown_split() -> None:
    with pytest.raises(ValueError, match="split must be"):
        load_fashion_mnist("validation")  # type: ignore[arg-type]
