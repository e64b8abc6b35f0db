"""IDX reader: the real Fashion-MNIST files, hand-written files, and broken ones."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from pigen.data.datasets.idx import parse_idx, read_idx


def idx_bytes(code: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    """An IDX file written by hand: magic (0, 0, code, ndim), big-endian dims, payload."""
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


def test_real_train_split(debian_fashion_dir: Path) -> None:
    images = read_idx(debian_fashion_dir / "train-images-idx3-ubyte.gz")
    labels = read_idx(debian_fashion_dir / "train-labels-idx1-ubyte.gz")
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (60000,) and labels.dtype == np.uint8
    assert labels.min() == 0 and labels.max() == 9
    assert np.bincount(labels).tolist() == [6000] * 10
    assert images.min() == 0 and images.max() == 255


def test_real_test_split(debian_fashion_dir: Path) -> None:
    images = read_idx(debian_fashion_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(debian_fashion_dir / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28)
    assert np.bincount(labels).tolist() == [1000] * 10


@pytest.mark.parametrize("compress", [False, True])
def test_uint8_round_trip(tmp_path: Path, compress: bool) -> None:
    expected = np.arange(6, dtype=np.uint8).reshape(2, 3)
    data = idx_bytes(0x08, (2, 3), expected.tobytes())
    path = tmp_path / "tiny.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    got = read_idx(path)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)
    got[0, 0] = 9  # the result owns writable memory


def test_multibyte_types_are_big_endian_on_disk() -> None:
    values = np.array([[1, -2], [300, -40000]], dtype=">i4")
    got = parse_idx(idx_bytes(0x0C, (2, 2), values.tobytes()))
    assert got.dtype == np.dtype("int32") and got.dtype.isnative
    np.testing.assert_array_equal(got, [[1, -2], [300, -40000]])
    floats = np.array([0.5, -1.25, 3.0], dtype=">f4")
    np.testing.assert_array_equal(parse_idx(idx_bytes(0x0D, (3,), floats.tobytes())), floats)


def test_bad_magic_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.idx"
    path.write_bytes(b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(ValueError, match=r"bad\.idx: bad IDX magic"):
        read_idx(path)


def test_unknown_dtype_code(tmp_path: Path) -> None:
    path = tmp_path / "code.idx"
    path.write_bytes(idx_bytes(0x07, (1,), b"\x00"))
    with pytest.raises(ValueError, match="unknown IDX dtype code 0x07"):
        read_idx(path)


def test_truncated_payload(tmp_path: Path) -> None:
    path = tmp_path / "short.idx"
    path.write_bytes(idx_bytes(0x08, (2, 28, 28), bytes(28 * 28 + 5)))
    with pytest.raises(ValueError, match=r"short\.idx: truncated.*need 1584 bytes, found 805"):
        read_idx(path)


def test_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "header.idx"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">I", 10))
    with pytest.raises(ValueError, match="declares 3 dimensions but the file ends"):
        read_idx(path)


def test_trailing_bytes(tmp_path: Path) -> None:
    path = tmp_path / "long.idx"
    path.write_bytes(idx_bytes(0x08, (2,), b"\x01\x02\x03"))
    with pytest.raises(ValueError, match="has trailing bytes"):
        read_idx(path)


def test_truncated_gzip(tmp_path: Path) -> None:
    whole = gzip.compress(idx_bytes(0x08, (100,), bytes(range(100))))
    path = tmp_path / "cut.idx.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=r"cut\.idx\.gz: corrupt or truncated gzip"):
        read_idx(path)
