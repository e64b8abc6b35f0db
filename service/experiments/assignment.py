"""Deterministic, sticky, uniform assignment of users to variants (pure, no I/O).

A user's place in an experiment is a function of ``(salt, key, user id)`` only,
so every replica, every request and every day gives the same answer without
storing assignments. Two independent hashes are used:

* the *variant hash* ``H(salt, key, user)`` picks the variant by the range of
  ``[0, 1)`` it falls in (ranges in variant order, widths proportional to weight);
* the *coverage hash* ``H(salt, key, "coverage", user)`` decides whether the user
  is in the experiment at all (in when below ``coverage``).

Because the variant hash ignores coverage, raising or lowering coverage only
adds or removes users; nobody moves from one variant to another. Fields are
joined with the ASCII unit separator (``\\x1f``), which keys, salts and user
ids may not contain, so ``("ab", "c")`` and ``("a", "bc")`` never collide.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SEPARATOR = "\x1f"
_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MAX_USER_ID = 128


def validate_user_id(user_id: str) -> str:
    """``user_id`` unchanged if usable as a hash input, else ``ValueError`` saying why."""
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("user_id must be a non-empty string")
    if len(user_id) > _MAX_USER_ID:
        raise ValueError(f"user_id is longer than {_MAX_USER_ID} characters")
    if not user_id.isprintable():
        raise ValueError("user_id must not contain control characters")
    return user_id


def unit_hash(*parts: str) -> float:
    """A number in ``[0, 1)`` from SHA-256 of the joined parts (uniform, stable across runs).

    Python's ``hash`` is salted per process, so it cannot be used: replicas must agree.
    The first 8 bytes give 2**64 buckets, far finer than any weight anyone sets.
    """
    digest = hashlib.sha256(SEPARATOR.join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@dataclass(frozen=True)
class Variant:
    """One arm: a name, a traffic weight and the configuration the server applies."""

    name: str
    weight: float
    # What the image endpoint does for this arm, e.g. {"mode": "catalog"} or
    # {"generator_version": 3}; opaque to the engine.
    config: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"variant name {self.name!r} must be 1-64 letters, digits, _ . -")
        if isinstance(self.weight, bool) or not isinstance(self.weight, int | float):
            raise ValueError(f"variant {self.name!r}: weight must be a number")
        if not math.isfinite(self.weight) or self.weight <= 0:
            raise ValueError(f"variant {self.name!r}: weight must be > 0, got {self.weight!r}")
        if not isinstance(self.config, Mapping):
            raise ValueError(f"variant {self.name!r}: config must be a JSON object")
        object.__setattr__(self, "weight", float(self.weight))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "weight": self.weight, "config": dict(self.config)}


@dataclass(frozen=True)
class Design:
    """What assignment needs to know about an experiment; validated on construction."""

    key: str
    salt: str
    variants: tuple[Variant, ...]
    coverage: float = 1.0

    def __post_init__(self) -> None:
        validate_key(self.key)
        if not self.salt or not self.salt.isprintable():
            raise ValueError("salt must be a non-empty printable string")
        if len(self.variants) < 2:
            raise ValueError("an experiment needs at least two variants")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        validate_coverage(self.coverage)

    @property
    def shares(self) -> tuple[float, ...]:
        """Each variant's expected share of assigned users (weights normalised)."""
        total = sum(v.weight for v in self.variants)
        return tuple(v.weight / total for v in self.variants)

    def bounds(self) -> tuple[float, ...]:
        """Upper ends of the variants' ranges in ``[0, 1)``; the last is exactly 1."""
        running, out = 0.0, []
        for share in self.shares:
            running += share
            out.append(running)
        out[-1] = 1.0  # rounding must never leave a sliver of users unassigned
        return tuple(out)

    def in_coverage(self, user_id: str) -> bool:
        """Whether ``user_id`` takes part at the current coverage."""
        return unit_hash(self.salt, self.key, "coverage", validate_user_id(user_id)) < self.coverage

    def variant_of(self, user_id: str) -> Variant:
        """The variant ``user_id`` gets if covered (ignores coverage, so it never changes)."""
        u = unit_hash(self.salt, self.key, validate_user_id(user_id))
        for variant, upper in zip(self.variants, self.bounds(), strict=True):
            if u < upper:
                return variant
        return self.variants[-1]  # unreachable: u < 1 == bounds()[-1]

    def assign(self, user_id: str) -> Variant | None:
        """The user's variant, or None when coverage leaves them out of the experiment."""
        return self.variant_of(user_id) if self.in_coverage(user_id) else None


def validate_key(key: str) -> str:
    """``key`` unchanged if it is a valid experiment key (lowercase, URL-safe, <= 64)."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError(
            f"experiment key {key!r} must be 1-64 characters: lowercase letters, digits, _ . -"
        )
    return key


def validate_coverage(coverage: float) -> float:
    """``coverage`` unchanged if it is a share of traffic in ``[0, 1]``."""
    if isinstance(coverage, bool) or not isinstance(coverage, int | float):
        raise ValueError("coverage must be a number in [0, 1]")
    if not 0.0 <= coverage <= 1.0:
        raise ValueError(f"coverage must be in [0, 1], got {coverage!r}")
    return float(coverage)


def parse_variant(spec: str) -> Variant:
    """``name=weight[:json-config]`` (the CLI's form) -> :class:`Variant`.

    >>> parse_variant('personalized=1:{"mode": "generated"}').config["mode"]
    'generated'
    """
    import json

    name, sep, rest = spec.partition("=")
    if not sep:
        raise ValueError(f"variant {spec!r} must look like name=weight[:json-config]")
    weight_text, colon, config_text = rest.partition(":")
    try:
        weight = float(weight_text)
    except ValueError:
        raise ValueError(f"variant {spec!r}: weight {weight_text!r} is not a number") from None
    config: Any = {}
    if colon:
        try:
            config = json.loads(config_text)
        except json.JSONDecodeError as error:
            raise ValueError(f"variant {spec!r}: config is not valid JSON ({error})") from None
    return Variant(name=name.strip(), weight=weight, config=config)
