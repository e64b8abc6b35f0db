"""SplitPlan: how to split, as one value the CLI parses and the tuner repeats on train.

``"time"``, ``"random"`` or ``"last-n:N"`` (with a ``min_ratings`` floor). The
tuner carves validation out of train with the same plan, so validation asks
the question test asks.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pigen.data.idmap import IdMap
from pigen.recsys.splits import SPLIT_KINDS, Split, SplitKind, make_split

SPLIT_HELP = "time (last 20% per user), random (seeded 20%) or last-n:N (each user's last N)."


@dataclass(frozen=True)
class SplitPlan:
    """One way of splitting an interactions table; :meth:`apply` does it."""

    kind: SplitKind
    last_n: int = 5  # "last-n": interactions held out per user
    min_ratings: int = 0  # "last-n": users with fewer stay wholly in train
    test_fraction: float = 0.2  # "time" and "random"
    seed: int = 0  # "random"

    def __post_init__(self) -> None:
        if self.kind not in SPLIT_KINDS:
            raise ValueError(f"split kind must be one of {SPLIT_KINDS}, got {self.kind!r}")
        if self.last_n < 1 or self.min_ratings < 0:
            raise ValueError("last-n needs N >= 1 and min_ratings >= 0")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")

    @classmethod
    def parse(cls, text: str, min_ratings: int = 0, seed: int = 0) -> SplitPlan:
        """``"time"``, ``"random"`` or ``"last-n:5"``; a ValueError names what is wrong."""
        name, sep, count = text.partition(":")
        if name == "last-n":
            if not sep or not count.isdigit() or int(count) < 1:
                raise ValueError(f"split {text!r}: write last-n:N with N a positive integer")
            return cls("last-n", last_n=int(count), min_ratings=min_ratings, seed=seed)
        if sep or name not in ("time", "random"):
            raise ValueError(f"split must be time, random or last-n:N, not {text!r}")
        return cls(name, min_ratings=min_ratings, seed=seed)  # type: ignore[arg-type]

    def apply(self, interactions: pd.DataFrame, users: IdMap | None = None,
              items: IdMap | None = None) -> Split:
        """Split ``interactions`` (see :func:`pigen.recsys.splits.make_split`)."""
        return make_split(interactions, self.kind, test_fraction=self.test_fraction,
                          seed=self.seed, users=users, items=items, last_n=self.last_n,
                          min_ratings=self.min_ratings)

    @property
    def label(self) -> str:
        """``time``, ``random`` or ``last-n:5``: as the CLI spells it."""
        return f"last-n:{self.last_n}" if self.kind == "last-n" else self.kind
