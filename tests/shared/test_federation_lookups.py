"""Which instance hosts a unit: the look-ups every transfer, promotion and request makes.

A country's federation file names ~500,000 schools over ~300 school instances
(``bench.federation_scale``). A look-up must therefore not walk the instances' unit lists:
before these look-ups were indexes, ``instance_hosting`` built every hosted unit of every
instance on each call (750 ms at a country's size) and ``hosts_unit`` an instance's (3 ms).
"""

from __future__ import annotations

import csv
import gc
import os
import re
import shutil
import tomllib
from pathlib import Path

import pytest

import shared.federation.config as config
import shared.federation.directory as directory
from bench.federation_scale import configuration, with_a_directory
from devtools.testing import REPO_CONFIG, dump_toml, federation_copy
from shared.federation.config import (
    NATIONAL,
    SCHOOL_DIRECTORY_COLUMNS,
    Federation,
    Tier,
    UnitRef,
    load_federation,
)

FEDERATION = load_federation(REPO_CONFIG)


def test_every_hosted_unit_is_found_at_its_own_instance_and_only_there() -> None:
    cities = 0
    for instance in FEDERATION.instances:
        for unit in instance.hosted:
            assert FEDERATION.instance_hosting(unit) is instance, unit
            assert instance.hosts_unit(unit)
            cities += unit.tier == Tier.CITY
            others = [i for i in FEDERATION.instances if i is not instance]
            assert not any(other.hosts_unit(unit) for other in others), unit
        for code in instance.units:
            assert instance.hosts_code(code)
    assert cities, "the repository's federation has a city hosted by its province's instance"


def test_a_unit_nobody_hosts_is_found_nowhere() -> None:
    unknown = [
        UnitRef(tier=Tier.SCHOOL, code="4101029999"),
        UnitRef(tier=Tier.COUNTY, code="419999"),
        # a real school's code under another tier is not that school
        UnitRef(tier=Tier.COUNTY, code=FEDERATION.schools[0].code[:6] + "9"),
    ]
    for unit in unknown:
        assert FEDERATION.instance_hosting(unit) is None
        assert not any(i.hosts_unit(unit) for i in FEDERATION.instances)
    national = FEDERATION.instance_hosting(NATIONAL)
    assert national is not None and national.tier == Tier.NATIONAL
    assert not national.hosts_code(FEDERATION.schools[0].code)


