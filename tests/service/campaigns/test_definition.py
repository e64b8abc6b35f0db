"""Campaign definitions: the command line's segment forms and what is rejected."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from pigen.service.campaigns.definition import (
    ActiveSince,
    AllUsers,
    CampaignSpec,
    RatedCategory,
    TopActive,
    UserIds,
    parse_segment,
)


def test_short_forms(tmp_path: Path) -> None:
    assert parse_segment("all") == AllUsers()
    assert parse_segment("active-since=2024-05-01") == ActiveSince(
        since=datetime(2024, 5, 1, tzinfo=UTC))
    assert parse_segment("category=T-shirt/top:4") == RatedCategory(
        category="T-shirt/top", min_rating=4.0)
    assert parse_segment("category=Dress") == RatedCategory(category="Dress")
    assert parse_segment("top=50") == TopActive(n=50)
    assert parse_segment("ids=a, b,c") == UserIds(user_ids=["a", "b", "c"])
    (tmp_path / "ids.txt").write_text("u1\n\nu2\n")
    assert parse_segment(f"ids=@{tmp_path / 'ids.txt'}") == UserIds(user_ids=["u1", "u2"])


@pytest.mark.parametrize(("text", "message"), [
    ("everyone", "bad segment 'everyone'"),
    ("vip=1", "unknown segment kind 'vip'"),
    ("top=0", "greater than or equal to 1"),
    ("top=many", "valid integer"),
    ("active-since=yesterday", "valid datetime"),
    ("ids=a,b,a", "user ids listed twice: \\['a'\\]"),
    ("ids=@/nonexistent/ids.txt", "cannot read the id list"),
    ('{"kind": "all", "extra": 1}', "Extra inputs are not permitted"),
    ('{"kind": "vip"}', "does not match any of the expected tags"),
])
def test_bad_segments_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_segment(text)


def test_spec_bounds(tmp_path: Path) -> None:
    base = {"name": "spring", "segment": {"kind": "all"}, "output_dir": tmp_path}
    assert CampaignSpec(**base).images_per_user == 4
    for bad in ({"images_per_user": 0}, {"diversity": -1}, {"seed": -1}, {"seed": 2**63},
                {"shard_size": 0}, {"colour": "red"}, {"name": ""}):
        with pytest.raises(ValidationError):
            CampaignSpec(**{**base, **bad})
