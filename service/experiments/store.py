"""Every database read and write of the experiment engine (SQLAlchemy 2, both backends).

Writes that must happen once — an exposure per (experiment, user, variant), an
event per client event id — are ``INSERT ... ON CONFLICT DO NOTHING``, so
concurrent replicas and retried requests cannot double-count.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pigen.data.database import session_scope
from pigen.data.schema import (
    EVENT_KINDS,
    Event,
    Experiment,
    ExperimentExposure,
    Interaction,
    User,
)
from pigen.service.experiments.assignment import (
    Design,
    Variant,
    validate_coverage,
    validate_user_id,
)
from pigen.service.experiments.plan import AnalysisPlan
from pigen.service.experiments.variant_config import check_generator_versions, validate_config


class UnknownExperiment(LookupError):
    """No experiment has this key (HTTP 404)."""


class UnknownDimension(ValueError):
    """A breakdown by a dimension the users have not got (HTTP 422)."""


class ExperimentConflict(RuntimeError):
    """The request clashes with what is stored: a taken key, a wrong status, a reused
    client event id with different content (HTTP 409)."""


@dataclass(frozen=True)
class ExperimentInfo:
    """An experiment as stored, detached from any session."""

    id: int
    key: str
    description: str
    status: str
    variants: tuple[Variant, ...]
    coverage: float
    salt: str
    created_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None
    plan: AnalysisPlan = field(default_factory=AnalysisPlan)

    @property
    def design(self) -> Design:
        return Design(key=self.key, salt=self.salt, variants=self.variants,
                      coverage=self.coverage)

    @property
    def control(self) -> str:
        """The arm others are compared to: the one named ``control``, else the first."""
        names = [v.name for v in self.variants]
        return "control" if "control" in names else names[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the API's and ``--json``'s form); the salt stays private."""
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "key": self.key, "description": self.description, "status": self.status,
            "variants": [v.to_dict() for v in self.variants], "coverage": self.coverage,
            "control": self.control, "created_at": iso(self.created_at),
            "started_at": iso(self.started_at), "stopped_at": iso(self.stopped_at),
            "plan": self.plan.to_dict(),
        }


def _info(row: Experiment) -> ExperimentInfo:
    return ExperimentInfo(
        id=row.id, key=row.key, description=row.description, status=row.status,
        variants=tuple(Variant(v["name"], v["weight"], v.get("config", {}))
                       for v in row.variants),
        coverage=row.coverage, salt=row.salt, created_at=row.created_at,
        started_at=row.started_at, stopped_at=row.stopped_at,
        plan=AnalysisPlan.from_dict(row.analysis) if row.analysis else AnalysisPlan(),
    )


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _row(session: Session, key: str) -> Experiment:
    row = session.scalar(select(Experiment).where(Experiment.key == key))
    if row is None:
        raise UnknownExperiment(f"no experiment with key {key!r}")
    return row


def create_experiment(
    engine: Engine,
    key: str,
    variants: Sequence[Variant],
    description: str = "",
    coverage: float = 1.0,
    salt: str | None = None,
    max_images_per_request: int | None = None,
    plan: AnalysisPlan | None = None,
) -> ExperimentInfo:
    """Store a new experiment in ``draft``; the salt is random unless given (tests).

    Each variant's config is checked first (:mod:`.variant_config`): against
    ``max_images_per_request`` when given, and its generator version against the
    registry. ``ValueError`` says what is wrong, and nothing is stored.
    """
    design = Design(key=key, salt=salt or secrets.token_hex(8), variants=tuple(variants),
                    coverage=coverage)
    if len(description) > 2000:
        raise ValueError("description is longer than 2000 characters")
    for variant in design.variants:
        validate_config(variant.name, variant.config, max_images_per_request)
    check_generator_versions(engine, [(v.name, v.config) for v in design.variants])
    try:
        with session_scope(engine) as session:
            row = Experiment(key=design.key, description=description, status="draft",
                             variants=[v.to_dict() for v in design.variants],
                             coverage=design.coverage, salt=design.salt,
                             analysis=(plan or AnalysisPlan()).to_dict())
            session.add(row)
            session.flush()
            return _info(row)
    except IntegrityError:
        raise ExperimentConflict(f"an experiment with key {key!r} exists") from None


