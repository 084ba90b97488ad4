"""The federation configuration file: units of every tier and the instances hosting them.

The file is data, not code (``config/federation.toml``): adding a county or moving schools to
another instance is an edit there. Every service loads it at start-up to know which units it
hosts and who is whose registry authority (学籍主管部门).

A city / prefecture (市、州, N2013 art. 3; N2025 art. 23's five levels) is a unit of its own
(``city:5134``) but no service of its own: the province instance of its province hosts it
(``cities = [...]`` of that ``[[instance]]``) and its approval desk serves it (decision 0034).
It is the registry authority of the schools it runs (``authority = "city"``) and a filing level
(备案) above its counties' schools. Its code is the first four digits of its counties' codes.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator
from pydantic.dataclasses import dataclass

if TYPE_CHECKING:
    from shared.federation.directory import SchoolDirectory

NATIONAL_CODE = "CN"


class Tier(StrEnum):
    NATIONAL = "national"
    PROVINCE = "province"
    CITY = "city"  # a prefecture-level unit, hosted by its province's instance (decision 0034)
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


def school_area(code: str) -> str:
    """A school's area: the first six digits of its code, i.e. its county's code, or
    ``<province>0000`` / ``<city>00`` for a school a province or city runs (``410000`` for
    4100000001, whose county is 410105). The broker routes schools by area (decision 0045):
    every school of an area is hosted by one instance."""
    return code[:6]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy, without the look-ups cached on this one (``cached_property`` values live in
        the instance's ``__dict__``, which pydantic copies: a copy with other instances would
        find units through the original's index)."""
        copy = super().model_copy(update=update, deep=deep)
        fields = type(self).model_fields
        for name in [name for name in copy.__dict__ if name not in fields]:
            del copy.__dict__[name]
        return copy


class Province(_Frozen):
    code: str = Field(pattern=r"^[1-8][0-9]$")
    name: str


class City(_Frozen):
    """A city / prefecture (地级市、自治州): ``5134`` 凉山彝族自治州."""

    code: str = Field(pattern=r"^[1-8][0-9]{3}$")
    name: str
    province: str


class County(_Frozen):
    code: str = Field(pattern=r"^[1-8][0-9]{5}$")
    name: str
    province: str

    @property
    def city_code(self) -> str:
        """The code its city would have (GB/T 2260: the first four digits)."""
        return self.code[:4]


@dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid"))
class School:
    """A school of the file. A slotted (pydantic) dataclass, not a model: a country's file
    names ~500,000 of them, in every service (~50 MB so, ~250 MB as models;
    ``bench.federation_scale``)."""

    code: Annotated[str, Field(pattern=r"^[1-8][0-9]{9}$")]
    name: str
    county: str
    stage: Literal["primary", "junior", "senior", "nine_year", "special"] = "primary"
    authority: Literal["county", "city", "province"] = "county"
    # 一类模式 (LS part 6): a Yi-language-track school; ``yi_track_classes`` names the track's
    # classes in a school that runs both (a class attribute).
    yi_track: bool = False
    yi_track_classes: tuple[str, ...] = ()

    @property
    def province(self) -> str:
        return self.county[:2]

    @property
    def city(self) -> str:
        """The code of the school's city / prefecture (the unit exists where configured)."""
        return self.county[:4]

    @property
    def authority_unit(self) -> UnitRef:
        """The school's registry authority: its county, or its city or province if it runs
        the school (N2013 art. 3)."""
        tier, code = self.authority_key
        return UnitRef(tier=tier, code=code)

    @property
    def authority_key(self) -> tuple[Tier, str]:
        """:attr:`authority_unit` as (tier, code), without building a unit."""
        if self.authority == "province":
            return Tier.PROVINCE, self.province
        if self.authority == "city":
            return Tier.CITY, self.city
        return Tier.COUNTY, self.county

    @property
    def city_unit(self) -> UnitRef:
        return UnitRef(tier=Tier.CITY, code=self.city)

    def in_yi_track(self, class_name: str | None = None) -> bool:
        """Whether the school, or the class ``class_name`` in it, is in the Yi-language track."""
        return self.yi_track or (class_name is not None and class_name in self.yi_track_classes)


