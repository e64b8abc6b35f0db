"""The relational schema: typed SQLAlchemy 2.x models shared by SQLite and PostgreSQL.

Times are stored as integer unix seconds (UTC) in ``interactions`` because ratings
arrive by the million and are compared, sorted and split by time; everything
people read (created_at, ...) is a timezone-aware ``DateTime``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for
# tables that grow by millions of rows.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# Stable constraint names so Alembic migrations are identical on both databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Interaction kinds pigen understands; ingestion rejects anything else.
INTERACTION_KINDS = ("rating", "view", "click", "purchase")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON}


class User(Base):
    """A shopper, known to the outside world by ``external_id``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Item(Base):
    """A catalog product and the attributes the generator is conditioned on."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    category: Mapped[str] = mapped_column(String(64), index=True)
    # Body colour as "#rrggbb"; None until extracted from the image.
    colour: Mapped[str | None] = mapped_column(String(7))
    colour_name: Mapped[str | None] = mapped_column(String(32))
    pattern: Mapped[str | None] = mapped_column(String(32))
    # Absolute path of the product image (validated at ingest).
    image_path: Mapped[str | None] = mapped_column(String(1024))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Interaction(Base):
    """One event of a user with an item, identified by its natural key.

    The primary key (user, item, kind, occurred_at) is the natural key: the bulk
    loaders skip rows whose key exists, so re-ingesting a file is a no-op. There
    is no surrogate id; on SQLite the table is WITHOUT ROWID, so the table *is*
    the key's B-tree (one structure to update per row instead of two, which
    roughly halved bulk-insert time), and "this user's history" is a range scan.
    There is deliberately no index on item_id alone: per-item questions are
    answered from the ratings matrix.
    """

    __tablename__ = "interactions"
    __table_args__ = {"sqlite_with_rowid": False}

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    # Unix seconds, UTC. Files without timestamps get 0 ("undated").
    occurred_at: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class ModelVersion(Base):
    """A trained artifact on disk (safe formats only) and what produced it.

    At most one version per kind is active; activation swaps in one transaction,
    enforced by a partial unique index.
    """

    __tablename__ = "model_versions"
    __table_args__ = (
        Index(
            "uq_model_versions_one_active",
            "kind",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    path: Mapped[str] = mapped_column(String(1024))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)


class GeneratedImage(Base):
    """An image pigen made, with everything needed to make it again."""

    __tablename__ = "generated_images"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    recsys_version_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    generator_version_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    # The condition vector as a list of floats plus its layout version.
    condition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seed: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The service's opaque image id: a hash of (user, model versions, condition,
    # seed), so the same request names the same row and the image is made once.
    content_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Where the user's factor came from ("model", "folded", "prior"; None: explicit).
    source: Mapped[str | None] = mapped_column(String(16))


# --- experiments ---

#: Lifecycle of an experiment: configured, serving traffic, finished (never restarted).
EXPERIMENT_STATUSES = ("draft", "running", "stopped")
#: Storefront events the experiment engine counts; a purchase carries its value.
EVENT_KINDS = ("view", "click", "add_to_cart", "purchase")


class Experiment(Base):
    """An A/B experiment: weighted variants, traffic coverage and the salt of its hash.

    ``variants`` is a list of ``{"name", "weight", "config"}`` in a fixed order:
    the order decides which hash range each variant owns, so it is never edited
    once the experiment has started (that would move assigned users).
    """

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(2000), default="")
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Share of users in the experiment, in [0, 1]; raising it only adds users.
    coverage: Mapped[float] = mapped_column(Float, default=1.0)
    salt: Mapped[str] = mapped_column(String(64))
    # The analysis plan fixed before any data (primary, secondary and guardrail
    # metrics, correction, minimum effect); None: the default plan.
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ExperimentExposure(Base):
    """The first time a user saw a variant of an experiment.

    Users are keyed by their external id, not ``users.id``: storefront visitors
    are exposed long before (or without ever) rating anything. One row per
    (experiment, user, variant), so a user seen in two variants shows up twice
    and the analysis can exclude them.
    """

    __tablename__ = "experiment_exposures"
    __table_args__ = (
        Index("uq_experiment_exposures_once", "experiment_id", "user_external_id", "variant",
              unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("experiments.id", ondelete="CASCADE")
    )
    user_external_id: Mapped[str] = mapped_column(String(128))
    variant: Mapped[str] = mapped_column(String(64))
    exposed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Event(Base):
    """A storefront event (view, click, add_to_cart, purchase), idempotent by client id."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_user_time", "user_external_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Chosen by the client, so a retried POST is recognised and stored once.
    client_event_id: Mapped[str] = mapped_column(String(128), unique=True)
    user_external_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    item_external_id: Mapped[str | None] = mapped_column(String(128))
    # Purchase value in the store's currency; 0 for other kinds.
    value: Mapped[float] = mapped_column(Float, default=0.0)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- campaigns ---

