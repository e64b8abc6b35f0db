"""Segments select the right users, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from pigen.data.schema import User
from pigen.service.campaigns.definition import parse_segment
from pigen.service.campaigns.segments import SegmentError, select_users
from tests.service.campaigns.conftest import LATE

A = [f"a{u}" for u in range(10)]
B = [f"b{u}" for u in range(10)]


def selected(engine: Engine, text: str) -> list[str]:
    """External ids of the segment's users, in the order the segment returns them."""
    with engine.connect() as connection:
        pks = select_users(connection, parse_segment(text))
        names = dict(connection.execute(select(User.id, User.external_id)).all())
    assert pks == sorted(pks)  # campaign order is primary-key order
    return [names[pk] for pk in pks]


def test_segments_select_the_right_users(store_engine: Engine) -> None:
    assert sorted(selected(store_engine, "all")) == sorted([*A, *B, "fan", "lurker"])
    since = datetime.fromtimestamp(LATE, UTC).isoformat()
    assert sorted(selected(store_engine, f"active-since={since}")) == B
    assert sorted(selected(store_engine, "category=Dress")) == sorted([*A, "fan"])
    # a0-a2 gave their dresses 2 stars, the fan 4.
    assert sorted(selected(store_engine, "category=Dress:4")) == sorted([*A[3:], "fan"])
    assert sorted(selected(store_engine, "category=Dress:5")) == A[3:]
    assert selected(store_engine, "top=1") == ["fan"]
    assert sorted(selected(store_engine, "top=1000")) == sorted([*A, *B, "fan"])  # not lurker
    assert selected(store_engine, "ids=b3,a1,lurker") == ["a1", "b3", "lurker"]


def test_segment_json_form(store_engine: Engine) -> None:
    assert selected(store_engine, '{"kind": "top_active", "n": 1}') == ["fan"]


@pytest.mark.parametrize(("text", "message"), [
    ("active-since=2100-01-01", "selects no users"),
    ("category=Hat", "no item has category 'Hat'; the catalog has: Bag, Dress"),
    ("ids=a1,nobody,ghost", "2 user ids are not in the store: 'nobody', 'ghost'"),
])
def test_segment_errors_name_the_problem(store_engine: Engine, text: str, message: str) -> None:
    with pytest.raises(SegmentError, match=message), store_engine.connect() as connection:
        select_users(connection, parse_segment(text))


def test_long_id_lists_are_chunked(store_engine: Engine) -> None:
    ids = ",".join(["a1"] + [f"x{k}" for k in range(12_000)])
    with pytest.raises(SegmentError, match="12,000 user ids are not in the store"), \
            store_engine.connect() as connection:
        select_users(connection, parse_segment(f"ids={ids}"))
