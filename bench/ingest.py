"""Ingest speed: pigen's validated bulk path vs plain ``pandas.DataFrame.to_sql``.

Times 1,000,000 synthetic ratings (CSV file -> database) into SQLite and
PostgreSQL, both paths in the same run on the same file. pigen's figure includes
reading, validating every row, resolving ids, creating users and the unique
natural-key index; ``to_sql`` only reads the CSV and appends rows to a plain
table with no constraints, so the comparison is generous to the baseline.

    python bench/ingest.py [--rows 1000000] [--repeats 3] [--no-postgres]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402

from pigen.data.database import make_engine  # noqa: E402
from pigen.data.ingest import ingest_catalog_frame, ingest_ratings  # noqa: E402
from pigen.data.migrate import upgrade_database  # noqa: E402

POSTGRES_URL = os.environ.get("PIGEN_BENCH_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def make_files(folder: Path, rows: int, users: int, items: int) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(0)
    # Each (user, item) at most once, like a real ratings export.
    cells = rng.choice(users * items, size=rows, replace=False)
    ratings = pd.DataFrame({
        "user_id": "u" + pd.Series(cells // items).astype(str),
        "item_id": "i" + pd.Series(cells % items).astype(str),
        "rating": rng.integers(1, 6, rows),
        "timestamp": rng.integers(1_500_000_000, 1_700_000_000, rows),
    })
    path = folder / "ratings.csv"
    ratings.to_csv(path, index=False)
    catalog = pd.DataFrame({"item_id": [f"i{k}" for k in range(items)], "category": "Dress"})
    return path, catalog


@contextmanager
def sqlite_database(folder: Path) -> Iterator[Engine]:
    path = folder / f"{uuid.uuid4().hex}.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        yield engine
    finally:
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def postgres_database(_folder: Path) -> Iterator[Engine]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def time_pigen(database: Callable, folder: Path, path: Path, catalog: pd.DataFrame
               ) -> tuple[float, float]:
    """Seconds for a first ingest and for re-ingesting the same file."""
    with database(folder) as engine:
        upgrade_database(engine)
        ingest_catalog_frame(engine, catalog)
        first = ingest_ratings(engine, path)
        assert first.inserted == first.rows_read, first
        again = ingest_ratings(engine, path)
        assert again.inserted == 0, again
        return first.seconds, again.seconds


def time_to_sql(database: Callable, folder: Path, path: Path) -> float:
    with database(folder) as engine:
        started = time.perf_counter()
        frame = pd.read_csv(path)
        frame.to_sql("ratings_plain", engine, if_exists="append", index=False)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    databases: dict[str, Callable] = {"sqlite": sqlite_database}
    if not args.no_postgres:
        databases["postgresql"] = postgres_database
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, catalog = make_files(folder, args.rows, args.users, args.items)
        print(f"{args.rows:,} ratings ({args.users:,} users x {args.items:,} items), "
              f"{path.stat().st_size / 1e6:.0f} MB CSV, median of {args.repeats} runs\n")
        print(f"{'database':<11} {'pigen rows/s':>13} {'re-ingest s':>12} "
              f"{'to_sql rows/s':>14} {'pigen / to_sql':>15}")
        for name, database in databases.items():
            pigen, again, baseline = [], [], []
            for _ in range(args.repeats):  # interleaved so both see the same noise
                first, second = time_pigen(database, folder, path, catalog)
                pigen.append(first)
                again.append(second)
                baseline.append(time_to_sql(database, folder, path))
            ours, theirs = statistics.median(pigen), statistics.median(baseline)
            print(f"{name:<11} {args.rows / ours:>13,.0f} {statistics.median(again):>12.2f} "
                  f"{args.rows / theirs:>14,.0f} {theirs / ours:>14.2f}x")


if __name__ == "__main__":
    main()