def get_experiment(engine: Engine, key: str) -> ExperimentInfo:
    """The experiment with ``key``; :class:`UnknownExperiment` if there is none."""
    with session_scope(engine) as session:
        return _info(_row(session, key))


def list_experiments(engine: Engine, status: str | None = None) -> list[ExperimentInfo]:
    """All experiments, newest first (optionally only those with ``status``)."""
    query = select(Experiment).order_by(Experiment.created_at.desc(), Experiment.id.desc())
    if status is not None:
        query = query.where(Experiment.status == status)
    with session_scope(engine) as session:
        return [_info(row) for row in session.scalars(query)]


def start_experiment(engine: Engine, key: str, now: datetime | None = None) -> ExperimentInfo:
    """draft -> running. A stopped experiment never restarts: its users' data are final."""
    with session_scope(engine) as session:
        row = _row(session, key)
        if row.status != "draft":
            raise ExperimentConflict(f"experiment {key!r} is {row.status}; only a draft starts")
        row.status, row.started_at = "running", _now(now)
        return _info(row)


def stop_experiment(engine: Engine, key: str, now: datetime | None = None) -> ExperimentInfo:
    """running -> stopped; the analysis window closes at the stop time."""
    with session_scope(engine) as session:
        row = _row(session, key)
        if row.status != "running":
            raise ExperimentConflict(f"experiment {key!r} is {row.status}; only a running "
                                     "experiment stops")
        row.status, row.stopped_at = "stopped", _now(now)
        return _info(row)


def set_coverage(engine: Engine, key: str, coverage: float) -> ExperimentInfo:
    """Change the share of traffic in the experiment; assigned users keep their variant."""
    coverage = validate_coverage(coverage)
    with session_scope(engine) as session:
        row = _row(session, key)
        row.coverage = coverage
        return _info(row)


