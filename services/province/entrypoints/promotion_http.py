"""The province's view of a year's batch promotion (LS 3(一)): per school, its graduating
grade and how many students national moved up from each grade. Counts only."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from services.province.service_layer import promotion
from shared.audit.recording import audited
from shared.federation.config import Tier
from shared.runtime.app import require_hosted
from shared.runtime.service import ServiceRuntime
from shared.security.authz import READERS, PathUnit, requires


class SchoolPromotionRead(BaseModel):
    school_code: str
    graduating_grade: int
    promoted: dict[str, int] = Field(description="grade before the promotion → students")
    total: int


class ProvincePromotionRead(BaseModel):
    province_code: str
    school_year: int
    as_of: date
    promoted: int
    schools: list[SchoolPromotionRead]


def build_promotion_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(prefix="/api/v1/provinces", tags=["promotion"])

    @router.get(
        "/{province_code}/promotions/{school_year}",
        response_model=ProvincePromotionRead,
        summary="The year's August 10 promotion at the province's schools",
        dependencies=[
            audited("read", "promotion"),
            requires(*READERS, unit=PathUnit("province_code", Tier.PROVINCE)),
        ],
    )
    async def read(
        province_code: str, school_year: int = Path(ge=2000, le=2999)
    ) -> ProvincePromotionRead:
        require_hosted(runtime, province_code, "province")
        async with runtime.sessions() as session:
            rows = await promotion.read(session, province_code, school_year)
        schools = [
            SchoolPromotionRead(
                school_code=r.school_code,
                graduating_grade=r.graduating_grade,
                promoted=dict(r.promoted),
                total=sum(int(n) for n in r.promoted.values()),
            )
            for r in rows
        ]
        return ProvincePromotionRead(
            province_code=province_code,
            school_year=school_year,
            as_of=rows[0].as_of,
            promoted=sum(s.total for s in schools),
            schools=schools,
        )

    return router
