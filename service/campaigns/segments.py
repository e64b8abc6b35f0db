"""Who is in a segment: one SQLAlchemy query per segment kind, users in primary-key order.

Every query returns ``users.id`` values sorted ascending, so a segment resolves
to the same ordered list on SQLite and PostgreSQL (the order fixes the shards).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, exists, func, select

from pigen.data.schema import Interaction, Item, User
from pigen.service.campaigns.definition import (
    ActiveSince,
    AllUsers,
    RatedCategory,
    Segment,
    TopActive,
    UserIds,
)

# Ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits.
_CHUNK = 5_000


class SegmentError(ValueError):
    """The segment cannot be resolved (unknown category or user ids, or nobody in it)."""


def select_users(connection: Connection, segment: Segment) -> list[int]:
    """``users.id`` of every user in ``segment``, ascending; raises :class:`SegmentError`.

    An empty segment is an error: a campaign for nobody is a mistake, not a job.
    """
    if isinstance(segment, UserIds):
        user_ids = _known_ids(connection, segment.user_ids)
    else:
        if isinstance(segment, RatedCategory):
            _check_category(connection, segment.category)
        user_ids = list(connection.execute(_query(segment)).scalars())
    if not user_ids:
        raise SegmentError(f"the segment selects no users ({segment.kind})")
    return user_ids


def _query(segment: Segment) -> Select[Any]:
    if isinstance(segment, AllUsers):
        return select(User.id).order_by(User.id)
    if isinstance(segment, ActiveSince):
        active = exists().where(Interaction.user_id == User.id,
                                Interaction.occurred_at >= segment.since_unix)
        return select(User.id).where(active).order_by(User.id)
    if isinstance(segment, RatedCategory):
        condition = [Interaction.user_id == User.id, Interaction.kind == "rating",
                     Item.id == Interaction.item_id, Item.category == segment.category]
        if segment.min_rating is not None:
            condition.append(Interaction.value >= segment.min_rating)
        rated = exists().where(*condition)
        return select(User.id).where(rated).order_by(User.id)
    if isinstance(segment, TopActive):
        counts = (select(Interaction.user_id.label("user_id"))
                  .group_by(Interaction.user_id)
                  .order_by(func.count().desc(), Interaction.user_id)
                  .limit(segment.n).subquery())
        return select(counts.c.user_id).order_by(counts.c.user_id)
    raise TypeError(f"no query for segment {segment!r}")


def _known_ids(connection: Connection, external_ids: list[str]) -> list[int]:
    found: dict[str, int] = {}
    for start in range(0, len(external_ids), _CHUNK):
        chunk = external_ids[start:start + _CHUNK]
        rows = connection.execute(select(User.external_id, User.id)
                                  .where(User.external_id.in_(chunk)))
        found.update((external, pk) for external, pk in rows)
    unknown = [i for i in external_ids if i not in found]
    if unknown:
        shown = ", ".join(repr(i) for i in unknown[:5])
        more = f" and {len(unknown) - 5:,} more" if len(unknown) > 5 else ""
        raise SegmentError(f"{len(unknown):,} user ids are not in the store: {shown}{more}")
    return sorted(found.values())


def _check_category(connection: Connection, category: str) -> None:
    known = list(connection.execute(select(Item.category).distinct()
                                    .order_by(Item.category)).scalars())
    if category not in known:
        raise SegmentError(f"no item has category {category!r}; the catalog has: "
                           + (", ".join(known) or "no items at all"))
