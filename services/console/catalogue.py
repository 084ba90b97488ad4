"""The console's zh-CN words (``messages.zh-CN.toml``: its pages' codes, field rules, statuses
and kinds) and how a refusal is worded; a refusal code of the APIs reads from the one API
catalogue, ``shared/i18n/zh-CN.toml``."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from services.console.api import ApiError
from shared import i18n

CATALOGUE = Path(__file__).with_name("messages.zh-CN.toml")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


@cache
def catalogue() -> dict[str, dict[str, str]]:
    with CATALOGUE.open("rb") as handle:
        return tomllib.load(handle)


def word(section: str, code: object) -> str:
    """The Chinese word for ``code`` in ``section`` (the code itself if there is none)."""
    text = str(code.value if hasattr(code, "value") else code)
    return catalogue().get(section, {}).get(text, text)


def reject_reasons(kind: str) -> list[str]:
    """The common reasons an officer gives to reject a task of ``kind`` (and of any kind)."""
    section: dict[str, Any] = catalogue().get("reject_reasons", {})
    return [str(r) for r in (*section.get(kind, ()), *section.get("any", ()))]


def rule_message(rule: str | None) -> str | None:
    """The Chinese sentence for a code: the console's own (its pages' codes and field rules),
    else the API's one catalogue (``shared/i18n/zh-CN.toml``), which every tier answers with."""
    code = rule or ""
    return catalogue()["rules"].get(code) or i18n.message(code)


def is_chinese(text: str | None) -> bool:
    """A message written in Chinese: more Han characters than Latin letters (an English
    sentence naming a Chinese place is not; a Chinese one citing "HA art. 11" is)."""
    return bool(text) and len(_HAN.findall(text or "")) > len(_LATIN.findall(text or ""))


def refusal(error: ApiError) -> str:
    """What a user reads for a refusal: the API's own Chinese message with its article, else
    the catalogue's sentence for the rule, else a general sentence naming the code; with when
    to try again if the API says so."""
    text = _refusal(error)
    if error.retry_after:
        text += catalogue()["ui"]["retry_after"].format(seconds=error.retry_after)
    return text


def _refusal(error: ApiError) -> str:
    if is_chinese(error.message):
        return i18n.with_article(error.message, error.article)
    known = rule_message(error.rule) or (rule_message("not_found") if error.status == 404 else None)
    known = known or error.message_zh  # the API catalogue's text for a code the console lacks
    if known:
        return i18n.with_article(known, error.article)
    if error.status == 403:
        return rule_message("role_required") or word("ui", "failed")
    return catalogue()["ui"]["failed"].format(code=error.rule or error.status)


def reason(rule: str | None, text: str | None) -> str:
    """Why something was refused, for a page: an officer's own Chinese words, else the
    catalogue's sentence for the rule (an API's English detail never reaches a registrar)."""
    if text and is_chinese(text):
        return text
    return rule_message(rule) or word("ui", "failed").format(code=rule or "—")


def term(code: str) -> str:
    """A term as registrars say it: "2026-autumn" → "2026年秋季学期"."""
    year, _, season = code.partition("-")
    name = word("season", season)
    return f"{year}年{name}学期" if name != season else code


def article(text: str | None) -> str:
    """An article in its Chinese form for a page ("豫 第十一条"); "" for none."""
    return i18n.article_zh(text) or ""


def field_message(rule: str, message: str) -> str:
    if is_chinese(message):
        return message
    return (
        rule_message(rule) or rule_message(rule.rpartition(".")[2]) or word("ui", "invalid_field")
    )
