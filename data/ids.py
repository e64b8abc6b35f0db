"""The one rule for external ids (users, items), shared by ingest and the API.

An id that ingest accepts must be one the API can be asked about: a shopper
whose id holds a space, a newline, NUL or an emoji could never be served.
Kept free of heavy imports: the API's request schemas import it.
"""

from __future__ import annotations

import re

#: Longest external id, in characters (the ``external_id`` columns are 128 wide).
MAX_ID_LENGTH = 128
#: Printable ASCII, no spaces, no path tricks; starts with a letter or digit.
#: ``$`` is end of text in the API's (Rust) and Arrow's (RE2) regex engines;
#: :func:`is_valid_id` uses ``fullmatch`` so Python agrees.
ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._:@+-]{{0,{MAX_ID_LENGTH - 1}}}$"
ID_RULE = (f"1-{MAX_ID_LENGTH} characters from A-Z a-z 0-9 . _ : @ + -, "
           "starting with a letter or digit")

_ID = re.compile(ID_PATTERN.removeprefix("^").removesuffix("$"))


def is_valid_id(value: str) -> bool:
    """True when ``value`` follows :data:`ID_PATTERN`."""
    return _ID.fullmatch(value) is not None


def id_problem(value: str) -> str:
    """Why ``value`` is not a valid id, for a message naming the row."""
    if not value:
        return "empty id"
    if len(value) > MAX_ID_LENGTH:
        return f"id longer than {MAX_ID_LENGTH} characters"
    shown = value if len(value) <= 40 else value[:40] + "..."
    return f"id {shown!r} is not valid: use {ID_RULE}"