def test_looking_up_a_countrys_schools_builds_nothing_per_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After the first look-up, a look-up constructs no unit: it is an index, whatever the
    number of instances and schools (the old scan built every instance's units each call)."""
    federation = Federation.model_validate(configuration(60, 6000, 20))
    schools = [UnitRef(tier=Tier.SCHOOL, code=s.code) for s in federation.schools[::50]]
    first = federation.instance_hosting(schools[0])
    assert first is not None
    built = 0

    class CountedUnitRef(UnitRef):
        def __init__(self, **fields: object) -> None:
            nonlocal built
            built += 1
            super().__init__(**fields)

    monkeypatch.setattr(config, "UnitRef", CountedUnitRef)
    found = [federation.instance_hosting(unit) for unit in schools]
    assert all(
        instance is not None and instance.hosts_unit(unit)
        for instance, unit in zip(found, schools, strict=True)
    )
    assert all(
        instance.hosts_code(unit.code)  # type: ignore[union-attr]
        for instance, unit in zip(found, schools, strict=True)
    )
    assert len({instance.name for instance in found}) == 20  # type: ignore[union-attr]
    assert built == 0


@pytest.mark.parametrize(
    "school",
    [
        {"code": "410102001", "name": "九位代码", "county": "410102"},  # nine digits
        {"code": "4101029998", "county": "410102"},  # no name
        {"code": "4101029998", "name": "多一项", "county": "410102", "motto": "x"},
        {"code": "4101029998", "name": "阶段", "county": "410102", "stage": "college"},
    ],
)
def test_a_school_the_file_gets_wrong_is_refused(school: dict[str, str]) -> None:
    raw = FEDERATION.model_dump(by_alias=True)
    raw["school"] = [*raw["school"], school]
    with pytest.raises(ValueError):
        Federation.model_validate(raw)


def test_a_school_read_from_the_file_is_what_it_says() -> None:
    raw = FEDERATION.model_dump(by_alias=True)
    again = Federation.model_validate(raw)
    assert again == FEDERATION
    school = again.school("5134010003")
    assert school is not None and school == FEDERATION.school("5134010003")
    assert (school.province, school.city, school.county) == ("51", "5134", school.county)
    with pytest.raises((AttributeError, ValueError)):  # frozen
        school.name = "改名"  # type: ignore[misc]


def test_the_schools_under_a_province_city_or_county_are_those_its_code_begins() -> None:
    areas = {c.code for c in FEDERATION.counties} | {c.code for c in FEDERATION.cities}
    areas |= {p.code for p in FEDERATION.provinces} | {"4101", "99", "419999"}
    assert any(FEDERATION.schools_under(p.code) for p in FEDERATION.provinces)
    for area in areas:
        scanned = [s for s in FEDERATION.schools if s.county.startswith(area)]
        found = FEDERATION.schools_under(area)
        assert sorted(s.code for s in found) == sorted(s.code for s in scanned), area
        assert len(found) == len(set(found))
        for county in {s.county for s in found}:  # each county's in the file's order
            assert [s for s in found if s.county == county] == FEDERATION.schools_of_county(county)


def _with_a_directory(tmp_path: Path, moved: int = 5) -> Path:
    """The repository's federation with its last ``moved`` schools in a school directory."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    with REPO_CONFIG.open("rb") as handle:
        data = tomllib.load(handle)
    schools, kept = data["school"][-moved:], data["school"][:-moved]
    host = {code: i["name"] for i in data["instance"] for code in i["units"]}
    for instance in data["instance"]:
        instance["units"] = [c for c in instance["units"] if c not in {s["code"] for s in schools}]
    with (tmp_path / "schools.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(SCHOOL_DIRECTORY_COLUMNS)
        for s in schools:
            writer.writerow(
                [
                    s["code"],
                    s["name"],
                    s["county"],
                    s.get("stage", ""),
                    s.get("authority", ""),
                    str(s["yi_track"]).lower() if "yi_track" in s else "",
                    "|".join(s.get("yi_track_classes", ())),
                    host.get(s["code"], ""),
                ]
            )
    data["school"] = kept
    data["school_directory"] = "schools.csv"
    (tmp_path / "federation.toml").write_text(dump_toml(data), encoding="utf-8")
    return tmp_path / "federation.toml"


def test_schools_read_from_a_directory_are_those_the_file_would_name(tmp_path: Path) -> None:
    moved = len(FEDERATION.schools) - 3
    federation = load_federation(_with_a_directory(tmp_path, moved))
    assert len(federation.schools) == len(FEDERATION.schools)
    assert {s.code: s for s in federation.schools} == {s.code: s for s in FEDERATION.schools}
    assert any(s.yi_track or s.yi_track_classes for s in federation.schools[3:])
    for instance in FEDERATION.instances:
        assert set(federation.instance(instance.name).units) == set(instance.units)
    for school in FEDERATION.schools:
        unit = UnitRef(tier=Tier.SCHOOL, code=school.code)
        hosting, expected = federation.instance_hosting(unit), FEDERATION.instance_hosting(unit)
        assert (hosting and hosting.name) == (expected and expected.name)


@pytest.mark.parametrize(
    ("row", "refusal"),
    [
        ("4101029998,学校,410102,,,,,", None),  # a school no instance hosts: allowed
        ("4101029998,学校,410102,college,,,,", "schools.csv:3"),
        ("410102999,学校,410102,,,,,", "schools.csv:3"),
        ("4101029998,学校,410102,,,yes,,", "yi_track"),
        ("4101029998,学校,410102,,,,", "7 columns"),
        ("4101029998,学校,410102,,,,,school-99", "school-99, which is not a school instance"),
        ("4101029998,学校,410102,,,,,county-41", "county-41, which is not a school instance"),
        # area 410102's other schools are listed on school-41: one instance hosts an area
        ("4101029998,学校,410102,,,,,school-33", "hosted by both school-41 and school-33"),
        ("4101020001,学校,410102,,,,,", "4101020001 is named both in the file and in"),
        ("4101029998,学校,419999,,,,,", "unknown county 419999"),
    ],
)
def test_a_directory_row_the_file_gets_wrong_is_refused_with_its_line(
    tmp_path: Path, row: str, refusal: str | None
) -> None:
    config = _with_a_directory(tmp_path, 1)
    with (tmp_path / "schools.csv").open("a", encoding="utf-8") as out:
        out.write(row + "\n")
    if refusal is None:
        assert load_federation(config).school("4101029998") is not None
        return
    with pytest.raises(ValueError, match=re.escape(refusal)):
        load_federation(config)


def test_a_changed_directory_is_read_again(tmp_path: Path) -> None:
    config = _with_a_directory(tmp_path, 2)
    first = load_federation(config)
    assert load_federation(config) is first  # the same content: the same federation
    with (tmp_path / "schools.csv").open("a", encoding="utf-8") as out:
        out.write("4101029998,新校,410102,,,,,\n")
    again = load_federation(config)
    assert again.school("4101029998") is not None and first.school("4101029998") is None


def test_a_directory_mounted_elsewhere_is_named_by_its_absolute_path(tmp_path: Path) -> None:
    """In a cluster the file comes from a ConfigMap and the directory from a volume of its own
    (decision 0058): ``school_directory`` names it by its absolute path."""
    config = _with_a_directory(tmp_path / "etc", 4)
    mounted = tmp_path / "var" / "directory" / "schools.csv"
    mounted.parent.mkdir(parents=True)
    (config.parent / "schools.csv").rename(mounted)
    with config.open("rb") as handle:
        data = tomllib.load(handle)
    data["school_directory"] = str(mounted)
    config.write_text(dump_toml(data), encoding="utf-8")
    federation = load_federation(config)
    assert not (config.parent / "schools.csv").exists()  # read where it is mounted, not beside
    assert {s.code: s for s in federation.schools} == {s.code: s for s in FEDERATION.schools}


def test_a_copy_for_tests_carries_the_directory_with_its_instances_renamed(tmp_path: Path) -> None:
    source = _with_a_directory(tmp_path / "source", 4)
    shutil.copytree(REPO_CONFIG.parent / "provinces", source.parent / "provinces")
    copy = federation_copy(tmp_path / "copy", source=source, suffix="t1")
    federation = load_federation(copy)
    assert len(federation.schools) == len(FEDERATION.schools)
    for school in FEDERATION.schools:
        unit = UnitRef(tier=Tier.SCHOOL, code=school.code)
        original = FEDERATION.instance_hosting(unit)
        hosting = federation.instance_hosting(unit)
        assert hosting is not None and original is not None
        assert hosting.name == f"{original.name}-t1"


def test_the_schools_an_authority_runs_are_those_naming_it() -> None:
    authorities = [UnitRef(tier=Tier.PROVINCE, code=p.code) for p in FEDERATION.provinces]
    authorities += [UnitRef(tier=Tier.CITY, code=c.code) for c in FEDERATION.cities]
    authorities += [UnitRef(tier=Tier.COUNTY, code=c.code) for c in FEDERATION.counties]
    kinds = set()
    for authority in authorities:
        expected = [s for s in FEDERATION.schools if s.authority_unit == authority]
        assert sorted(s.code for s in FEDERATION.schools_run_by(authority)) == sorted(
            s.code for s in expected
        ), authority
        kinds |= {s.authority for s in expected}
    assert kinds == {"province", "city", "county"}  # the repository's file has each kind


def test_a_file_loaded_again_unchanged_is_not_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's command line and its runtime both load the file: a country's `[[school]]`
    tables take seconds and hundreds of MB to parse, so the second load must not parse."""
    target = tmp_path / "federation.toml"
    target.write_bytes(REPO_CONFIG.read_bytes())
    parses = 0
    parse = tomllib.loads

    def counted(text: str) -> dict[str, object]:
        nonlocal parses
        parses += 1
        return parse(text)

    monkeypatch.setattr(config.tomllib, "loads", counted)
    first = load_federation(target)
    assert load_federation(target) is first
    assert parses == 1
    target.write_text(target.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert load_federation(target) == first
    assert parses == 2


def _schools_alive() -> int:
    return sum(isinstance(o, config.School) for o in gc.get_objects())


def test_a_directorys_schools_are_looked_up_on_disk_not_held(tmp_path: Path) -> None:
    """A country's schools in a directory are not objects in every instance: after the load
    and look-ups, the process holds about none of them, and every look-up answers what the
    same schools as ``[[school]]`` tables answer (decision 0054)."""
    data = configuration(60, 6000, 20)
    tables = Federation.model_validate(data)
    gc.collect()
    before = _schools_alive()
    federation = load_federation(with_a_directory(data, tmp_path))
    codes = [s.code for s in tables.schools[::97]]
    for code in codes:
        unit = UnitRef(tier=Tier.SCHOOL, code=code)
        assert federation.school(code) == tables.school(code)
        hosting = federation.instance_hosting(unit)
        assert hosting is not None and hosting.name == tables.instance_hosting(unit).name  # type: ignore[union-attr]
        assert hosting.hosts_unit(unit)
    for area in ["11", "1101", codes[0][:6], "99"]:
        assert federation.schools_under(area) == tables.schools_under(area), area
    gc.collect()
    assert _schools_alive() - before < 100  # the tables hold 6,000
    assert len(federation.schools) == 6000
    assert [s.code for s in federation.schools] == [s.code for s in tables.schools]
    assert federation.schools[-1] == tables.schools[-1]
    for instance in tables.instances:
        assert federation.instance(instance.name).units == instance.units


def test_a_directory_is_compiled_once_and_then_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XUEJI_DIRECTORY_CACHE", str(tmp_path / "cache"))
    config_path = with_a_directory(configuration(6, 300, 3), tmp_path / "config")
    compiled = 0
    compile_directory = directory.compile_directory

    def counted(source: Path, target: Path) -> None:
        nonlocal compiled
        compiled += 1
        compile_directory(source, target)

    monkeypatch.setattr(directory, "compile_directory", counted)
    first = load_federation(config_path)
    config._PARSED.clear()  # as a new process would
    again = load_federation(config_path)
    assert again is not first and again.school(first.schools[5].code) == first.schools[5]
    assert compiled == 1
    assert [p.suffix for p in (tmp_path / "cache").iterdir()] == [".sqlite"]  # no half file


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ("twice", "is listed twice (also line 2)"),
        ("split", "are hosted by"),
        ("empty", "hosts no unit"),
        ("city", "is city-run, but no city"),
    ],
)
def test_a_directory_that_contradicts_itself_or_the_file_is_refused(
    tmp_path: Path, change: str, refusal: str
) -> None:
    data = configuration(6, 300, 3)
    school = data["school"][0]
    if change == "twice":
        data["school"].append(dict(school))
    elif change == "city":
        school["authority"] = "city"
    elif change == "empty":
        data["instance"].append({"name": "school-idle", "tier": "school", "port": 9999})
    config_path = with_a_directory(data, tmp_path)
    if change == "split":  # one school of an area moved to another instance
        lines = (tmp_path / "schools.csv").read_text(encoding="utf-8").splitlines()
        first = lines[1].split(",")
        other = next(line.split(",")[-1] for line in lines[2:] if line.split(",")[-1] != first[-1])
        mate = next(line for line in lines[2:] if line.startswith(first[0][:6]))
        lines[lines.index(mate)] = ",".join([*mate.split(",")[:-1], other])
        (tmp_path / "schools.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(refusal)):
        load_federation(config_path)


def test_a_compiled_directory_folder_others_may_write_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled files are trusted as checked: a folder others may write to could hold a
    planted one, so it is refused before anything is read from it."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("XUEJI_DIRECTORY_CACHE", str(shared))
    config_path = with_a_directory(configuration(6, 300, 3), tmp_path / "config")
    with pytest.raises(ValueError, match="writable by no one else"):
        load_federation(config_path)
    monkeypatch.delenv("XUEJI_DIRECTORY_CACHE")
    monkeypatch.setattr(directory.tempfile, "tempdir", str(tmp_path))
    folder = directory.cache_folder()  # the default: the user's own
    assert folder.stat().st_mode & 0o777 == 0o700
    assert str(os.getuid()) in folder.name


def test_a_copy_with_other_instances_finds_its_own_not_the_originals() -> None:
    """pydantic copies the cached look-ups with the fields: a copy must build its own."""
    FEDERATION.instance("national")  # the original's indexes are built
    school = UnitRef(tier=Tier.SCHOOL, code=FEDERATION.schools[0].code)
    assert FEDERATION.instance_hosting(school) is not None
    renamed = tuple(i.model_copy(update={"name": f"{i.name}-x"}) for i in FEDERATION.instances)
    copy = FEDERATION.model_copy(update={"instances": renamed})
    assert copy.instance("national-x").tier == Tier.NATIONAL
    with pytest.raises(KeyError):
        copy.instance("national")
    assert copy.instance_hosting(school).name.endswith("-x")  # type: ignore[union-attr]


def test_a_compiled_directory_removed_from_the_temporary_folder_is_compiled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cleaner of /tmp may remove the compiled file between the load and a process's first
    query (a forked child opens its own connection): it is compiled again, not an error."""
    monkeypatch.setenv("XUEJI_DIRECTORY_CACHE", str(tmp_path / "cache"))
    data = configuration(6, 300, 3)
    with_a_directory(data, tmp_path / "config")
    opened = directory.SchoolDirectory.open(tmp_path / "config" / "schools.csv")
    opened.compiled.unlink()
    school = opened.school(data["school"][7]["code"])
    assert school is not None and school.name == data["school"][7]["name"]
    assert opened.compiled.exists()


def test_a_page_of_matching_schools_is_the_scans_in_both_forms(tmp_path: Path) -> None:
    """National's schools page (the statistics drill-down) asks for one page of the schools
    under a unit whose code begins with or whose name holds the search: the directory answers
    with a page of its code index, and both forms answer what a scan would."""
    data = configuration(60, 6000, 20)
    tables = Federation.model_validate(data)
    directory_form = load_federation(with_a_directory(data, tmp_path))
    some = tables.schools[1234]
    province = some.county[:2]
    cases = [
        ("", "", None),
        ("", "", some.code),
        (province, "", None),
        (some.county[:4], "", None),
        (some.county, "", None),
        ("", some.code[:7], None),
        ("", some.name, None),  # a name: only the one school holds it whole
        (province, "学校" + some.code[:8], some.code),
        ("99", "", None),
    ]
    for under, search, after in cases:
        scanned = sorted(
            (
                s
                for s in tables.schools
                if s.county.startswith(under)
                and (not search or s.code.startswith(search) or search in s.name)
            ),
            key=lambda s: s.code,
        )
        expected = [s for s in scanned if after is None or s.code > after][:25]
        for federation in (tables, directory_form):
            page, total = federation.schools_matching(under, search, after, 25)
            assert (page, total) == (expected, len(scanned)), (under, search, after)
