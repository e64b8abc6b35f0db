"""``If-None-Match`` as RFC 9110 (section 13.1.2) defines it: weak comparison, ``*``, lists.

Caches and browsers send back the tag they hold, sometimes weakened (``W/"..."``
after a proxy re-encoded the body) or as ``*`` ("any version you have"). The
caller decides whether the resource exists at all: an unknown resource is a 404
whatever the header says, so these functions only compare tags.
"""

from __future__ import annotations

import re

#: One entity-tag: optional weakness indicator, then a quoted opaque tag (etagc:
#: 0x21, 0x23-0x7E and obs-text; commas are allowed inside the quotes).
_ENTITY_TAG = re.compile(r'\s*(?:W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')


def opaque_tags(header: str) -> list[str] | None:
    """The opaque tags of an entity-tag list; None when the list is malformed.

    Empty list elements (``"a", , "b"``) are allowed, as RFC 9110's list syntax says.
    """
    text = header.strip()
    tags: list[str] = []
    position = 0
    while position < len(text):
        if text[position] in ", \t":  # empty list elements and separators
            position += 1
            continue
        match = _ENTITY_TAG.match(text, position)
        if match is None:
            return None
        tags.append(match.group(1))
        position = match.end()
    return tags or None


def none_match(header: str | None, etag: str) -> bool:
    """Whether a request with this ``If-None-Match`` gets 304 for an existing ``etag``.

    ``etag`` is the strong tag as sent in the ``ETag`` header (quotes included).
    Weak comparison: ``W/"x"`` matches ``"x"``. A malformed header is ignored
    (the full response is sent), as RFC 9110 lets a server do.
    """
    if header is None:
        return False
    if header.strip() == "*":
        return True
    tags = opaque_tags(header)
    return tags is not None and etag.removeprefix("W/").strip('"') in tags
