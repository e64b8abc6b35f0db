"""API keys: created once (the secret is shown then and never again), stored hashed.

A key looks like ``pgk_<prefix>_<secret>``: the prefix (8 hex) finds the row by an
indexed lookup, the SHA-256 of the whole key is compared in constant time. Keys
are 160 random bits, so a plain (unsalted, fast) hash is enough: there is no
dictionary to attack. Scopes are ordered, each granting the ones before it:
``read`` < ``write`` < ``admin``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pigen.data.database import session_scope
from pigen.data.schema import API_KEY_SCOPES, ApiKey, utcnow

KEY_PATTERN = re.compile(r"^pgk_([0-9a-f]{8})_([A-Za-z0-9_-]{20,64})$")
#: How an operator names a key: its id (as listed), its 8-hex prefix, or ``pgk_<prefix>...``.
KEY_REFERENCE = re.compile(r"^(?:(?P<id>[0-9]{1,18})|(?:pgk_)?(?P<prefix>[0-9a-f]{8})(?:_.*)?)$")


@dataclass(frozen=True)
class ApiKeyInfo:
    """A key as listed: never the secret."""

    id: int
    prefix: str
    name: str
    scope: str
    created_at: datetime
    revoked: bool


@dataclass(frozen=True)
class Principal:
    """Who a request is: the key's name and scope."""

    name: str
    scope: str

    def allows(self, needed: str) -> bool:
        return scope_allows(self.scope, needed)


def scope_allows(granted: str, needed: str) -> bool:
    """Whether a key of scope ``granted`` may do what needs ``needed``."""
    return API_KEY_SCOPES.index(granted) >= API_KEY_SCOPES.index(needed)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(engine: Engine, scope: str, name: str = "") -> tuple[str, ApiKeyInfo]:
    """Store a new key; returns (the key itself — show it once —, its listing)."""
    _check_scope(scope)
    with session_scope(engine) as session:
        prefix, key = _new_key(session)
        row = ApiKey(prefix=prefix, key_hash=hash_key(key), name=name, scope=scope)
        session.add(row)
        session.flush()
        return key, _info(row)


def rotate_api_key(engine: Engine, scope: str, name: str) -> tuple[str, ApiKeyInfo]:
    """One active key named ``name``, with a new secret: (the key — show it once —, listing).

    The oldest active key of that name is re-keyed in place (its earlier secret
    stops working) and any other active key of that name is revoked; with none,
    one is created. For a key a program makes at every start (``pigen demo``):
    starts do not pile up keys, and an old printed key dies with its run.
    """
    _check_scope(scope)
    with session_scope(engine) as session:
        rows = list(session.scalars(
            select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.id).with_for_update()))
        prefix, key = _new_key(session)
        if rows:
            row = rows[0]
            row.prefix, row.key_hash, row.scope, row.created_at = (
                prefix, hash_key(key), scope, utcnow())
            for extra in rows[1:]:
                extra.revoked_at = utcnow()
        else:
            row = ApiKey(prefix=prefix, key_hash=hash_key(key), name=name, scope=scope)
            session.add(row)
        session.flush()
        return key, _info(row)


def _check_scope(scope: str) -> None:
    if scope not in API_KEY_SCOPES:
        raise ValueError(f"scope must be one of {', '.join(API_KEY_SCOPES)}, got {scope!r}")


def _new_key(session: Session) -> tuple[str, str]:
    """An unused prefix and a key with it (a collision, 1 in 4 billion, just draws again)."""
    while True:
        prefix = secrets.token_hex(4)
        if session.scalars(select(ApiKey.id).where(ApiKey.prefix == prefix)).first() is None:
            return prefix, f"pgk_{prefix}_{secrets.token_urlsafe(20)}"


def list_api_keys(engine: Engine) -> list[ApiKeyInfo]:
    with session_scope(engine) as session:
        return [_info(row) for row in session.scalars(select(ApiKey).order_by(ApiKey.id))]


def revoke_api_key(engine: Engine, reference: str) -> bool:
    """Revoke a key named by its id (as listed) or its 8-hex prefix (or ``pgk_<prefix>...``).

    False when there is no such key or it was revoked already; ``ValueError`` when
    ``reference`` is neither form, or an 8-digit one is one key's id and another's prefix.
    """
    match = KEY_REFERENCE.fullmatch(reference.strip())
    if match is None:
        raise ValueError(f"{reference!r} is not a key id (a number, as `pigen apikey list` "
                         "shows it) or a key prefix (8 hex digits)")
    with session_scope(engine) as session:
        found: dict[int, ApiKey] = {}
        if match["id"] is not None:
            by_id = session.get(ApiKey, int(match["id"]))
            if by_id is not None:
                found[by_id.id] = by_id
        prefix = match["prefix"] or (match["id"] if len(match["id"]) == 8 else None)
        if prefix is not None:
            by_prefix = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()
            if by_prefix is not None:
                found[by_prefix.id] = by_prefix
        if len(found) > 1:
            raise ValueError(f"{reference!r} is one key's id and another key's prefix: "
                             f"write the id as 0{reference.strip()} or the prefix as "
                             f"pgk_{reference.strip()}")
        row = next(iter(found.values()), None)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        return True


def verify_api_key(engine: Engine, key: str, static_keys: Iterable[str] = ()) -> Principal | None:
    """The principal of ``key``, or None when it is unknown, malformed or revoked.

    ``static_keys`` (settings ``PIGEN_API_KEYS``) carry every scope.
    """
    for static in static_keys:
        if hmac.compare_digest(static.encode(), key.encode()):
            return Principal("static", "admin")
    match = KEY_PATTERN.match(key)
    if match is None:
        return None
    with engine.connect() as connection:
        row = connection.execute(
            select(ApiKey.key_hash, ApiKey.name, ApiKey.scope, ApiKey.revoked_at)
            .where(ApiKey.prefix == match.group(1))).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, hash_key(key)):
        return None
    return Principal(row.name, row.scope)


def _info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(row.id, row.prefix, row.name, row.scope, row.created_at,
                      row.revoked_at is not None)
