"""What a campaign is: a typed, validated definition (segment, images, seed, output).

Everything here is checked without touching the database or the disk; the
checks that need them (the segment selects someone, the output folder is
writable) run in :func:`pigen.service.campaigns.store.create_campaign` before
anything is written.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator

from pigen.data.typed_config import StrictModel

#: Seeds are stored as signed 64-bit integers.
MAX_SEED = 2**63 - 1


class _Strict(StrictModel):
    """The shared strict base (unknown keys refused), frozen: a definition is a record."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AllUsers(_Strict):
    """Every user in the store."""

    kind: Literal["all"] = "all"


class ActiveSince(_Strict):
    """Users with at least one interaction (any kind) at or after ``since``."""

    kind: Literal["active_since"] = "active_since"
    since: datetime

    @field_validator("since", mode="before")
    @classmethod
    def _day_or_time(cls, value: object) -> object:
        # A bare date means its midnight UTC; a naive time is read as UTC.
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        return value

    @field_validator("since")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @property
    def since_unix(self) -> int:
        return int(self.since.timestamp())


class RatedCategory(_Strict):
    """Users who rated an item of ``category`` (at least ``min_rating`` stars, if given)."""

    kind: Literal["rated_category"] = "rated_category"
    category: Annotated[str, Field(min_length=1, max_length=64)]
    min_rating: float | None = None


class TopActive(_Strict):
    """The ``n`` users with the most interactions (ties: the earlier user first)."""

    kind: Literal["top_active"] = "top_active"
    n: Annotated[int, Field(ge=1, le=10_000_000)]


class UserIds(_Strict):
    """An uploaded list of external user ids; every id must be known to the store."""

    kind: Literal["ids"] = "ids"
    user_ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=128)]],
                        Field(min_length=1)]

    @field_validator("user_ids")
    @classmethod
    def _no_repeats(cls, ids: list[str]) -> list[str]:
        seen: set[str] = set()
        repeated = [i for i in ids if i in seen or seen.add(i)]  # type: ignore[func-returns-value]
        if repeated:
            raise ValueError(f"user ids listed twice: {sorted(set(repeated))[:5]}")
        return ids


Segment = Annotated[AllUsers | ActiveSince | RatedCategory | TopActive | UserIds,
                    Field(discriminator="kind")]


class CampaignSpec(_Strict):
    """A campaign as a marketer defines it; model versions default to the active ones."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    segment: Segment
    output_dir: Path
    images_per_user: Annotated[int, Field(ge=1, le=64)] = 4
    # 0: every image the user's favourite; 1: their taste as it is; >1: broader.
    diversity: Annotated[float, Field(ge=0.0, le=10.0)] = 1.0
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    # Users per shard: the unit of work and of resumption. A few hundred keeps
    # the per-shard overhead (DB reads, one Parquet part) small against the images.
    shard_size: Annotated[int, Field(ge=1, le=100_000)] = 256
    # Images per generator forward pass; part of the definition because a
    # different batching may round floats differently.
    batch_size: Annotated[int, Field(ge=1, le=4096)] = 256
    generator_version_id: int | None = None
    recsys_version_id: int | None = None


def parse_segment(text: str) -> Segment:
    """A segment from the command line's short form or JSON.

    ``all``, ``active-since=2024-05-01``, ``category=Dress`` (``category=Dress:4``
    for ratings of 4 and up), ``top=1000``, ``ids=a,b,c``, ``ids=@users.txt`` (one
    id per line), or a JSON object such as ``{"kind": "top_active", "n": 10}``.
    Raises ``ValueError`` (pydantic's ``ValidationError`` is one) with the reason.
    """
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Segment] = TypeAdapter(Segment)
    text = text.strip()
    if text.startswith("{"):
        return adapter.validate_json(text)
    key, sep, value = text.partition("=")
    key = key.strip().lower().replace("_", "-")
    if key == "all" and not sep:
        return AllUsers()
    if not sep or not value.strip():
        raise ValueError(f"bad segment {text!r}: use all, active-since=DATE, category=NAME, "
                         "top=N, ids=A,B,... or ids=@FILE")
    value = value.strip()
    if key == "active-since":
        return adapter.validate_python({"kind": "active_since", "since": value})
    if key == "category":
        name, colon, stars = value.rpartition(":")
        if colon and _is_number(stars):
            return adapter.validate_python(
                {"kind": "rated_category", "category": name, "min_rating": float(stars)})
        return adapter.validate_python({"kind": "rated_category", "category": value})
    if key == "top":
        return adapter.validate_python({"kind": "top_active", "n": value})
    if key == "ids":
        if value.startswith("@"):
            path = Path(value[1:])
            try:
                lines = path.read_text().splitlines()
            except OSError as error:
                raise ValueError(f"cannot read the id list {path}: {error.strerror}") from None
            ids = [line.strip() for line in lines if line.strip()]
        else:
            ids = [part.strip() for part in value.split(",") if part.strip()]
        return adapter.validate_python({"kind": "ids", "user_ids": ids})
    raise ValueError(f"unknown segment kind {key!r}: use all, active-since, category, top or ids")


def describe_segment(segment: Segment) -> str:
    """One readable line, for status output."""
    if isinstance(segment, AllUsers):
        return "all users"
    if isinstance(segment, ActiveSince):
        return f"users active since {segment.since.isoformat()}"
    if isinstance(segment, RatedCategory):
        stars = f" ({segment.min_rating:g}+ stars)" if segment.min_rating is not None else ""
        return f"users who rated {segment.category}{stars}"
    if isinstance(segment, TopActive):
        return f"top {segment.n:,} users by activity"
    return f"{len(segment.user_ids):,} listed users"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
