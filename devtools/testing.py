"""Federation copies for tests: unique instance names (so queues never collide between tests
sharing a broker) and free ports, with the province rules beside them."""

from __future__ import annotations

import csv
import shutil
import tomllib
import uuid
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from devtools.broker import free_port
from shared.federation.config import SCHOOL_DIRECTORY_COLUMNS

REPO_CONFIG = Path(__file__).resolve().parents[1] / "config" / "federation.toml"


def federation_copy(
    directory: Path,
    *,
    source: Path = REPO_CONFIG,
    suffix: str | None = None,
    rules: dict[str, dict[str, Any]] | None = None,
    instances: Collection[str] | None = None,
    schools: Collection[dict[str, Any]] = (),
    school_directory: bool = False,
) -> Path:
    """Copy ``source`` into ``directory`` with instance names ``<name>-<suffix>`` and free ports
    (the broker's and the console's too, for a launcher that starts its own).

    ``rules`` overrides province rules, e.g. ``{"41": {"registration": {"auto_approve": True}}}``.
    ``instances`` keeps only the instances of those (original) names.
    ``schools`` adds schools (``[[school]]`` keys plus ``instance``: the original name of the
    instance that hosts it), e.g. a kind of school the repository's federation lacks.
    ``school_directory`` moves every school into a school directory beside the file, as a
    country's file has them (decisions 0052, 0054).
    Returns the new federation.toml path; ``instance_name(path, "school-41")`` maps names.
    """
    suffix = suffix or uuid.uuid4().hex[:8]
    directory.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as handle:
        data = tomllib.load(handle)
    if instances is not None:
        data["instance"] = [i for i in data.get("instance", []) if i["name"] in instances]
    for school in schools:
        entry = dict(school)
        host = entry.pop("instance")
        data.setdefault("school", []).append(entry)
        for instance in data.get("instance", []):
            if instance["name"] == host:
                instance["units"] = [*instance["units"], entry["code"]]
    if "broker" in data:
        data["broker"].update(port=free_port(), dist_port=free_port())
    if "console" in data:
        data["console"].update(port=free_port())
    for instance in data.get("instance", []):
        instance["name"] = f"{instance['name']}-{suffix}"
        instance["port"] = free_port()
    if school_directory:
        assert "school_directory" not in data, "the source has a school directory already"
        data = with_schools_in_a_directory(data, directory)
    target = directory / "federation.toml"
    target.write_text(dump_toml(data), encoding="utf-8")
    if "school_directory" in data and not school_directory:  # its instances renamed too
        with (source.parent / data["school_directory"]).open(
            encoding="utf-8", newline=""
        ) as handle:
            rows = list(csv.reader(handle))
        for row in rows[1:]:
            row[-1] = f"{row[-1]}-{suffix}" if row[-1] else ""
        with (directory / data["school_directory"]).open("w", encoding="utf-8", newline="") as out:
            csv.writer(out).writerows(rows)
    shutil.copytree(source.parent / "provinces", directory / "provinces", dirs_exist_ok=True)
    for code, override in (rules or {}).items():
        path = directory / "provinces" / f"{code}.toml"
        current: dict[str, Any] = {}
        if path.exists():
            with path.open("rb") as handle:
                current = tomllib.load(handle)
        for section, values in override.items():
            if isinstance(values, dict):
                current.setdefault(section, {}).update(values)
            else:
                current[section] = values
        path.write_text(dump_toml(current), encoding="utf-8")
    (directory / "suffix").write_text(suffix)
    return target


def with_schools_in_a_directory(data: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """The federation file's content ``data`` with every school moved into a school directory
    written to ``folder/schools.csv``, each on the instance the file had it on (decision
    0052): no ``[[school]]`` table, and no school in a school instance's ``units``."""
    schools = [i for i in data.get("instance", []) if i["tier"] == "school"]
    host = {code: i["name"] for i in schools for code in i.get("units", [])}
    write_school_directory(folder / "schools.csv", data.get("school", []), host)
    return {
        **{key: value for key, value in data.items() if key != "school"},
        "school_directory": "schools.csv",
        "instance": [
            {**i, "units": [] if i["tier"] == "school" else i.get("units", [])}
            for i in data.get("instance", [])
        ],
    }


def write_school_directory(
    path: Path, schools: Iterable[Mapping[str, Any]], host: Mapping[str, str]
) -> None:
    """A school directory (decision 0052) of ``schools`` (``[[school]]`` tables' content),
    each on the instance ``host`` names (none if it names none)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(SCHOOL_DIRECTORY_COLUMNS)
        for s in schools:
            yi_track = str(s["yi_track"]).lower() if "yi_track" in s else ""
            classes = "|".join(s.get("yi_track_classes", ()))
            stage, authority = s.get("stage", ""), s.get("authority", "")
            instance = host.get(s["code"], "")
            writer.writerow(
                (s["code"], s["name"], s["county"], stage, authority, yi_track, classes, instance)
            )


def instance_name(config: Path, base_name: str) -> str:
    return f"{base_name}-{(config.parent / 'suffix').read_text().strip()}"


def dump_toml(data: dict[str, Any]) -> str:
    """A minimal TOML writer for the shapes our config files use."""
    lines: list[str] = []
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
    for key, value in data.items():
        if key not in tables and key not in arrays:
            lines.append(f"{key} = {_value(value)}")
    for key, table in tables.items():
        lines += ["", f"[{key}]"] + [f"{k} = {_value(v)}" for k, v in table.items()]
    for key, items in arrays.items():
        for item in items:
            lines += ["", f"[[{key}]]"] + [f"{k} = {_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
