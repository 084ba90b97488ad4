"""The zh-CN message catalogue: the Chinese text of every code the API answers.

One file, ``zh-CN.toml``, keyed by the same codes the API returns in ``ErrorResponse.code``
(a rule such as ``task_not_found``, or a status code such as ``not_found``); an entry may name
the article of the regulation the rule comes from. Templates and the API read the same file,
so no Chinese string is scattered through the Python code (STYLE.md).
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

CATALOGUE = Path(__file__).with_name("zh-CN.toml")


@dataclass(frozen=True)
class Entry:
    code: str
    message: str
    article: str | None = None


@functools.cache
def catalogue() -> dict[str, Entry]:
    """Every entry of the catalogue by code (read once)."""
    raw = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))
    return {
        code: Entry(code, value, None)
        if isinstance(value, str)
        else Entry(code, value["message"], value.get("article"))
        for code, value in raw.items()
    }


def entry(code: str) -> Entry | None:
    return catalogue().get(code)


def message(code: str) -> str | None:
    """The Chinese text of ``code``, or None when the catalogue has none."""
    found = entry(code)
    return found.message if found else None
