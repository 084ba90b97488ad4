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