class Instance(_Frozen):
    name: str = Field(pattern=r"^[a-z0-9-]{1,40}$")
    tier: Tier
    port: int = Field(ge=1, le=65535)
    host: str = "127.0.0.1"
    # the units the file lists (``units = [...]``); a school instance's may instead be given
    # by the school directory's ``instance`` column: :attr:`units` is both
    listed_units: tuple[str, ...] = Field(default=(), alias="units")
    # cities / prefectures a province instance hosts beside its provinces (decision 0034)
    cities: tuple[str, ...] = ()
    _directory: SchoolDirectory | None = PrivateAttr(default=None)

    @cached_property
    def units(self) -> tuple[str, ...]:
        """The codes of the units of its tier the instance hosts: those the file lists, then
        the schools the directory gives it (read once, on first use)."""
        if self._directory is None:
            return self.listed_units
        return self.listed_units + self._directory.codes_hosted_by(self.name)

    @property
    def hosted(self) -> tuple[UnitRef, ...]:
        """Every unit the instance hosts: its tier's, then its cities (built on each call: for
        start-up, not for look-ups; a school instance of a country hosts ~1,700 schools)."""
        return tuple(UnitRef(tier=self.tier, code=code) for code in self.units) + tuple(
            UnitRef(tier=Tier.CITY, code=code) for code in self.cities
        )

    @cached_property
    def _codes(self) -> frozenset[str]:
        return frozenset(self.units)

    @cached_property
    def _city_codes(self) -> frozenset[str]:
        return frozenset(self.cities)

    def hosts_unit(self, unit: UnitRef) -> bool:
        """Whether the instance hosts ``unit`` (a set look-up; no unit is built)."""
        if unit.tier == self.tier:
            return unit.code in self._codes
        return unit.tier == Tier.CITY and unit.code in self._city_codes

    def hosts_code(self, code: str) -> bool:
        """Whether the instance hosts a unit of its own tier with this code."""
        return code in self._codes


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
    cities: tuple[City, ...] = Field(default=(), alias="city")
    counties: tuple[County, ...] = Field(default=(), alias="county")
    # the schools of ``[[school]]`` tables; :attr:`schools` adds the school directory's
    listed_schools: tuple[School, ...] = Field(default=(), alias="school")
    instances: tuple[Instance, ...] = Field(default=(), alias="instance")
    _directory: SchoolDirectory | None = PrivateAttr(default=None)

    @property
    def schools(self) -> Sequence[School]:
        """Every school: the file's ``[[school]]`` tables, then its directory's (a scan of
        the country when it has one: for yearly and nightly work, not per message)."""
        from shared.federation.directory import all_schools

        return all_schools(self.listed_schools, self._directory)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Federation:
        directory: SchoolDirectory | None = (info.context or {}).get("school_directory")
        self._directory = directory
        for instance in self.instances:
            instance._directory = directory
        provinces = {p.code for p in self.provinces}
        counties = {c.code: c for c in self.counties}
        for county in self.counties:
            if county.province not in provinces or not county.code.startswith(county.province):
                raise ValueError(f"county {county.code} names unknown province {county.province}")
        cities = {c.code: c for c in self.cities}
        for city in self.cities:
            if city.province not in provinces or not city.code.startswith(city.province):
                raise ValueError(f"city {city.code} names unknown province {city.province}")
        for school in self.listed_schools:
            if school.county not in counties:
                raise ValueError(f"school {school.code} names unknown county {school.county}")
            if school.authority == "city" and school.city not in cities:
                raise ValueError(f"school {school.code} is city-run, but no city {school.city}")
            if school.yi_track_classes and school.yi_track:
                raise ValueError(f"school {school.code}: a Yi-track school names no classes")
        known = {
            Tier.NATIONAL: {NATIONAL_CODE},
            Tier.PROVINCE: provinces,
            Tier.CITY: set(cities),
            Tier.COUNTY: set(counties),
            Tier.SCHOOL: {s.code for s in self.listed_schools},
        }
        hosted: dict[UnitRef, str] = {}
        areas: dict[str, str] = {}
        for instance in self.instances:
            if instance.cities and instance.tier != Tier.PROVINCE:
                raise ValueError(f"instance {instance.name}: only a province instance hosts cities")
            if not instance.listed_units and (
                directory is None or not directory.hosts_any(instance.name)
            ):
                raise ValueError(f"instance {instance.name} hosts no unit")
            for unit in self._listed_hosted(instance):
                if unit.code not in known[unit.tier] and not (
                    unit.tier == Tier.SCHOOL
                    and directory is not None
                    and directory.school(unit.code) is not None
                ):
                    raise ValueError(
                        f"instance {instance.name} hosts unknown {unit.tier} {unit.code}"
                    )
                if unit.tier == Tier.CITY and cities[unit.code].province not in instance.units:
                    raise ValueError(
                        f"instance {instance.name} hosts city {unit.code} but not its province"
                    )
                if unit in hosted:
                    raise ValueError(f"{unit} is hosted by both {hosted[unit]} and {instance.name}")
                hosted[unit] = instance.name
                if unit.tier == Tier.SCHOOL:
                    area = school_area(unit.code)
                    other = areas.setdefault(area, instance.name)
                    if other != instance.name:
                        raise ValueError(
                            f"schools of area {area} are hosted by both {other} and"
                            f" {instance.name}: the broker routes schools by area, so one"
                            " instance hosts all of an area's schools (decision 0045)"
                        )
        if directory is not None:
            listed = dict.fromkeys((s.code for s in self.listed_schools), "")
            listed.update(
                (unit.code, name) for unit, name in hosted.items() if unit.tier == Tier.SCHOOL
            )
            school_instances = {i.name for i in self.instances if i.tier == Tier.SCHOOL}
            for problem in directory.problems(set(counties), set(cities), school_instances, listed):
                raise ValueError(f"{directory.source}: {problem}")
        return self

    @staticmethod
    def _listed_hosted(instance: Instance) -> tuple[UnitRef, ...]:
        """The units the file itself lists for ``instance`` (not the directory's)."""
        return tuple(UnitRef(tier=instance.tier, code=c) for c in instance.listed_units) + tuple(
            UnitRef(tier=Tier.CITY, code=c) for c in instance.cities
        )

    @cached_property
    def _schools(self) -> dict[str, School]:
        return {s.code: s for s in self.listed_schools}

    @cached_property
    def _schools_by_county(self) -> dict[str, list[School]]:
        found: dict[str, list[School]] = {}
        for school in self.listed_schools:
            found.setdefault(school.county, []).append(school)
        return found

    @cached_property
    def _counties(self) -> dict[str, County]:
        return {c.code: c for c in self.counties}

    @cached_property
    def _cities(self) -> dict[str, City]:
        return {c.code: c for c in self.cities}

    def city(self, code: str) -> City | None:
        return self._cities.get(code)

    def city_of(self, unit_code: str) -> City | None:
        """The configured city a county or school code lies in, if any."""
        return self._cities.get(unit_code[:4]) if len(unit_code) > 4 else None

    def school(self, code: str) -> School | None:
        found = self._schools.get(code)
        if found is None and self._directory is not None:
            return self._directory.school(code)
        return found

    def county(self, code: str) -> County | None:
        return self._counties.get(code)

    @cached_property
    def _instances(self) -> dict[str, Instance]:
        return {instance.name: instance for instance in self.instances}

    def instance(self, name: str) -> Instance:
        found = self._instances.get(name)
        if found is None:
            raise KeyError(f"no instance named {name!r} in the federation configuration")
        return found

    @cached_property
    def _instance_by_code(self) -> dict[Tier, dict[str, Instance]]:
        """Tier → unit code → hosting instance, keyed by the file's own code strings (no unit
        object per school: ~30 MB for a country's 500,000 schools)."""
        index: dict[Tier, dict[str, Instance]] = {tier: {} for tier in Tier}
        for instance in self.instances:
            index[instance.tier].update(dict.fromkeys(instance.listed_units, instance))
            index[Tier.CITY].update(dict.fromkeys(instance.cities, instance))
        return index

    def instance_hosting(self, unit: UnitRef) -> Instance | None:
        """The instance hosting ``unit``, if any: a look-up in an index built once (the units
        the file lists), else a query on the school directory, not a scan of every instance's
        units (a country's file names ~500,000 schools)."""
        found = self._instance_by_code[unit.tier].get(unit.code)
        if found is None and unit.tier == Tier.SCHOOL and self._directory is not None:
            name = self._directory.instance_of(unit.code)
            return None if name is None else self._instances.get(name)
        return found

    def schools_of_county(self, county_code: str) -> list[School]:
        """The county's schools in the file's order (an index: no scan of every school)."""
        return self.schools_under(county_code)

    def schools_run_by(self, authority: UnitRef) -> list[School]:
        """The schools whose registry authority is ``authority`` (a province, city or county;
        N2013 art. 3), found among the schools under its code: no unit built per school."""
        key = (authority.tier, authority.code)
        return [s for s in self.schools_under(authority.code) if s.authority_key == key]

    def schools_under(self, code: str) -> list[School]:
        """The schools of a province (``41``), city (``4101``) or county (``410102``): those
        whose county's code starts with ``code``, county by county, each county's in the
        file's order. Through the county index: a scan of the ~3,000 counties, not of the
        ~500,000 schools."""
        if len(code) == 6:
            listed = list(self._schools_by_county.get(code, ()))
        else:
            listed = [
                school
                for county, schools in self._schools_by_county.items()
                if county.startswith(code)
                for school in schools
            ]
        if self._directory is None:
            return listed
        # county by county: the directory's counties come in order, the tables' are merged in
        return sorted(listed + self._directory.schools_under(code), key=lambda s: s.county)

    def schools_matching(
        self, under: str, search: str = "", after: str | None = None, limit: int = 50
    ) -> tuple[list[School], int]:
        """A page of the schools under ``under`` (a province's, city's or county's code; ''
        for the country), in code order after ``after``, whose code starts with ``search`` or
        whose name holds it; and how many match in all. A country's directory answers it with
        one page's query, not a scan of its ~500,000 schools."""
        listed = [s for s in self.listed_schools if s.county.startswith(under)]

        def matches(school: School) -> bool:
            return not search or school.code.startswith(search) or search in school.name

        found = sorted((s for s in listed if matches(s)), key=lambda s: s.code)
        total = len(found)
        page = [s for s in found if after is None or s.code > after][:limit]
        if self._directory is not None:
            more, counted = self._directory.page(under, search, after, limit)
            page = sorted(page + more, key=lambda s: s.code)[:limit]
            total += counted
        return page, total


