"""The one model-file format: a single ``.npz`` of plain arrays, validated on load.

Every file carries ``format_version`` and ``kind`` (which model wrote it). The
loader opens it with ``allow_pickle=False`` and accepts exactly the expected
keys: implicit's own ``load`` sets every key as an attribute unchecked (a key
named ``recommend`` replaced the method), so nothing here trusts a file's keys.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from pigen.data.idmap import IdMap

FORMAT_VERSION = 1
_META_KEYS = frozenset({"format_version", "kind"})


class ModelFileError(ValueError):
    """A model file is missing, of another kind or version, or has unexpected contents."""


def save_arrays(path: str | Path, kind: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` plus the format header to ``path`` atomically.

    Written to a temporary file in the same folder and renamed, so a service
    hot-swapping models never reads a half-written file.
    """
    path = Path(path)
    clash = _META_KEYS & set(arrays)
    if clash:
        raise ValueError(f"reserved keys in model arrays: {sorted(clash)}")
    for key, value in arrays.items():
        if value.dtype == object:
            raise TypeError(f"array {key!r} has dtype object; it would need pickling")
    header = {"format_version": np.asarray(FORMAT_VERSION), "kind": np.asarray(kind)}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **header, **arrays)  # type: ignore[arg-type]  # numpy stub quirk
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_kind(path: str | Path, data: bytes | None = None) -> str:
    """Which model wrote ``path`` (``"als"``, ``"popularity"``), without loading the rest.

    ``data``, when given, is the file's bytes already read (see :func:`load_arrays`).
    """
    with _open(path, data) as npz:
        if "kind" not in npz.files:
            raise ModelFileError(f"{path}: not a pigen model file (no 'kind' entry)")
        return str(npz["kind"][()])


def load_arrays(path: str | Path, kind: str, keys: frozenset[str],
                data: bytes | None = None) -> dict[str, np.ndarray]:
    """Read a file written by :func:`save_arrays` for ``kind``; exactly ``keys`` must be there.

    ``data``, when given, is the file's bytes already read (``path`` then only
    names it): a caller that checked those bytes' sha256 parses exactly them.

    Raises :class:`ModelFileError` naming what is missing, extra, or of the wrong
    kind/version. Shapes are the caller's to check (they depend on each other).
    """
    with _open(path, data) as npz:
        found = set(npz.files)
        missing = sorted((keys | _META_KEYS) - found)
        extra = sorted(found - keys - _META_KEYS)
        if missing or extra:
            raise ModelFileError(f"{path}: missing keys {missing}, unexpected keys {extra}")
        version = npz["format_version"]
        if version.shape != () or int(version) != FORMAT_VERSION:
            raise ModelFileError(
                f"{path}: format_version {version!r}, this code reads {FORMAT_VERSION}"
            )
        file_kind = str(npz["kind"][()])
        if file_kind != kind:
            raise ModelFileError(f"{path}: holds a {file_kind!r} model, not {kind!r}")
        try:
            return {key: npz[key] for key in keys}
        except ValueError as error:  # e.g. an object array, which would need pickle
            raise ModelFileError(f"{path}: unreadable entry ({error})") from None


def expect_shape(path: str | Path, name: str, array: np.ndarray, shape: tuple[int, ...]) -> None:
    """Raise :class:`ModelFileError` unless ``array.shape == shape``."""
    if array.shape != shape:
        raise ModelFileError(f"{path}: {name} has shape {array.shape}, expected {shape}")


def expect_dtype_kind(path: str | Path, name: str, array: np.ndarray, kinds: str) -> None:
    """Raise :class:`ModelFileError` unless ``array.dtype.kind`` is one of ``kinds`` (e.g. "f")."""
    if array.dtype.kind not in kinds:
        raise ModelFileError(f"{path}: {name} has dtype {array.dtype}, expected kind {kinds!r}")


def id_map_from(path: str | Path, name: str, array: np.ndarray) -> IdMap:
    """An :class:`IdMap` from a saved 1-D unicode id array (unique ids)."""
    expect_dtype_kind(path, name, array, "U")
    if array.ndim != 1:
        raise ModelFileError(f"{path}: {name} must be 1-D, has shape {array.shape}")
    try:
        return IdMap.from_ids(array.tolist())
    except ValueError as error:
        raise ModelFileError(f"{path}: {name}: {error}") from None


def _open(path: str | Path, data: bytes | None = None) -> np.lib.npyio.NpzFile:
    try:
        source = Path(path) if data is None else io.BytesIO(data)
        return np.load(source, allow_pickle=False)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{path}: not a readable .npz file ({error})") from None