#: Lifecycle of a campaign: defined, being generated, every image written, stopped by an error.
CAMPAIGN_STATUSES = ("created", "running", "completed", "failed")
#: A shard is waiting, claimed by a runner (or left so by a killed one), or written.
SHARD_STATUSES = ("pending", "running", "done")


class Campaign(Base):
    """A batch of images made for each user of a segment, with everything to remake it.

    The segment is resolved once, at creation, into ``campaign_users``, and the
    model versions are pinned, so a rerun (or a resume after a crash) makes the
    same images for the same users whatever happened to the store since.
    """

    __tablename__ = "campaigns"
    # A worker's run holds one of N run slots (N: the concurrent-runs setting);
    # two running campaigns can never hold the same slot, so N bounds the runs.
    __table_args__ = (
        Index("uq_campaigns_run_slot", "run_slot", unique=True,
              sqlite_where=text("status = 'running'"),
              postgresql_where=text("status = 'running'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # created -> queued (the API) -> running (a worker or `pigen campaign run`)
    # -> completed | failed.
    status: Mapped[str] = mapped_column(String(16), default="created", index=True)
    # The validated segment definition (see pigen.service.campaigns.definition).
    segment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    images_per_user: Mapped[int] = mapped_column(Integer)
    diversity: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(BigInteger)
    output_dir: Mapped[str] = mapped_column(String(1024))
    # Users per shard and images per generator forward pass: both fix how work is
    # batched, so both are stored (the same batches give byte-identical images).
    shard_size: Mapped[int] = mapped_column(Integer)
    batch_size: Mapped[int] = mapped_column(Integer)
    generator_version_id: Mapped[int] = mapped_column(BigId, ForeignKey("model_versions.id"))
    recsys_version_id: Mapped[int] = mapped_column(BigId, ForeignKey("model_versions.id"))
    # Ratings newer than this (unix seconds) are ignored, so later ratings cannot
    # change a resumed campaign's images.
    ratings_until: Mapped[int] = mapped_column(BigInteger)
    n_users: Mapped[int] = mapped_column(Integer)
    n_shards: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The run's lease: who runs it and until when (renewed while it works). A
    # lease that has run out (its runner died) may be taken over; None: nobody.
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_slot: Mapped[int | None] = mapped_column(Integer)  # None: a command-line run


class CampaignUser(Base):
    """The segment as resolved at creation: user ``position`` of a campaign, in shard order."""

    __tablename__ = "campaign_users"

    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))


class CampaignShard(Base):
    """Users ``[start, start + size)`` of a campaign; ``done`` once its files are all written."""

    __tablename__ = "campaign_shards"

    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # Times the shard was claimed: > 1 means a run died (or was killed) inside it.
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    images: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A claim is a lease, taken by compare-and-set: only a pending shard, or a
    # running one whose lease ran out, can be claimed.
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# --- service ---

#: API key scopes, weakest first: each scope grants the ones before it.
API_KEY_SCOPES = ("read", "write", "admin")


class ApiKey(Base):
    """An API key, stored hashed: the secret itself is shown once, at creation.

    ``prefix`` is the key's public head (``pgk_<prefix>_...``), so a request's key
    is found by an indexed lookup and then compared by hash in constant time.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the whole key
    name: Mapped[str] = mapped_column(String(128), default="")
    scope: Mapped[str] = mapped_column(String(16))  # one of API_KEY_SCOPES
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