def _insert_ignoring_duplicates(session: Session, table: Any, values: dict[str, Any],
                                keys: list[str]) -> bool:
    """INSERT unless a row with the same ``keys`` exists; True when a row was written."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql"
              else sqlite.insert)
    # RETURNING, not rowcount: the ORM path reports -1 rows on psycopg for this statement.
    statement = (insert(table.__table__).values(**values)
                 .on_conflict_do_nothing(index_elements=keys).returning(table.__table__.c.id))
    return session.execute(statement).scalar() is not None


def log_exposure(engine: Engine, experiment_id: int, user_id: str, variant: str,
                 at: datetime | None = None) -> bool:
    """Record that ``user_id`` saw ``variant``; True the first time, False ever after."""
    values = {"experiment_id": experiment_id, "user_external_id": validate_user_id(user_id),
              "variant": variant, "exposed_at": _now(at)}
    with session_scope(engine) as session:
        return _insert_ignoring_duplicates(
            session, ExperimentExposure, values,
            ["experiment_id", "user_external_id", "variant"])


@dataclass(frozen=True)
class NewEvent:
    """A storefront event as a client sends it; validated on construction."""

    client_event_id: str
    user_id: str
    kind: str
    value: float = 0.0
    item_id: str | None = None
    occurred_at: datetime | None = None  # None: when the server receives it

    def __post_init__(self) -> None:
        if not isinstance(self.client_event_id, str) or not 0 < len(self.client_event_id) <= 128:
            raise ValueError("client_event_id must be 1-128 characters")
        validate_user_id(self.user_id)
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(EVENT_KINDS)}; got {self.kind!r}")
        value = float(self.value)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"value must be a finite number >= 0, got {self.value!r}")
        if self.kind != "purchase" and value != 0.0:
            raise ValueError(f"only a purchase carries a value, not a {self.kind}")
        if self.item_id is not None and not 0 < len(self.item_id) <= 128:
            raise ValueError("item_id must be 1-128 characters")
        if self.occurred_at is not None and self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must carry a timezone (e.g. 2026-01-01T12:00:00Z)")
        object.__setattr__(self, "value", value)


@dataclass(frozen=True)
class StoredEvent:
    """An event as stored, and whether this call stored it (False: a retry)."""

    id: int
    client_event_id: str
    user_id: str
    kind: str
    value: float
    item_id: str | None
    occurred_at: datetime
    created: bool


def record_event(engine: Engine, event: NewEvent, now: datetime | None = None) -> StoredEvent:
    """Store ``event`` once per client event id.

    Sending the same event again returns the stored one with ``created=False``;
    reusing the id for a *different* event raises :class:`ExperimentConflict`,
    because silently keeping either would lose data.
    """
    received = _now(now)
    values = {"client_event_id": event.client_event_id, "user_external_id": event.user_id,
              "kind": event.kind, "item_external_id": event.item_id, "value": event.value,
              "occurred_at": event.occurred_at or received, "received_at": received}
    with session_scope(engine) as session:
        created = _insert_ignoring_duplicates(session, Event, values, ["client_event_id"])
        row = session.scalars(
            select(Event).where(Event.client_event_id == event.client_event_id)).one()
        same = (row.user_external_id, row.kind, row.item_external_id, row.value) == (
            event.user_id, event.kind, event.item_id, event.value)
        if event.occurred_at is not None:
            same = same and row.occurred_at == event.occurred_at
        if not created and not same:
            raise ExperimentConflict(
                f"client_event_id {event.client_event_id!r} was already used for another event")
        return StoredEvent(id=row.id, client_event_id=row.client_event_id,
                           user_id=row.user_external_id, kind=row.kind, value=row.value,
                           item_id=row.item_external_id, occurred_at=row.occurred_at,
                           created=created)


@dataclass(frozen=True)
class ExposureRow:
    user_id: str
    variant: str
    exposed_at: datetime


@dataclass(frozen=True)
class PurchaseRow:
    """An outcome event: a purchase (with its value) or an add-to-cart (value 0)."""

    user_id: str
    value: float
    occurred_at: datetime
    kind: str = "purchase"


def load_exposures(engine: Engine, experiment_id: int) -> list[ExposureRow]:
    """Every exposure of the experiment (several rows for a user seen in several arms)."""
    query = (select(ExperimentExposure.user_external_id, ExperimentExposure.variant,
                    ExperimentExposure.exposed_at)
             .where(ExperimentExposure.experiment_id == experiment_id)
             .order_by(ExperimentExposure.id))
    with session_scope(engine) as session:
        return [ExposureRow(*row) for row in session.execute(query)]


def load_purchases(engine: Engine, experiment_id: int, since: datetime,
                   until: datetime) -> list[PurchaseRow]:
    """Purchases in ``[since, until]`` by users exposed to the experiment."""
    exposed = (select(ExperimentExposure.user_external_id)
               .where(ExperimentExposure.experiment_id == experiment_id))
    query = (select(Event.user_external_id, Event.value, Event.occurred_at)
             .where(Event.kind == "purchase", Event.user_external_id.in_(exposed),
                    Event.occurred_at >= since, Event.occurred_at <= until)
             .order_by(Event.occurred_at, Event.id))
    with session_scope(engine) as session:
        return [PurchaseRow(*row) for row in session.execute(query)]


def _ratings_per_user(exposed: Select[str], since: datetime, before: datetime
                      ) -> Select[str, int]:
    """(user external id, ratings given in [since, before)) for the exposed users."""
    return (select(User.external_id, func.count())
            .join(Interaction, Interaction.user_id == User.id)
            .where(User.external_id.in_(exposed),
                   Interaction.occurred_at >= int(since.timestamp()),
                   Interaction.occurred_at < int(before.timestamp()))
            .group_by(User.external_id))


def load_pre_activity(engine: Engine, experiment_id: int, before: datetime,
                      lookback: timedelta = timedelta(days=28)) -> dict[str, float]:
    """Each exposed user's activity in the ``lookback`` before ``before`` (CUPED's X).

    Activity = storefront events plus ratings/interactions in the window: what a
    user did before assignment predicts what they do after, and cannot depend on
    the variant, which is what CUPED needs. Users with none are absent (0).
    """
    exposed = (select(ExperimentExposure.user_external_id)
               .where(ExperimentExposure.experiment_id == experiment_id))
    since = before - lookback
    events = (select(Event.user_external_id, func.count())
              .where(Event.user_external_id.in_(exposed), Event.occurred_at >= since,
                     Event.occurred_at < before)
              .group_by(Event.user_external_id))
    ratings = _ratings_per_user(exposed, since, before)
    activity: dict[str, float] = {}
    with session_scope(engine) as session:
        for query in (events, ratings):
            for user, count in session.execute(query):
                activity[user] = activity.get(user, 0.0) + float(count)
    return activity



OUTCOME_KINDS = ("purchase", "add_to_cart")


def load_outcome_events(engine: Engine, experiment_id: int, since: datetime,
                        until: datetime) -> list[PurchaseRow]:
    """Purchases and add-to-carts in ``[since, until]`` by users exposed to the experiment."""
    exposed = (select(ExperimentExposure.user_external_id)
               .where(ExperimentExposure.experiment_id == experiment_id))
    query = (select(Event.user_external_id, Event.value, Event.occurred_at, Event.kind)
             .where(Event.kind.in_(OUTCOME_KINDS), Event.user_external_id.in_(exposed),
                    Event.occurred_at >= since, Event.occurred_at <= until)
             .order_by(Event.occurred_at, Event.id))
    with session_scope(engine) as session:
        return [PurchaseRow(*row) for row in session.execute(query)]


#: The pre-period covariates of multi-covariate CUPED, per exposed user.
COVARIATES = ("activity", "pre_conversion", "pre_revenue", "pre_orders", "pre_add_to_cart",
              "ratings", "known_user", "account_age_days")


def load_pre_period(engine: Engine, experiment_id: int, before: datetime,
                    lookback: timedelta = timedelta(days=28)) -> dict[str, dict[str, float]]:
    """Per exposed user, :data:`COVARIATES` measured before ``before`` (0 when absent).

    The pre-period of every metric (purchases, revenue, add-to-carts), overall
    activity (events and ratings), and what is known at assignment (whether the
    shopper has an account and its age in days). All precede assignment, so none
    can depend on the variant.
    """
    exposed = (select(ExperimentExposure.user_external_id)
               .where(ExperimentExposure.experiment_id == experiment_id))
    since = before - lookback
    events = (select(Event.user_external_id, Event.kind, func.count(), func.sum(Event.value))
              .where(Event.user_external_id.in_(exposed), Event.occurred_at >= since,
                     Event.occurred_at < before)
              .group_by(Event.user_external_id, Event.kind))
    ratings = _ratings_per_user(exposed, since, before)
    accounts = select(User.external_id, User.created_at).where(User.external_id.in_(exposed))
    out: dict[str, dict[str, float]] = {}

    def row(user: str) -> dict[str, float]:
        return out.setdefault(user, dict.fromkeys(COVARIATES, 0.0))

    with session_scope(engine) as session:
        for user, kind, count, total in session.execute(events):
            values = row(user)
            values["activity"] += float(count)
            if kind == "purchase":
                values["pre_orders"] += float(count)
                values["pre_revenue"] += float(total or 0.0)
                values["pre_conversion"] = 1.0
            elif kind == "add_to_cart":
                values["pre_add_to_cart"] = 1.0
        for user, count in session.execute(ratings):
            values = row(user)
            values["activity"] += float(count)
            values["ratings"] = float(count)
        for user, created in session.execute(accounts):
            values = row(user)
            values["known_user"] = 1.0
            values["account_age_days"] = max(0.0, (before - created).total_seconds() / 86_400)
    return out


#: Columns of ``users`` that identify rather than describe a shopper: no breakdown by them.
_NOT_DIMENSIONS = ("id", "external_id")


def user_dimension_columns() -> tuple[str, ...]:
    """The ``users`` columns a result may be broken down by."""
    return tuple(c.name for c in User.__table__.columns if c.name not in _NOT_DIMENSIONS)


def load_user_dimension(engine: Engine, experiment_id: int, column: str) -> dict[str, str]:
    """Each exposed user's value of ``users.<column>`` as text (absent: not a known user).

    ``column`` must be one of :func:`user_dimension_columns` (it is looked up on the
    table, never put into SQL text). Datetimes are bucketed by month.
    """
    if column not in user_dimension_columns():
        raise UnknownDimension(f"cannot break down by {column!r}; users columns: "
                         f"{', '.join(user_dimension_columns()) or 'none'}")
    attribute = User.__table__.columns[column]
    exposed = (select(ExperimentExposure.user_external_id)
               .where(ExperimentExposure.experiment_id == experiment_id))
    query = select(User.external_id, attribute).where(User.external_id.in_(exposed))
    with session_scope(engine) as session:
        return {user: (value.strftime("%Y-%m") if isinstance(value, datetime) else str(value))
                for user, value in session.execute(query)}
