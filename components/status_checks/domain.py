"""What a client may ask and what it is answered (standard library only).

A check asserts claims about one student ("enrolled: yes", "county: 510104", "grade: 3");
each is answered ``True`` or ``False`` against the registry's facts, so the client learns the
truth of what it asserted and nothing beyond it. An unknown student makes every positive
claim false: the answer never says whether the registry knows the subject.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The status credential's vocabulary (decision 0036) less the subject itself.
CLAIMS: tuple[str, ...] = ("enrolled", "status", "grade", "county", "province", "school", "name")
ARTICLE = "N2025 art. 24"
CLIENT_ID = re.compile(r"^[a-z][a-z0-9-]{2,39}$")
PURPOSE_CODE = re.compile(r"^[a-z][a-z0-9_]{2,39}$")


class CheckRefused(Exception):
    """A check or a registration the rules refuse; ``status`` is the HTTP answer."""

    def __init__(self, status: int, rule: str, detail: str, article: str | None = ARTICLE) -> None:
        super().__init__(detail)
        self.status, self.rule, self.detail, self.article = status, rule, detail, article


@dataclass(frozen=True)
class Purpose:
    """A purpose a client declared, the claims it may ask for it, and its legal basis."""

    code: str
    claims: tuple[str, ...]
    basis: str


@dataclass(frozen=True)
class Facts:
    """The registry's facts about one student, as of today."""

    student_number: str
    status: str
    grade: int
    school: str
    county: str
    province: str
    name: str


def check_purposes(purposes: list[Purpose]) -> None:
    """A registration names at least one purpose, each once, with known claims."""
    codes = [purpose.code for purpose in purposes]
    if not purposes or len(set(codes)) != len(codes):
        raise CheckRefused(422, "status_client_purposes", "each purpose is declared once")
    for purpose in purposes:
        unknown = sorted(set(purpose.claims) - set(CLAIMS))
        if unknown or not purpose.claims:
            raise CheckRefused(
                422,
                "status_claim_unknown",
                f"claims are a non-empty choice of {', '.join(CLAIMS)}; not {', '.join(unknown)}",
            )


def allowed_claims(purposes: Mapping[str, Purpose], purpose: str, asked: Mapping[str, Any]) -> None:
    """403 unless ``purpose`` is declared and every asked claim is one it allows."""
    declared = purposes.get(purpose)
    if declared is None:
        raise CheckRefused(
            403, "status_purpose_undeclared", f"purpose {purpose!r} is not declared by the client"
        )
    unknown = sorted(set(asked) - set(CLAIMS))
    if unknown:
        raise CheckRefused(422, "status_claim_unknown", f"unknown claims: {', '.join(unknown)}")
    beyond = sorted(set(asked) - set(declared.claims))
    if beyond:
        raise CheckRefused(
            403,
            "status_claim_beyond_purpose",
            f"purpose {purpose!r} does not allow asking {', '.join(beyond)}",
        )
    if not asked:
        raise CheckRefused(422, "status_claim_unknown", "ask at least one claim")


def answer(facts: Facts | None, asked: Mapping[str, Any]) -> dict[str, bool]:
    """Each asserted claim, true or false against ``facts`` (None: an unknown student)."""
    return {name: _holds(facts, name, value) for name, value in asked.items()}


def _holds(facts: Facts | None, name: str, value: Any) -> bool:
    if name == "enrolled":
        return (facts is not None and facts.status == "enrolled") is bool(value)
    if facts is None:
        return False
    if name == "grade":
        return isinstance(value, int) and not isinstance(value, bool) and facts.grade == value
    actual = {
        "status": facts.status,
        "county": facts.county,
        "province": facts.province,
        "school": facts.school,
        "name": facts.name,
    }[name]
    return isinstance(value, str) and actual == value


def summary(answers: Mapping[str, bool]) -> str:
    """The answer as the audit entry keeps it, e.g. ``enrolled=yes county=no``."""
    return " ".join(f"{name}={'yes' if held else 'no'}" for name, held in answers.items())
