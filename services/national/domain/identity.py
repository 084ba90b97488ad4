"""Who a registry entry is: the identity fields national de-duplication (查重) compares.

Only basic info (基础学籍信息, N2025 arts. 5, 23) appears here: name, gender, birth date and
the identity document. Two derived keys make the set-based look-ups exact and indexable:

- the **document key** ``(id_type, id_number)``: one identity document, one registration
  (一人一籍, HA art. 8). A student without any document (``IdType.NONE``) has no key;
- the **identity key** ``name|gender|birth date`` with the name normalised (NFKC, no
  whitespace, case-folded, the many "middle dot" spellings of minority and foreign names
  unified), so that ``张 三`` and ``张三``, or ``买买提·艾力`` and ``买买提.艾力``, meet.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cached_property

RESIDENT_ID = "resident_id"
NO_DOCUMENT = "none"

# Separators typed for the 间隔号 in names such as 买买提·艾力 (U+00B7 is the standard one).
_NAME_DOTS = str.maketrans({c: "·" for c in "．.•・‧∙⋅●"})

DocumentKey = tuple[str, str]


def name_key(name: str) -> str:
    """The comparable form of a name: NFKC, whitespace removed, dots unified, case-folded."""
    folded = unicodedata.normalize("NFKC", name).translate(_NAME_DOTS).casefold()
    return "".join(folded.split())


def identity_key(name: str, gender: str, birth_date: date) -> str:
    """One string for (name, gender, birth date): an indexable equality key on both databases."""
    return f"{name_key(name)}|{gender}|{birth_date.isoformat()}"


def document_key(id_type: str, id_number: str | None) -> DocumentKey | None:
    """The identity document as a key, or ``None`` for a student without one."""
    if id_type == NO_DOCUMENT or not id_number:
        return None
    return (id_type, id_number)


@dataclass(frozen=True)
class Placement:
    """Where a registration sits: the only thing a refusal may say about another record."""

    school_code: str
    province_code: str

    def describe(self) -> str:
        return f"school {self.school_code} in province {self.province_code}"


@dataclass(frozen=True)
class Person:
    """The identity fields of one applicant or one registry entry (normalised)."""

    name: str
    gender: str
    birth_date: date
    id_type: str
    id_number: str | None

    @property
    def document(self) -> DocumentKey | None:
        return document_key(self.id_type, self.id_number)

    @cached_property
    def identity(self) -> str:
        return identity_key(self.name, self.gender, self.birth_date)

    @property
    def has_resident_id(self) -> bool:
        return self.id_type == RESIDENT_ID and self.id_number is not None


@dataclass(frozen=True)
class Record:
    """A registration national knows of: a registry entry, or one issued earlier in a batch."""

    entry_id: str
    person: Person
    placement: Placement
    status: str | None = None  # the registry status (None: issued earlier in this batch)
