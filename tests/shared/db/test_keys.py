"""Time-ordered keys: RFC 9562 version 7, ordered by creation time, unique."""

from __future__ import annotations

import uuid

from shared.db.keys import time_ordered_uuid


def test_a_key_is_a_version_7_uuid_carrying_its_millisecond() -> None:
    key = time_ordered_uuid(now_ms=1_765_000_000_123)
    assert key.version == 7
    assert key.variant == uuid.RFC_4122
    assert key.int >> 80 == 1_765_000_000_123
    assert str(uuid.UUID(str(key))) == str(key)


def test_keys_sort_by_their_time_as_text_as_the_index_stores_them() -> None:
    earlier = [str(time_ordered_uuid(now_ms=1_765_000_000_000 + i)) for i in range(0, 5000, 7)]
    assert earlier == sorted(earlier)


def test_keys_of_one_millisecond_differ() -> None:
    keys = {time_ordered_uuid(now_ms=1_765_000_000_000) for _ in range(10_000)}
    assert len(keys) == 10_000
