"""``registry.province_promoted`` (national → each province, once per school year): the
August 10 batch promotion (LS 3(一); N2013 art. 12) as it was applied to the province's
schools — per school the graduating grade and national's counts per grade, no student
numbers (see ``registry.promoted`` in :mod:`shared.contracts.status` for why). The province
keeps it as its view of the year's promotion; the message id is derived from (province,
year), so a province applies it once.
"""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.status import PROMOTION_NAMESPACE, GradeCount
from shared.contracts.tiers import NATIONAL_TIER, PROVINCE_TIER
from shared.messaging.envelope import Contract, contract


class SchoolPromotion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    school_code: str = Field(pattern=r"^[1-8][0-9]{9}$")
    graduating_grade: int = Field(ge=1, le=12)
    promoted: tuple[GradeCount, ...] = ()


@contract("registry.province_promoted", 1, senders=NATIONAL_TIER, targets=PROVINCE_TIER)
class ProvincePromoted(Contract):
    """national → province: the year's promotion at every school of the province."""

    province_code: str = Field(pattern=r"^[1-8][0-9]$")
    school_year: int = Field(ge=2000, le=2999)
    as_of: date
    schools: tuple[SchoolPromotion, ...]


def province_promotion_message_id(school_year: int, province_code: str) -> uuid.UUID:
    return uuid.uuid5(
        PROMOTION_NAMESPACE, f"registry.province_promoted:{school_year}:{province_code}"
    )
