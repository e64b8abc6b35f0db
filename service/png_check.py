"""Is a cached PNG whole? Its structure says so, without decoding a pixel.

A PNG is a signature and chunks, each with a CRC-32 of its type and data, from
IHDR to IEND. A truncated file loses its IEND; a flipped bit fails a CRC. Both
are found in microseconds for a ~1 KB image, cheap enough for every disk read.
"""

from __future__ import annotations

import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_intact(data: bytes) -> bool:
    """True when ``data`` is one whole PNG: signature, IHDR first, every CRC right, IEND last."""
    if not data.startswith(SIGNATURE):
        return False
    position, first = len(SIGNATURE), True
    while position + 12 <= len(data):  # 4 length + 4 type + data + 4 CRC
        length = int.from_bytes(data[position:position + 4], "big")
        kind = data[position + 4:position + 8]
        end = position + 12 + length
        if end > len(data):
            return False
        body = data[position + 8:end - 4]
        if zlib.crc32(body, zlib.crc32(kind)) != int.from_bytes(data[end - 4:end], "big"):
            return False
        if first and kind != b"IHDR":
            return False
        if kind == b"IEND":
            return end == len(data)
        position, first = end, False
    return False
