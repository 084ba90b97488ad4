"""Resident IDs for test data, each handed out once per test session.

One birthday leaves 500 sequences per sex and division (GB 11643), and many builders use a
fixed default birthday, so random picks collide after a few dozen students: an unintended
duplicate that national refuses, and a test that fails once in a few runs.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from datetime import date
from typing import Literal

from shared.resident_id import generate_resident_id

_issued: set[str] = set()
_used_up: set[tuple[str, date, str]] = set()  # (division, birth, sex) with no sequence left


def fresh_resident_id(
    rng: random.Random, division: str, birth: date, sex: Literal["male", "female"] | str
) -> str:
    """A valid resident ID for ``division``, ``birth`` and ``sex`` that no other test has."""
    if (division, birth, sex) not in _used_up:
        for _ in range(10_000):
            number = generate_resident_id(rng, division, birth, sex)  # type: ignore[arg-type]
            if number not in _issued:
                _issued.add(number)
                return number
        _used_up.add((division, birth, sex))
    raise RuntimeError(f"no resident ID left for {division} born {birth} ({sex})")


def fresh_resident_id_in(
    rng: random.Random, divisions: Sequence[str], birth: date, sex: Literal["male", "female"] | str
) -> str:
    """The same from the first of ``divisions`` with a sequence left: a whole test session
    registers more than one district's 500 children of one birthday and sex."""
    for division in divisions:
        with contextlib.suppress(RuntimeError):
            return fresh_resident_id(rng, division, birth, sex)
    raise RuntimeError(f"no resident ID left in {', '.join(divisions)} born {birth} ({sex})")
