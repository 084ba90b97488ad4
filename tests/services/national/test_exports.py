"""National's export source: the basic registry of a school, county or province, set-based."""

from __future__ import annotations

from datetime import date

from components.exports.domain import Unit
from services.national.adapters.exports import FIELDS, registry_source
from shared.db.engine import SessionFactory
from tests.services.national.builders import NationalDriver, basic, batch


async def test_the_registry_export_selects_a_unit_by_its_code(
    national: NationalDriver, sessions: SessionFactory
) -> None:
    await national.deliver(
        batch(basic("张三", "male", date(2018, 3, 7)), basic("李四", "female", date(2018, 4, 8)))
    )
    await national.deliver(batch(basic("王五", "male", date(2018, 5, 9)), school="4101050001"))
    source = registry_source()
    assert "guardians" not in FIELDS and "address" not in FIELDS  # basic info only
    async with sessions() as session:
        county = await source.rows(session, Unit("county", "410102"), ["name", "school_code"])
        province = await source.rows(session, Unit("province", "41"), ["name"])
        elsewhere = await source.rows(session, Unit("province", "33"), ["name"])
    assert sorted(tuple(row) for row in county) == [("张三", "4101020001"), ("李四", "4101020001")]
    assert sorted(row[0] for row in province) == ["张三", "李四", "王五"]
    assert elsewhere == []
