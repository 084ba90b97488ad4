"""What a service exports: its fixed field list, which populations it holds, the query."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from components.exports.domain import Unit

Rows = Callable[[AsyncSession, Unit, Sequence[str]], Awaitable[Sequence[Sequence[Any]]]]


@dataclass(frozen=True)
class ExportSource:
    """``rows(session, population, fields)``: one set-based query, the values in field order.

    ``holds(population)``: whether this instance has that population's data (its own units:
    a school service its hosted schools, a province its province and everything under it).
    """

    kind: str  # "basic" or "extended"
    fields: tuple[str, ...]
    holds: Callable[[Unit], bool]
    rows: Rows


def prefix_range(column: Any, code: str) -> Any:
    """``column`` starts with ``code``, as a range any B-tree index serves."""
    upper = code[:-1] + chr(ord(code[-1]) + 1)
    return (column >= code) & (column < upper)
