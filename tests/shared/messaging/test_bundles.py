"""How the relay groups rows into bundles (decision 0021): no broker needed."""

from __future__ import annotations

from types import SimpleNamespace

from shared.messaging.outbox import MAX_BUNDLE, MAX_BUNDLE_BYTES, bundles


def row(key: str, n: int, size: int = 10) -> SimpleNamespace:
    return SimpleNamespace(routing_key=key, message_id=f"{key}-{n}", body=b"x" * size)


def ids(groups: list[list[SimpleNamespace]]) -> list[list[str]]:
    return [[r.message_id for r in group] for group in groups]


def test_rows_are_grouped_by_routing_key_in_the_order_of_their_first_rows() -> None:
    rows = [row("a", 1), row("b", 1), row("a", 2), row("c", 1), row("b", 2), row("a", 3)]
    assert ids(bundles(rows)) == [["a-1", "a-2", "a-3"], ["b-1", "b-2"], ["c-1"]]


def test_a_bundle_holds_at_most_max_bundle_rows() -> None:
    rows = [row("a", i) for i in range(2 * MAX_BUNDLE + 1)]
    sizes = [len(group) for group in bundles(rows)]
    assert sizes == [MAX_BUNDLE, MAX_BUNDLE, 1]
    assert [r.message_id for g in bundles(rows) for r in g] == [r.message_id for r in rows]


def test_a_bundle_holds_at_most_max_bundle_bytes_but_a_big_row_still_goes() -> None:
    third = MAX_BUNDLE_BYTES // 3
    rows = [row("a", 1, third), row("a", 2, third), row("a", 3, third), row("a", 4, 10)]
    assert ids(bundles(rows)) == [["a-1", "a-2"], ["a-3", "a-4"]]
    huge = [row("a", 1, 2 * MAX_BUNDLE_BYTES), row("a", 2)]
    assert ids(bundles(huge)) == [["a-1"], ["a-2"]]


def test_no_rows_no_bundles() -> None:
    assert bundles([]) == []
