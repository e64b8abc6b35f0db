"""The shopper side of the store for the API: who exists, what they rated, new events.

The one module of the service that writes interactions; routes call it and never
build SQL themselves. Values are bound parameters, never SQL text.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from pigen.data.model_registry import ModelVersionInfo
from pigen.data.schema import Interaction, Item, User, utcnow
from pigen.recsys.als import ALSRecommender
from pigen.service.recsys_serving import FactorState, factor_state

#: Shoppers whose new factor source a POST of interactions reports (the first, by id).
REPORTED_USERS = 20


@dataclass(frozen=True)
class NewInteraction:
    user_id: str
    item_id: str
    kind: str
    value: float
    occurred_at: int | None  # None: now


@dataclass(frozen=True)
class RecordedInteractions:
    stored: int
    duplicates: int  # already present: a retried POST adds nothing
    users: tuple[FactorState, ...]  # at most REPORTED_USERS, sorted by id


class UnknownItems(ValueError):
    """Interactions named items the catalog does not have."""

    def __init__(self, item_ids: Sequence[str]) -> None:
        self.item_ids = list(item_ids)
        shown = ", ".join(repr(i) for i in self.item_ids[:10])
        super().__init__(f"unknown item{'s' if len(item_ids) > 1 else ''} {shown}")


def list_users(engine: Engine, limit: int, offset: int) -> tuple[list[tuple[str, int]], int]:
    """A page of shoppers (by external id) with their rating counts, and the total."""
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(User)).scalar_one()
        page = connection.execute(select(User.id, User.external_id)
                                  .order_by(User.external_id).limit(limit).offset(offset)).all()
        counts: dict[int, int] = {}
        if page:
            counts = dict(connection.execute(
                select(Interaction.user_id, func.count())
                .where(Interaction.user_id.in_([r.id for r in page]),
                       Interaction.kind == "rating")
                .group_by(Interaction.user_id)).all())
    return [(r.external_id, int(counts.get(r.id, 0))) for r in page], int(total)


def user_ratings(engine: Engine, user_id: str, limit: int
                 ) -> tuple[bool, list[tuple[str, float, int]]]:
    """(known, newest-first (item id, value, unix seconds)) of a shopper's ratings."""
    with engine.connect() as connection:
        user_pk = connection.execute(
            select(User.id).where(User.external_id == user_id)).scalar_one_or_none()
        if user_pk is None:
            return False, []
        rows = connection.execute(
            select(Item.external_id, Interaction.value, Interaction.occurred_at)
            .join(Item, Item.id == Interaction.item_id)
            .where(Interaction.user_id == user_pk, Interaction.kind == "rating")
            .order_by(Interaction.occurred_at.desc(), Item.external_id)
            .limit(limit)).all()
    return True, [(r[0], float(r[1]), int(r[2])) for r in rows]


def store_interactions(engine: Engine, events: Sequence[NewInteraction]) -> tuple[int, int]:
    """Store events in one transaction; returns (stored, already present).

    Unknown shoppers are created (a first rating makes a shopper); unknown items
    raise :class:`UnknownItems` and nothing is written.
    """
    now = int(time.time())
    with engine.begin() as connection:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        item_ids = sorted({e.item_id for e in events})
        items: dict[str, int] = dict(connection.execute(
            select(Item.external_id, Item.id).where(Item.external_id.in_(item_ids))).all())
        missing = [i for i in item_ids if i not in items]
        if missing:
            raise UnknownItems(missing)
        user_ids = sorted({e.user_id for e in events})
        connection.execute(
            dialect.insert(User.__table__).on_conflict_do_nothing(
                index_elements=["external_id"]),
            [{"external_id": u, "created_at": utcnow()} for u in user_ids])
        users: dict[str, int] = dict(connection.execute(
            select(User.external_id, User.id).where(User.external_id.in_(user_ids))).all())
        stored = 0
        # RETURNING says which rows were new on both databases (rowcount does not).
        insert = (dialect.insert(Interaction.__table__).on_conflict_do_nothing()
                  .returning(Interaction.__table__.c.user_id))
        for event in events:
            result = connection.execute(insert, {
                "user_id": users[event.user_id], "item_id": items[event.item_id],
                "kind": event.kind, "value": float(event.value),
                "occurred_at": event.occurred_at if event.occurred_at is not None else now})
            stored += len(result.all())
    return stored, len(events) - stored



def record_interactions(engine: Engine, events: Sequence[NewInteraction],
                        model: tuple[ModelVersionInfo, ALSRecommender]) -> RecordedInteractions:
    """Store ``events``, then say where each shopper's factor comes from now.

    Nothing is refit: the next request of a shopper folds their new ratings in.
    """
    stored, duplicates = store_interactions(engine, events)
    users = sorted({e.user_id for e in events})[:REPORTED_USERS]
    return RecordedInteractions(stored, duplicates,
                                tuple(factor_state(engine, u, model) for u in users))
