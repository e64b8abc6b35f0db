"""One user's interactions, for serving: fold-in, explanations, "already rated" filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, select

from pigen.data.schema import INTERACTION_KINDS, Interaction, Item, User


@dataclass(frozen=True)
class UserHistory:
    """A user's interactions in time order (empty for a user the store does not know)."""

    user_id: str
    known: bool  # False: no such user in the store
    item_ids: tuple[str, ...]
    values: np.ndarray  # (N,) float32
    timestamps: np.ndarray  # (N,) int64 unix seconds

    def __len__(self) -> int:
        return len(self.item_ids)

    def newer_than(self, timestamp: int) -> bool:
        """Whether anything happened after ``timestamp`` (e.g. a model's training cut-off)."""
        return bool(len(self.timestamps) and self.timestamps.max() > timestamp)


def read_user_history(engine: Engine, user_id: str,
                      kinds: Sequence[str] = ("rating",)) -> UserHistory:
    """All interactions of the given kinds of one user, oldest first."""
    unknown = set(kinds) - set(INTERACTION_KINDS)
    if unknown:
        raise ValueError(f"unknown interaction kinds {sorted(unknown)}")
    with engine.connect() as connection:
        user_pk = connection.execute(
            select(User.id).where(User.external_id == user_id)).scalar_one_or_none()
        if user_pk is None:
            return UserHistory(user_id, False, (), np.zeros(0, np.float32),
                               np.zeros(0, np.int64))
        rows = connection.execute(
            select(Item.external_id, Interaction.value, Interaction.occurred_at)
            .join(Item, Item.id == Interaction.item_id)
            .where(Interaction.user_id == user_pk, Interaction.kind.in_(list(kinds)))
            .order_by(Interaction.occurred_at, Item.external_id)
        ).all()
    return UserHistory(
        user_id, True, tuple(r[0] for r in rows),
        np.array([r[1] for r in rows], dtype=np.float32),
        np.array([r[2] for r in rows], dtype=np.int64),
    )


def latest_interaction_time(engine: Engine, kinds: Sequence[str] = ("rating",)) -> int:
    """The newest interaction's time (0 for an empty store): a model's training cut-off."""
    from sqlalchemy import func

    with engine.connect() as connection:
        value = connection.execute(select(func.max(Interaction.occurred_at)).where(
            Interaction.kind.in_(list(kinds)))).scalar_one_or_none()
    return int(value or 0)
