"""What the image endpoints call per request: the user's variants, and one exposure each.

A request for a user in a running experiment is served per their variant. The
keys a variant config may hold are checked at creation (:mod:`.variant_config`);
:class:`ServingPlan` gathers them (``n`` and ``seed`` travel in ``extra``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from pigen.service.experiments import store
from pigen.service.experiments.assignment import validate_user_id

_KNOWN = ("mode", "generator_version", "diversity")


@dataclass(frozen=True)
class Assignment:
    """A user's variant in one running experiment."""

    experiment: str
    experiment_id: int
    variant: str
    config: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "variant": self.variant,
                "config": dict(self.config)}


@dataclass(frozen=True)
class ServingPlan:
    """How to serve one request, merged from the user's assignments (first one wins)."""

    mode: str = "generated"
    generator_version: int | None = None
    diversity: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    assignments: tuple[Assignment, ...] = ()

    @property
    def variant(self) -> str | None:
        """``key:variant`` of each assignment, comma-joined; None outside every experiment."""
        if not self.assignments:
            return None
        return ",".join(f"{a.experiment}:{a.variant}" for a in self.assignments)

    def apply(self, n: int, seed: int, diversity: float,
              max_images: int | None = None) -> tuple[int, int, float]:
        """The request's ``(n, seed, diversity)`` with the variant's settings put over them.

        ``n`` is clamped to ``max_images`` (the server's cap): creation refuses a larger
        variant ``n``, but the cap may be lowered while an experiment runs.
        """
        n = int(self.extra.get("n", n))
        if max_images is not None:
            n = min(n, max_images)
        seed = int(self.extra.get("seed", seed))
        return n, seed, float(self.diversity) if self.diversity is not None else diversity


def variant_for_request(engine: Engine, user_id: str) -> list[Assignment]:
    """The user's variant in every running experiment whose coverage includes them.

    Pure hashing over the running experiments (one small query), so every
    replica answers the same without storing assignments.
    """
    validate_user_id(user_id)
    out = []
    for info in store.list_experiments(engine, status="running"):
        variant = info.design.assign(user_id)
        if variant is not None:
            out.append(Assignment(info.key, info.id, variant.name, variant.config))
    return out


def log_exposure(engine: Engine, user_id: str, assignment: Assignment,
                 at: datetime | None = None) -> bool:
    """Record that ``user_id`` was served ``assignment``; True only the first time."""
    return store.log_exposure(engine, assignment.experiment_id, user_id, assignment.variant,
                              at=at)


def plan_for_request(engine: Engine, user_id: str, expose: bool = True) -> ServingPlan:
    """Assign, log exposures (once per user and experiment) and merge the variants' configs.

    Call it where the image is actually served: an exposure means the user saw
    the variant, and users who were assigned but never served must not count.
    """
    assignments = variant_for_request(engine, user_id)
    if expose:
        for assignment in assignments:
            log_exposure(engine, user_id, assignment)
    return merge_configs(assignments)


def merge_configs(assignments: Sequence[Assignment]) -> ServingPlan:
    """One :class:`ServingPlan` from several assignments; an earlier experiment's key wins."""
    merged: dict[str, Any] = {}
    for assignment in reversed(assignments):
        merged.update(assignment.config)
    known = {k: merged.pop(k) for k in _KNOWN if k in merged}
    return ServingPlan(**known, extra=merged, assignments=tuple(assignments))
