"""Figures travelling up and down the tiers (分级汇总, ZJ art. 5; decision 0047), and early
warnings pushed to the school's authority (N2025 art. 23).

Counts travel as messages, one per receiving unit and period, never per student; each tier
computes what it owns and nobody reads another tier's database:

- ``statistics.county_figures`` (national → each county, a day): the basic headcount of the
  county's schools at the end of the day by school, grade, gender and status, and the day's
  movements of the county;
- ``statistics.province_figures`` (national → each province, a day): the same headcount by
  county, grade, gender and status;
- ``statistics.county_extended`` (province → each of its counties, a day): the non-basic
  breakdowns of each school of the county (migrant, home instruction, Yi track) and the
  archives not handed over in time;
- ``statistics.alert_raised`` (national → the school's authority, once per alert): a school's
  week of registrations or departures far outside its own history, with the figures.

The rows are compact arrays (``[school, grade, gender, status, students]``, about 40 bytes
each), so one county of 1,000 schools stays one message: 24,000 rows (six grades, two
genders, two statuses) are 0.95 MB of JSON. Each message carries its unit,
its period and when it was computed: the receiver keeps one row per (unit, period, kind) and a
re-delivery or a re-run replaces it (never adds to it); an older computation never replaces a
newer one. Counts go to the unit they describe, so the small-count suppression (a superior
drilling into a unit below its own) does not apply to them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from shared.contracts.tiers import AUTHORITY_TIERS, COUNTY_TIER, NATIONAL_TIER, PROVINCE_TIER
from shared.messaging.envelope import Contract, contract

MAX_ROWS = 200_000  # rows of one message: 1,000 schools x 12 grades x 2 genders x 8 statuses
SCHOOL_CODE = r"^[1-8][0-9]{9}$"
COUNTY_CODE = r"^[1-8][0-9]{5}$"

# [unit (school or county code), grade, gender, status, students]
HeadcountRow = tuple[str, int, Literal["male", "female"], str, NonNegativeInt]
# [school code, students, migrant, home_instruction, yi_track]
ExtendedRow = tuple[str, NonNegativeInt, NonNegativeInt, NonNegativeInt, NonNegativeInt]
EXTENDED_COLUMNS = ("students", "migrant", "home_instruction", "yi_track")


class MovementCounts(BaseModel):
    """What moved under a unit in the period (the national ``movements`` answer's figures)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    counts: dict[str, NonNegativeInt]
    transfers: dict[str, dict[str, NonNegativeInt]] = Field(
        description="in / out: within_county, cross_county, cross_province"
    )
    other_provinces: dict[str, dict[str, NonNegativeInt]] = Field(
        description="cross-province transfers in / out by the other side's province"
    )


class _Figures(Contract):
    period: date = Field(description="the Beijing day the figures are of")
    computed_at: datetime = Field(description="a later computation replaces an earlier one")


@contract("statistics.county_figures", 1, senders=NATIONAL_TIER, targets=COUNTY_TIER)
class CountyFigures(_Figures):
    """national → county: the county's schools' basic headcount at the end of ``period`` (its
    census) and the period's movements of the county."""

    county_code: str = Field(pattern=COUNTY_CODE)
    as_of: datetime = Field(description="the census moment: the end of the Beijing day")
    rows: tuple[HeadcountRow, ...] = Field(
        max_length=MAX_ROWS, description="[school, grade, gender, status, students]"
    )
    movements: MovementCounts


@contract("statistics.province_figures", 1, senders=NATIONAL_TIER, targets=PROVINCE_TIER)
class ProvinceFigures(_Figures):
    """national → province: the basic headcount of the province's counties at the end of
    ``period``."""

    province_code: str = Field(pattern=r"^[1-8][0-9]$")
    as_of: datetime
    rows: tuple[HeadcountRow, ...] = Field(
        max_length=MAX_ROWS, description="[county, grade, gender, status, students]"
    )


@contract("statistics.county_extended", 1, senders=PROVINCE_TIER, targets=COUNTY_TIER)
class CountyExtended(_Figures):
    """province → county: the non-basic breakdowns of each school of the county, counted from
    the province's archives when ``computed_at``."""

    county_code: str = Field(pattern=COUNTY_CODE)
    rows: tuple[ExtendedRow, ...] = Field(
        max_length=MAX_ROWS,
        description="[school, students, migrant, home_instruction, yi_track]",
    )
    archives_overdue: NonNegativeInt = Field(description="hand-overs past their month")
    dropout_archives_overdue: NonNegativeInt = Field(
        description="migrant dropouts' archives not yet sent to the hukou county"
    )


@contract("statistics.alert_raised", 1, senders=NATIONAL_TIER, targets=AUTHORITY_TIERS)
class AlertRaised(Contract):
    """national → the school's authority: an early warning (N2025 art. 23), once per alert;
    the authority's desk opens a task for the officer to acknowledge."""

    alert_id: uuid.UUID
    school_code: str = Field(pattern=SCHOOL_CODE)
    kind: Literal["registrations", "departures"]
    week_start: date
    observed: NonNegativeInt = Field(description="in that week")
    mean: float = Field(ge=0, description="the school's weekly mean over the 8 weeks before")
    stdev: float = Field(ge=0, description="their standard deviation")
    threshold: float = Field(ge=0)
    weeks: int = Field(ge=1, description="the weeks of history compared with")
    article: str = "N2025 art. 23"
