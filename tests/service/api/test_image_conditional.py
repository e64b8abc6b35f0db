"""Conditional image requests (RFC 9110 If-None-Match): weak tags, ``*``, unknown ids."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pigen.service.api.conditional import none_match, opaque_tags

ETAG = '"0123abcd-png-0"'


@pytest.mark.parametrize(("header", "matches"), [
    (None, False),
    (ETAG, True),
    ('W/"0123abcd-png-0"', True),  # weak comparison: the weakness indicator is ignored
    ('"other", W/"0123abcd-png-0"', True),
    ('"other" ,, "0123abcd-png-0"', True),  # empty list elements are allowed
    ("*", True),
    (" * ", True),
    ('"*"', False),  # a quoted star is a tag like any other, not the wildcard
    ('"other", *', False),  # "*" only stands alone: malformed, so ignored
    ('"0123abcd-png-1"', False),
    ("0123abcd-png-0", False),  # unquoted: malformed, ignored
    ('W/ "0123abcd-png-0"', False),
    ('"0123abcd-png-0" trailing', False),
])
def test_if_none_match_weak_comparison_and_star(header: str | None, matches: bool) -> None:
    assert none_match(header, ETAG) is matches


def test_quoted_commas_stay_inside_one_tag() -> None:
    assert opaque_tags('"a,b", W/"c"') == ["a,b", "c"]
    assert opaque_tags('"a", junk') is None


def _listed_image_url(client: TestClient) -> str:
    response = client.get("/v1/users/shopper-002/images", params={"n": 1})
    assert response.status_code == 200, response.text
    return response.json()["images"][0]["url"]


def test_an_unknown_id_is_404_whatever_the_tag(client: TestClient) -> None:
    unknown = "0123456789abcdef0123456789abcdef"
    for header in (f'"{unknown}-png-0"', f'W/"{unknown}-png-0"', "*"):
        response = client.get(f"/v1/images/{unknown}.png", headers={"If-None-Match": header})
        assert response.status_code == 404, (header, response.status_code)


def test_weak_and_star_tags_of_an_existing_image_get_304(client: TestClient) -> None:
    url = _listed_image_url(client)
    # Listed but not made yet: it exists (it can be made), so "*" is answered 304.
    assert client.get(url, headers={"If-None-Match": "*"}).status_code == 304
    etag = client.get(url).headers["etag"]
    for header in (etag, f"W/{etag}", f'"stale", W/{etag}', "*"):
        again = client.get(url, headers={"If-None-Match": header})
        assert again.status_code == 304 and again.content == b"", header
        assert again.headers["etag"] == etag
    other = client.get(url, headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200 and other.content.startswith(b"\x89PNG")
    webp = client.get(url.replace(".png", ".webp"), headers={"If-None-Match": etag})
    assert webp.status_code == 200  # another representation, another tag
