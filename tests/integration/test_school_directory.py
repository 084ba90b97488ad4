"""The federation these tests run keeps its schools in a school directory, as a country's file
does (decisions 0052, 0054): every instance resolves them through the compiled directory."""

from __future__ import annotations

from devtools.launcher import LocalFederation
from shared.federation.config import Tier, UnitRef, load_federation
from tests.integration.conftest import Federation


async def test_the_services_find_their_schools_in_the_directory(
    federation: LocalFederation, fed: Federation
) -> None:
    loaded = load_federation(federation.config_path)
    assert loaded.listed_schools == ()  # no [[school]] table: all in schools.csv
    assert (federation.config_path.parent / "schools.csv").exists()
    school = next(s for s in loaded.schools if s.code == "4101020001")
    hosting = loaded.instance_hosting(UnitRef(tier=Tier.SCHOOL, code=school.code))
    assert hosting is not None and school.code in hosting.units
    assert hosting.listed_units == ()  # its schools come from the directory's column
    # the school's instance serves it (its own units from the directory), and national knows it
    roster = await fed.get("school", school.code, f"/api/v1/schools/{school.code}/students")
    assert roster.status_code == 200, roster.text
    elsewhere = await fed.get("school", school.code, "/api/v1/schools/3301020001/students")
    assert elsewhere.status_code in (403, 404), elsewhere.text  # another instance's school