SCHOOL_DIRECTORY_COLUMNS = (
    "code",
    "name",
    "county",
    "stage",
    "authority",
    "yi_track",
    "yi_track_classes",
    "instance",
)


def load_federation(path: str | Path) -> Federation:
    """Read and check a federation TOML file, and its school directory if it names one.

    ``school_directory = "schools.csv"`` (beside the file) lists schools one per row, with
    the instance hosting each (:data:`SCHOOL_DIRECTORY_COLUMNS`; ``yi_track_classes``
    separated by ``|``). It is compiled once into an indexed SQLite file and the schools are
    looked up there when asked (:mod:`shared.federation.directory`): a country's ~500,000
    schools held as objects cost every instance ~200 MB (decisions 0052, 0054). ``[[school]]``
    tables and a directory may be used together.

    A process that loads the same content again (the service's command line, then its
    runtime) gets the federation it already has: the model is immutable."""
    from shared.federation.directory import SchoolDirectory, file_digest

    path = Path(path)
    content = path.read_bytes()
    key = (hashlib.blake2b(content, digest_size=16).digest(), path.resolve().parent)
    known = _PARSED.get(key)
    if known is not None:  # the same file: parsed again only if its directory changed
        source, source_digest, federation = known
        if source is None or file_digest(source) == source_digest:
            return federation
    raw = tomllib.loads(content.decode("utf-8"))
    named = raw.pop("school_directory", None)
    source = None if named is None else path.parent / str(named)
    source_digest = None if source is None else file_digest(source)
    directory = None if source is None else SchoolDirectory.open(source, source_digest)
    federation = Federation.model_validate(raw, context={"school_directory": directory})
    while len(_PARSED) >= 4:
        del _PARSED[next(iter(_PARSED))]
    _PARSED[key] = (source, source_digest, federation)
    return federation


# (file content digest, its folder) → (school directory, its digest, federation): the last few
_PARSED: dict[tuple[bytes, Path], tuple[Path | None, bytes | None, Federation]] = {}
