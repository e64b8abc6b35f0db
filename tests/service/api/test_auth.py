"""API keys: hashed storage, scopes, and the 401/403 answers of every protected endpoint."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from pigen.data.schema import ApiKey
from pigen.service.auth import (
    create_api_key,
    list_api_keys,
    revoke_api_key,
    rotate_api_key,
    scope_allows,
    verify_api_key,
)

GENERATE = {"conditions": [{"category": "Dress", "colour": "#c0392b", "pattern": "striped"}]}
RATING = {"interactions": [{"user_id": "shopper-001", "item_id": "item-002", "value": 5}]}


def test_keys_are_stored_hashed_and_verified(engine: Engine) -> None:
    key, info = create_api_key(engine, "write", name="shop")
    assert key.startswith(f"pgk_{info.prefix}_")
    with engine.connect() as connection:
        stored = connection.execute(select(ApiKey.key_hash, ApiKey.prefix)).one()
    assert key not in stored.key_hash and len(stored.key_hash) == 64
    principal = verify_api_key(engine, key)
    assert principal is not None and principal.scope == "write" and principal.name == "shop"
    assert verify_api_key(engine, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert verify_api_key(engine, "nonsense") is None
    assert verify_api_key(engine, "static-secret", ["static-secret"]).scope == "admin"
    assert [k.prefix for k in list_api_keys(engine)] == [info.prefix]
    assert revoke_api_key(engine, info.prefix) and not revoke_api_key(engine, info.prefix)
    assert verify_api_key(engine, key) is None
    assert list_api_keys(engine)[0].revoked
    with pytest.raises(ValueError, match="scope"):
        create_api_key(engine, "superuser")


def test_revoke_takes_the_listed_id_or_the_prefix(engine: Engine) -> None:
    first, first_info = create_api_key(engine, "read", name="a")
    second, second_info = create_api_key(engine, "write", name="b")
    third, third_info = create_api_key(engine, "write", name="c")
    assert revoke_api_key(engine, str(first_info.id))  # the id, as `pigen apikey list` shows
    assert verify_api_key(engine, first) is None and verify_api_key(engine, second) is not None
    assert revoke_api_key(engine, second_info.prefix)  # the prefix form still works
    assert revoke_api_key(engine, f"pgk_{third_info.prefix}")
    assert verify_api_key(engine, second) is None and verify_api_key(engine, third) is None
    assert not revoke_api_key(engine, str(first_info.id))  # already revoked
    assert not revoke_api_key(engine, "999999")  # no such key
    for bad in ("", "abc", "-1", "pgk_zzzzzzzz", "1 OR 1=1"):
        with pytest.raises(ValueError, match="not a key id"):
            revoke_api_key(engine, bad)


def test_an_eight_digit_reference_matching_two_keys_is_refused(engine: Engine) -> None:
    _, digits_info = create_api_key(engine, "write", name="digits")
    other, other_info = create_api_key(engine, "read", name="other")
    both = f"{other_info.id:08d}"  # the other key's id, and (below) the first key's prefix
    with engine.begin() as connection:
        connection.execute(ApiKey.__table__.update().where(ApiKey.id == digits_info.id)
                           .values(prefix=both))
    with pytest.raises(ValueError, match="one key's id and another key's prefix"):
        revoke_api_key(engine, both)
    assert not any(k.revoked for k in list_api_keys(engine))  # refused: nothing changed
    assert revoke_api_key(engine, f"0{both}")  # the id, written longer
    assert verify_api_key(engine, other) is None
    assert [k.name for k in list_api_keys(engine) if not k.revoked] == ["digits"]
    assert revoke_api_key(engine, f"pgk_{both}")  # the prefix, named as such


def test_rotating_a_named_key_keeps_one_active_key(engine: Engine) -> None:
    piled = [create_api_key(engine, "write", name="demo page")[0] for _ in range(3)]
    unrelated, _ = create_api_key(engine, "write", name="shop")
    first, first_info = rotate_api_key(engine, "write", "demo page")
    second, second_info = rotate_api_key(engine, "write", "demo page")
    active = [k for k in list_api_keys(engine) if k.name == "demo page" and not k.revoked]
    assert [k.id for k in active] == [first_info.id] == [second_info.id]
    assert first_info.prefix != second_info.prefix
    assert all(verify_api_key(engine, k) is None for k in (*piled, first))
    principal = verify_api_key(engine, second)
    assert principal is not None and principal.scope == "write"
    assert verify_api_key(engine, unrelated) is not None  # other names are left alone
    assert len(list_api_keys(engine)) == 4  # rotation adds no rows


def test_scopes_are_ordered() -> None:
    assert scope_allows("admin", "read") and scope_allows("write", "write")
    assert not scope_allows("read", "write") and not scope_allows("write", "admin")


@pytest.mark.parametrize(("method", "path", "body", "scope"), [
    ("post", "/v1/generate", GENERATE, "write"),
    ("post", "/v1/interactions", RATING, "write"),
    ("post", "/v1/models", {"id": 1}, "admin"),
])
def test_protected_endpoints_missing_wrong_and_insufficient_keys(
        client: TestClient, store_engine: Engine, method: str, path: str, body: dict,
        scope: str) -> None:
    call = getattr(client, method)
    missing = call(path, json=body)
    assert missing.status_code == 401 and "X-API-Key" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "ApiKey"
    wrong = call(path, json=body, headers={"X-API-Key": "pgk_00000000_" + "x" * 27})
    assert wrong.status_code == 401
    weaker = "read" if scope == "write" else "write"
    weak_key, _ = create_api_key(store_engine, weaker)
    insufficient = call(path, json=body, headers={"X-API-Key": weak_key})
    assert insufficient.status_code == 403 and f"needs '{scope}'" in insufficient.json()["detail"]
    good_key, _ = create_api_key(store_engine, scope)
    ok = call(path, json=body, headers={"Authorization": f"Bearer {good_key}"})
    assert ok.status_code in (200, 201), ok.text


def test_reads_need_a_key_only_when_configured(make_client, store_engine: Engine) -> None:  # type: ignore[no-untyped-def]
    open_client = make_client()
    assert open_client.get("/v1/users").status_code == 200
    closed = make_client(require_read_key=True)
    assert closed.get("/v1/users").status_code == 401
    assert closed.get("/v1/users/shopper-001/images").status_code == 401
    assert closed.get("/v1/images/" + "0" * 32 + ".png").status_code == 401
    read_key, _ = create_api_key(store_engine, "read")
    assert closed.get("/v1/users", headers={"X-API-Key": read_key}).status_code == 200
    assert closed.get("/healthz").status_code == 200  # orchestrators need no key


def test_static_keys_from_settings_have_every_scope(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(api_keys=["let-me-in"])
    response = client.post("/v1/generate", json=GENERATE, headers={"X-API-Key": "let-me-in"})
    assert response.status_code == 200


def test_cors_is_configurable(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(cors_origins=["https://shop.example"])
    allowed = client.get("/v1/users", headers={"Origin": "https://shop.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    other = client.get("/v1/users", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    assert "access-control-allow-origin" not in make_client().get(
        "/v1/users", headers={"Origin": "https://shop.example"}).headers
