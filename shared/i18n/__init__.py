"""The zh-CN message catalogue: the Chinese text of every code the API answers.

One file, ``zh-CN.toml``, keyed by the same codes the API returns in ``ErrorResponse.code``
(a rule such as ``task_not_found``, or a status code such as ``not_found``); an entry may name
the article of the regulation the rule comes from. Templates and the API read the same file,
so no Chinese string is scattered through the Python code (STYLE.md).
"""

from __future__ import annotations

import functools
import re
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


# The sources' short names in Chinese (DOMAIN.md: N2013, N2025 = the national measures and
# their 2025 revision; HA = Henan, ZJ = Zhejiang, LS = Liangshan).
SOURCES_ZH = {"N2013": "国 2013", "N2025": "国 2025", "HA": "豫", "ZJ": "浙", "LS": "凉山"}
_DIGITS = "零一二三四五六七八九"
_CITATION = re.compile(
    r"\b(?P<source>N2013|N2025|HA|ZJ|LS)\s+"
    r"(?:(?P<arts>arts?\.)\s*(?P<numbers>\d+(?:\s*(?:-|–|,\s*(?:and\s+)?|and\s+)\s*\d+)*)"
    r"|(?P<part>\d+)(?=\(|\b))"
)
_PAREN = re.compile(r"\s*\(([^()]*[\u4e00-\u9fff][^()]*)\)")


def chinese_number(number: int) -> str:
    """1 → 一, 10 → 十, 11 → 十一, 25 → 二十五, 40 → 四十, 105 → 一百零五."""
    if number < 10:
        return _DIGITS[number]
    if number < 20:
        return "十" + (_DIGITS[number % 10] if number % 10 else "")
    if number < 100:
        tens, units = divmod(number, 10)
        return _DIGITS[tens] + "十" + (_DIGITS[units] if units else "")
    hundreds, rest = divmod(number, 100)
    if rest == 0:
        return _DIGITS[hundreds] + "百"
    return _DIGITS[hundreds] + "百" + ("零" if rest < 10 else "") + chinese_number(rest)


def _numbers(text: str) -> str:
    """ "25" → 二十五, "24-26" → 二十四至二十六, "7, 13" → 七、十三."""
    items = re.split(r"\s*(?:,\s*(?:and\s+)?|\band\s+)\s*", text.strip())
    return "、".join(
        "至".join(chinese_number(int(n)) for n in re.split(r"\s*[-–]\s*", item) if n.isdigit())
        for item in items
    )


def article_zh(article: str | None) -> str | None:
    """An article as a Chinese reader cites it: "N2013 art. 25" → "国 2013 第二十五条",
    "HA art. 11(三)" → "豫 第十一条（三）", "ZJ arts. 24-26" → "浙 第二十四至二十六条",
    "LS 2(四)" → "凉山 第二部分（四）"; several joined by "；". Text it does not recognise
    stays as it is."""
    if not article:
        return article

    def cite(match: re.Match[str]) -> str:
        source = SOURCES_ZH[match["source"]]
        if match["part"] is not None:  # Liangshan's rules are parts 一 … 八 with items (一) …
            return f"{source} 第{chinese_number(int(match['part']))}部分"
        return f"{source} 第{_numbers(match['numbers'])}条"

    text = _CITATION.sub(cite, article)
    text = re.sub(r"\(([一二三四五六七八九十]+)\)", r"（\1）", text)
    text = _PAREN.sub(r"（\1）", text)
    return re.sub(r"\s*;\s*", "；", text)


def with_article(message: str, article: str | None) -> str:
    """A Chinese sentence with its article in Chinese after it, once:
    "学生处于休学状态，不能办理转学。（豫 第十一条）"."""
    cited = article_zh(article)
    if not cited or cited in message or (article and article in message):
        return message
    return f"{message}（{cited}）"
