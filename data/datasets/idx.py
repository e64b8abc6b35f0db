"""Read IDX files (the MNIST / Fashion-MNIST container), gzipped or not.

The format: two zero bytes, a dtype code, the number of dimensions, then one
big-endian uint32 per dimension and the values, big-endian, row-major. We check
every part of it, because a truncated download otherwise turns into a reshape
error (or silently wrong data) far from the file that caused it.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"

# IDX dtype code -> big-endian numpy dtype (from the format's definition).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx_bytes(path: Path | str) -> bytes:
    """The raw IDX bytes of ``path``, decompressed when it is gzip (sniffed, not by name).

    Raises ``ValueError`` naming the file when the gzip stream is corrupt or cut short.
    """
    path = Path(path)
    raw = path.read_bytes()
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise ValueError(f"{path}: corrupt or truncated gzip stream ({exc})") from exc


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX ``data`` into an array in native byte order.

    Parameters
    ----------
    data
        The uncompressed file contents.
    name
        What to call the data in error messages (usually the file path).

    Returns
    -------
    np.ndarray
        Shape given by the header's dimensions; dtype from its code (uint8 for
        Fashion-MNIST images and labels). The array owns its memory and is writable.
    """
    if len(data) < 4:
        raise ValueError(f"{name}: {len(data)} bytes is too short for an IDX header")
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0:
        raise ValueError(
            f"{name}: bad IDX magic {data[:4].hex()} (must start with two zero bytes; "
            "is this an IDX file?)"
        )
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{name}: unknown IDX dtype code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares zero dimensions")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"{name}: header declares {ndim} dimensions but the file ends after {len(data)} bytes"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = header_size + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(
            f"{name}: {what}: dims {dims} of {dtype.name} need {expected} bytes, found {len(data)}"
        )
    values = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(dims)
    # astype to native order copies, so the result does not pin the file's bytes.
    return values.astype(dtype.newbyteorder("="))


def read_idx(path: Path | str) -> np.ndarray:
    """Read one IDX file (``.gz`` or plain) into a native-order numpy array.

    Raises ``ValueError`` naming ``path`` and what is wrong (bad magic, unknown
    dtype, size that does not match the header, corrupt gzip).
    """
    return parse_idx(read_idx_bytes(path), name=str(path))
