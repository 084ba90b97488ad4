"""The federation configuration file: units of every tier and the instances hosting them.

The file is data, not code (``config/federation.toml``): adding a county or moving schools to
another instance is an edit there. Every service loads it at start-up to know which units it
hosts and who is whose registry authority (学籍主管部门).
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NATIONAL_CODE = "CN"


class Tier(StrEnum):
    NATIONAL = "national"
    PROVINCE = "province"
    COUNTY = "county"
    SCHOOL = "school"


class UnitRef(BaseModel):
    """One unit of one tier, e.g. ``county:410102``; the address of a message."""

    model_config = ConfigDict(frozen=True)

    tier: Tier
    code: str = Field(pattern=r"^[0-9A-Z]{2,12}$")

    def __str__(self) -> str:
        return f"{self.tier}:{self.code}"

    @classmethod
    def parse(cls, text: str) -> UnitRef:
        tier, _, code = text.partition(":")
        return cls(tier=Tier(tier), code=code)


NATIONAL = UnitRef(tier=Tier.NATIONAL, code=NATIONAL_CODE)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Province(_Frozen):
    code: str = Field(pattern=r"^[1-8][0-9]$")
    name: str


class County(_Frozen):
    code: str = Field(pattern=r"^[1-8][0-9]{5}$")
    name: str
    province: str


class School(_Frozen):
    code: str = Field(pattern=r"^[1-8][0-9]{9}$")
    name: str
    county: str
    stage: Literal["primary", "junior", "senior", "nine_year", "special"] = "primary"
    authority: Literal["county", "province"] = "county"

    @property
    def province(self) -> str:
        return self.county[:2]

    @property
    def authority_unit(self) -> UnitRef:
        """The school's registry authority: its county, or its province if province-direct."""
        if self.authority == "province":
            return UnitRef(tier=Tier.PROVINCE, code=self.province)
        return UnitRef(tier=Tier.COUNTY, code=self.county)


class Instance(_Frozen):
    name: str = Field(pattern=r"^[a-z0-9-]{1,40}$")
    tier: Tier
    port: int = Field(ge=1, le=65535)
    host: str = "127.0.0.1"
    units: tuple[str, ...] = Field(min_length=1)


class BrokerSettings(_Frozen):
    port: int = 5682
    dist_port: int = 25682


class ConsoleEndpoint(_Frozen):
    """Where the console (services/console) listens; it serves the units of every instance."""

    host: str = "127.0.0.1"
    port: int = Field(default=8300, ge=1, le=65535)


class Federation(_Frozen):
    broker: BrokerSettings = BrokerSettings()
    console: ConsoleEndpoint = ConsoleEndpoint()
    provinces: tuple[Province, ...] = Field(default=(), alias="province")
    counties: tuple[County, ...] = Field(default=(), alias="county")
    schools: tuple[School, ...] = Field(default=(), alias="school")
    instances: tuple[Instance, ...] = Field(default=(), alias="instance")

    @model_validator(mode="after")
    def _consistent(self) -> Federation:
        provinces = {p.code for p in self.provinces}
        counties = {c.code: c for c in self.counties}
        for county in self.counties:
            if county.province not in provinces or not county.code.startswith(county.province):
                raise ValueError(f"county {county.code} names unknown province {county.province}")
        for school in self.schools:
            if school.county not in counties:
                raise ValueError(f"school {school.code} names unknown county {school.county}")
        known = {
            Tier.NATIONAL: {NATIONAL_CODE},
            Tier.PROVINCE: provinces,
            Tier.COUNTY: set(counties),
            Tier.SCHOOL: {s.code for s in self.schools},
        }
        hosted: dict[UnitRef, str] = {}
        for instance in self.instances:
            for code in instance.units:
                if code not in known[instance.tier]:
                    raise ValueError(
                        f"instance {instance.name} hosts unknown {instance.tier} {code}"
                    )
                unit = UnitRef(tier=instance.tier, code=code)
                if unit in hosted:
                    raise ValueError(f"{unit} is hosted by both {hosted[unit]} and {instance.name}")
                hosted[unit] = instance.name
        return self

    @cached_property
    def _schools(self) -> dict[str, School]:
        return {s.code: s for s in self.schools}

    @cached_property
    def _counties(self) -> dict[str, County]:
        return {c.code: c for c in self.counties}

    def school(self, code: str) -> School | None:
        return self._schools.get(code)

    def county(self, code: str) -> County | None:
        return self._counties.get(code)

    def instance(self, name: str) -> Instance:
        for instance in self.instances:
            if instance.name == name:
                return instance
        raise KeyError(f"no instance named {name!r} in the federation configuration")

    def instance_hosting(self, unit: UnitRef) -> Instance | None:
        for instance in self.instances:
            if instance.tier == unit.tier and unit.code in instance.units:
                return instance
        return None

    def schools_of_county(self, county_code: str) -> list[School]:
        return [s for s in self.schools if s.county == county_code]


def load_federation(path: str | Path) -> Federation:
    """Read and check a federation TOML file."""
    with Path(path).open("rb") as handle:
        return Federation.model_validate(tomllib.load(handle))
