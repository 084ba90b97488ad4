"""The zh-CN catalogue has a message for every code the API answers.

The codes are read from the source: every literal ``rule="..."`` passed to a call, every
constant named ``RULE...`` / ``..._RULE``, the code of every ``...Refused(...)`` /
``...Refusal(...)`` built with a literal one, and the codes of the statuses
(``shared.runtime.errors.STATUS_CODES``). A refusal added with a new rule fails here until the
catalogue says it in Chinese.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared import i18n
from shared.runtime.errors import STATUS_CODES

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("shared", "components", "services")
CODE = re.compile(r"^[a-z][a-z0-9_]*$")
# Module constants named like rules that are not codes the API answers.
NOT_CODES = {"__access_rule__"}
# Exceptions and values built as ``SomethingRefused(status?, code, message)``.
REFUSALS = ("Refused", "Refusal")


def rule_codes() -> Iterator[tuple[str, str]]:
    """(code, where) of every rule code written in the source."""
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            where = str(path.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                for value in _codes_in(node):
                    yield value, f"{where}:{getattr(node, 'lineno', '?')}"


def _codes_in(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Call) and _name(node.func).endswith(REFUSALS):
        candidates: list[ast.expr] = list(node.args)
    elif isinstance(node, ast.keyword | ast.Assign) and (
        _is_rule_keyword(node) or _is_rule_constant(node)
    ):
        candidates = [node.value]
    else:
        candidates = []
    for value in candidates:
        if isinstance(value, ast.Constant) and CODE.match(str(value.value)):
            yield str(value.value)


def _is_rule_keyword(node: ast.AST) -> bool:
    return isinstance(node, ast.keyword) and node.arg == "rule"


def _is_rule_constant(node: ast.AST) -> bool:
    return isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and "RULE" in t.id.split("_") for t in node.targets
    )


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def test_every_rule_and_status_code_has_a_chinese_message() -> None:
    codes = dict(rule_codes())
    assert len(codes) > 100  # the scan finds the rules
    missing = sorted(
        f"{code} ({where})"
        for code, where in codes.items()
        if code not in NOT_CODES and i18n.entry(code) is None
    )
    assert missing == []
    assert [code for code in STATUS_CODES.values() if i18n.entry(code) is None] == []


def test_the_catalogue_is_well_formed() -> None:
    for code, entry in i18n.catalogue().items():
        assert CODE.match(code), code
        assert entry.message.strip() and re.search(r"[\u4e00-\u9fff]", entry.message), code
        assert entry.article is None or entry.article.strip(), code


@pytest.mark.parametrize(
    ("article", "chinese"),
    [
        ("N2013 art. 25", "国 2013 第二十五条"),
        ("N2025 art. 21", "国 2025 第二十一条"),
        ("HA art. 11", "豫 第十一条"),
        ("HA art. 11(三)", "豫 第十一条（三）"),
        ("ZJ arts. 24-26", "浙 第二十四至二十六条"),
        ("N2013 arts. 7, 13", "国 2013 第七、十三条"),
        ("LS 2(四)", "凉山 第二部分（四）"),
        ("LS 3(一); ZJ arts. 24-26", "凉山 第三部分（一）；浙 第二十四至二十六条"),
        ("ZJ art. 12 (毕业班学生一律不留级)", "浙 第十二条（毕业班学生一律不留级）"),
        ("豫 第十一条", "豫 第十一条"),
    ],
)
def test_articles_read_in_chinese(article: str, chinese: str) -> None:
    assert i18n.article_zh(article) == chinese


def test_a_refusal_in_chinese_cites_its_article_once() -> None:
    sentence = "学生处于休学状态，不能办理转学"
    cited = "学生处于休学状态，不能办理转学（豫 第十一条）"
    assert i18n.with_article(sentence, "HA art. 11") == cited
    assert i18n.with_article(cited, "HA art. 11") == cited
    assert i18n.with_article(sentence, None) == sentence
    assert [i18n.chinese_number(n) for n in (1, 10, 11, 20, 25, 99, 105)] == [
        "一",
        "十",
        "十一",
        "二十",
        "二十五",
        "九十九",
        "一百零五",
    ]
