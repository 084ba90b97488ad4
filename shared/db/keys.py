"""Primary keys that keep a B-tree's inserts together: time-ordered UUIDs (RFC 9562, version 7).

A random UUID (version 4) as the key of a table of tens of millions of rows sends every insert
to a random leaf of the primary-key index: a page read if it is not cached, and after each
checkpoint a full-page image in the WAL. A version-7 UUID starts with the Unix time in
milliseconds, so the rows created together land on the same few rightmost leaves. The other
74 bits are random, so two processes creating keys in the same millisecond do not collide.
"""

from __future__ import annotations

import os
import time
import uuid


def time_ordered_uuid(now_ms: int | None = None) -> uuid.UUID:
    """A version-7 UUID: 48 bits of Unix milliseconds, then 74 random bits."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    random = int.from_bytes(os.urandom(10), "big")
    value = (ms & (1 << 48) - 1) << 80 | 0x7 << 76 | (random >> 68) << 64  # version, rand_a
    value |= 0b10 << 62 | random & (1 << 62) - 1  # variant, rand_b
    return uuid.UUID(int=value)
