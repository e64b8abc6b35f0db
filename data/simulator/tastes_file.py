"""The hidden-tastes file: JSON lines, kept apart from the ratings so nothing trains on it.

Line 1 is a header: format name and version, the vocabularies (which fix the
meaning of every number) and the simulator config that drew the tastes. Each
further line is one shopper::

    {"shopper": "shopper-00001",
     "category": {"Bag": 0.02, ...},        # every category, sums to 1
     "colours": {"red": 0.7, "navy": 0.3},  # favourites only, heaviest first
     "pattern": {"checked": 0.1, ...}}      # every pattern, sums to 1

Floats are written at full precision, so a save/load round trip is exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from pigen.data.idmap import IdMap
from pigen.data.simulator.config import SimulatorConfig
from pigen.data.simulator.tastes import Tastes, Vocab

FORMAT = "pigen-tastes"
VERSION = 1


def save_tastes(path: str | Path, tastes: Tastes, config: SimulatorConfig | None = None) -> Path:
    """Write ``tastes`` (and the config that drew them, if given); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "n_shoppers": len(tastes),
        "vocab": tastes.vocab.to_dict(),
        "config": None if config is None else config.to_dict(),
    }
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(header) + "\n")
        for shopper_id in tastes.shoppers.ids:
            taste = tastes.taste(shopper_id)
            out.write(
                json.dumps(
                    {
                        "shopper": taste.shopper_id,
                        "category": taste.category,
                        "colours": taste.colours,
                        "pattern": taste.pattern,
                    }
                )
                + "\n"
            )
    return path


def read_tastes_header(path: str | Path) -> dict[str, Any]:
    """The header line alone (vocab, config, count), checked for format and version."""
    with Path(path).open(encoding="utf-8") as lines:
        header = json.loads(lines.readline())
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} file")
    if header.get("version") != VERSION:
        raise ValueError(f"{path}: unsupported {FORMAT} version {header.get('version')!r}")
    return header


def _row(values: dict[str, float], names: tuple[str, ...], what: str, shopper: str) -> list[float]:
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"{shopper}: {what} names outside the vocabulary: {unknown}")
    return [float(values.get(name, 0.0)) for name in names]


def load_tastes(path: str | Path) -> Tastes:
    """Read a file written by :func:`save_tastes` back into :class:`Tastes`."""
    header = read_tastes_header(path)
    vocab = Vocab(**{k: tuple(v) for k, v in header["vocab"].items()})
    ids: list[str] = []
    category: list[list[float]] = []
    colour: list[list[float]] = []
    pattern: list[list[float]] = []
    with Path(path).open(encoding="utf-8") as lines:
        next(lines)
        for line in lines:
            if not line.strip():
                continue
            record = json.loads(line)
            shopper = str(record["shopper"])
            ids.append(shopper)
            category.append(_row(record["category"], vocab.categories, "category", shopper))
            colour.append(_row(record["colours"], vocab.colours, "colour", shopper))
            pattern.append(_row(record["pattern"], vocab.patterns, "pattern", shopper))
    if len(ids) != header["n_shoppers"]:
        raise ValueError(f"{path}: header says {header['n_shoppers']} shoppers, found {len(ids)}")
    n = len(ids)
    return Tastes(
        vocab=vocab,
        shoppers=IdMap(tuple(ids)),
        category=np.array(category, dtype=np.float64).reshape(n, len(vocab.categories)),
        colour=np.array(colour, dtype=np.float64).reshape(n, len(vocab.colours)),
        pattern=np.array(pattern, dtype=np.float64).reshape(n, len(vocab.patterns)),
    )
