"""The student data models that travel between tiers, split as the 2025 measures split them.

``BasicInfo`` is what the national registry may hold (N2025 arts. 5, 23): identity, current
school, grade, status, dates. ``ExtendedInfo`` (非基础学籍信息) is managed by the student's
province only: guardians, addresses, contacts, health and the archive sections. No contract
addressed to the national tier carries ``ExtendedInfo`` — a test checks that.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Gender = Literal["male", "female"]


class IdType(StrEnum):
    """Identity document recorded for a student (N2025 art. 10; N2013 art. 28)."""

    RESIDENT_ID = "resident_id"  # 居民身份证: student number G + ID number
    PASSPORT = "passport"  # foreign students
    HK_MACAO_PERMIT = "hk_macao_permit"  # 港澳居民来往内地通行证 / 居住证
    TAIWAN_PERMIT = "taiwan_permit"  # 台湾居民来往大陆通行证 / 居住证
    NONE = "none"  # mainland child whose resident ID is not yet issued


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class BasicInfo(_Model):
    """Basic registry information (基础学籍信息)."""

    name: str = Field(min_length=1, max_length=50)
    gender: Gender
    birth_date: date
    id_type: IdType
    id_number: str | None = Field(default=None, max_length=30)
    nationality: str = Field(default="CN", min_length=2, max_length=3)
    ethnicity: str | None = Field(default=None, max_length=20)
    grade: int = Field(ge=1, le=12, description="1-6 primary, 7-9 junior, 10-12 senior")
    enrolled_on: date


class Guardian(_Model):
    name: str = Field(min_length=1, max_length=50)
    relation: str = Field(min_length=1, max_length=20)
    phone: str | None = Field(default=None, max_length=20)


class ExtendedInfo(_Model):
    """Non-basic information (非基础学籍信息): held by the province, never by national."""

    guardians: tuple[Guardian, ...] = ()
    address: str | None = Field(default=None, max_length=200)
    hukou_region: str | None = Field(default=None, pattern=r"^[1-8][0-9]{5}$")
    phone: str | None = Field(default=None, max_length=20)
    health_notes: str | None = Field(default=None, max_length=500)
    migrant: bool = False  # 随迁子女
    home_instruction: bool = False  # 送教上门 (N2013 art. 6)
