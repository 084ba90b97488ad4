"""The province's view of the August 10 promotion (LS 3(一)), on SQLite and PostgreSQL: one
message per province and year, kept per school, served as counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from devtools.testing import federation_copy
from shared.contracts.promotion import ProvincePromoted, SchoolPromotion
from shared.contracts.status import GradeCount
from shared.messaging.errors import PermanentMessageError
from tests.services.province.transfer_support import Province, province_service


@pytest.fixture
async def henan(tmp_path: Path, database_url: str) -> AsyncIterator[Province]:
    async with province_service(federation_copy(tmp_path / "fed"), "41", database_url) as p:
        yield p


def promoted(province: str = "41", *schools: SchoolPromotion) -> ProvincePromoted:
    return ProvincePromoted(
        province_code=province, school_year=2026, as_of=date(2026, 8, 10), schools=schools
    )


PRIMARY = SchoolPromotion(
    school_code="4101020001",
    graduating_grade=6,
    promoted=(GradeCount(grade=1, count=120), GradeCount(grade=5, count=98)),
)
JUNIOR = SchoolPromotion(school_code="4101020002", graduating_grade=9)


async def test_the_year_is_kept_per_school_and_served(henan: Province) -> None:
    missing = await henan.client.get("/api/v1/provinces/41/promotions/2026")
    assert (missing.status_code, missing.json()["rule"]) == (404, "no_promotion")
    message = promoted("41", PRIMARY, JUNIOR)
    await henan.deliver(message)
    await henan.deliver(message)  # a second copy replaces, never doubles

    view = (await henan.client.get("/api/v1/provinces/41/promotions/2026")).json()
    assert (view["promoted"], view["as_of"]) == (218, "2026-08-10")
    assert [(s["school_code"], s["total"], s["promoted"]) for s in view["schools"]] == [
        ("4101020001", 218, {"1": 120, "5": 98}),
        ("4101020002", 0, {}),
    ]


async def test_another_provinces_promotion_is_dead_lettered(henan: Province) -> None:
    with pytest.raises(PermanentMessageError):
        await henan.deliver(promoted("33", PRIMARY))
    zhejiang_school = SchoolPromotion(school_code="3301020001", graduating_grade=6)
    with pytest.raises(PermanentMessageError):
        await henan.deliver(promoted("41", zhejiang_school))
