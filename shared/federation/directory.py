"""A federation's school directory, kept on disk and looked up when asked (decision 0054).

A country's directory names ~500,000 schools (``bench.federation_scale``). Held as objects in
every instance they cost ~200 MB of each one's memory with their indexes (decision 0052),
though an instance asks for a few of them at a time: the school a transfer names, a county's
schools for a page. So the CSV (``school_directory = "schools.csv"``, one row per school with
the instance hosting it) is compiled once into a read-only SQLite file, indexed by code, county
and instance, and every look-up is a query on it: a few µs, and the instance's memory holds
SQLite's small page cache, not the country.

The compiled file is named by the CSV's digest, in ``XUEJI_DIRECTORY_CACHE`` (default: the
user's own ``xueji-directory-<uid>`` in the temporary folder; a pod's ``/tmp`` is its own
writable volume). An
instance that finds it there uses it; one that does not compiles it, writing a temporary file
and renaming it into place, so processes compiling at once never see half a file.
"""

from __future__ import annotations

import csv
import hashlib
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import overload

from shared.federation.config import SCHOOL_DIRECTORY_COLUMNS, School

_SCHEMA = """
CREATE TABLE school (
    seq INTEGER PRIMARY KEY,  -- the school's place in the directory, from 0
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    county TEXT NOT NULL,
    stage TEXT NOT NULL,
    authority TEXT NOT NULL,
    yi_track INTEGER NOT NULL,
    yi_track_classes TEXT NOT NULL,
    instance TEXT NOT NULL,
    line INTEGER NOT NULL  -- its line in the CSV, for messages
);
CREATE INDEX school_by_county ON school (county, seq);
CREATE INDEX school_by_instance ON school (instance, seq);
"""
_COLUMNS = "code, name, county, stage, authority, yi_track, yi_track_classes"
_BATCH = 5_000


def file_digest(path: Path) -> bytes:
    """A digest of the file's content, read a MiB at a time."""
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.digest()


def _prefix_range(prefix: str) -> tuple[str, str]:
    """The bounds of the codes that start with ``prefix``: ``>= low AND < high``, which an
    index answers (a ``LIKE`` would not)."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def cache_folder() -> Path:
    """Where compiled directories are kept (``XUEJI_DIRECTORY_CACHE``), created if missing.

    Its files are trusted as checked when compiled, so it must be the process's own: a folder
    another user owns or may write to is refused (the default one is per user, 0700)."""
    configured = os.environ.get("XUEJI_DIRECTORY_CACHE")
    folder = (
        Path(configured)
        if configured
        else Path(tempfile.gettempdir()) / f"xueji-directory-{os.getuid()}"
    )
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = folder.stat()
    if status.st_uid != os.getuid() or status.st_mode & 0o022:
        raise ValueError(
            f"{folder}: the compiled school directories' folder must be this user's own and"
            " writable by no one else (XUEJI_DIRECTORY_CACHE)"
        )
    return folder


_new = object.__new__
_set = object.__setattr__


def _school(row: Sequence[object]) -> School:
    """A school of the compiled file, built without checking again: every row was checked as
    a :class:`School` when compiled (3.3 µs a school checked, 0.8 µs so; a province's ~16,000
    schools for a statistics scope or the merger page)."""
    code, name, county, stage, authority, yi_track, classes = row
    school = _new(School)
    _set(school, "code", code)
    _set(school, "name", name)
    _set(school, "county", county)
    _set(school, "stage", stage)
    _set(school, "authority", authority)
    _set(school, "yi_track", bool(yi_track))
    _set(school, "yi_track_classes", tuple(str(classes).split("|")) if classes else ())
    return school


class SchoolDirectory:
    """The schools of a directory CSV, looked up in its compiled SQLite file.

    Safe to share between threads (one connection, its queries serialised) and across a
    fork (a child opens its own connection on first use)."""

    def __init__(self, source: Path, compiled: Path) -> None:
        self.source = source
        self.compiled = compiled
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        self._length: int | None = None

    @classmethod
    def open(cls, source: Path, digest: bytes | None = None) -> SchoolDirectory:
        """The directory of the CSV ``source`` (whose :func:`file_digest` is ``digest``, if
        already known), compiled into :func:`cache_folder` unless it already is."""
        digest = file_digest(source) if digest is None else digest
        compiled = cache_folder() / f"{source.stem}-{digest.hex()}.sqlite"
        if not compiled.exists():
            compile_directory(source, compiled)
        return cls(source, compiled)

    def _query(self, sql: str, parameters: Iterable[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            if self._connection is None or self._pid != os.getpid():
                if not self.compiled.exists():  # a cleaner of the temporary folder took it
                    compile_directory(self.source, self.compiled)
                self._connection = sqlite3.connect(
                    f"{self.compiled.as_uri()}?mode=ro", uri=True, check_same_thread=False
                )
                self._pid = os.getpid()
            return self._connection.execute(sql, tuple(parameters)).fetchall()

    def school(self, code: str) -> School | None:
        rows = self._query(f"SELECT {_COLUMNS} FROM school WHERE code = ?", (code,))
        return _school(rows[0]) if rows else None

    def instance_of(self, code: str) -> str | None:
        """The name of the instance hosting the school ``code``, if the directory names one."""
        rows = self._query("SELECT instance FROM school WHERE code = ?", (code,))
        return str(rows[0][0]) or None if rows else None

    def hosts_any(self, instance: str) -> bool:
        return bool(self._query("SELECT 1 FROM school WHERE instance = ? LIMIT 1", (instance,)))

    def codes_hosted_by(self, instance: str) -> tuple[str, ...]:
        rows = self._query("SELECT code FROM school WHERE instance = ? ORDER BY seq", (instance,))
        return tuple(str(code) for (code,) in rows)

    def schools_under(self, code: str) -> list[School]:
        """The schools whose county's code starts with ``code``, county by county (ascending),
        each county's in the directory's order: a range of the county index."""
        if len(code) == 6:
            sql = f"SELECT {_COLUMNS} FROM school WHERE county = ? ORDER BY seq"
            return [_school(row) for row in self._query(sql, (code,))]
        sql = f"SELECT {_COLUMNS} FROM school WHERE county >= ? AND county < ? ORDER BY county, seq"
        return [_school(row) for row in self._query(sql, _prefix_range(code))]

    def page(
        self, under: str, search: str, after: str | None, limit: int
    ) -> tuple[list[School], int]:
        """Up to ``limit`` schools in code order after ``after``, whose county's code starts
        with ``under`` ('' for all) and whose code starts with ``search`` or whose name holds
        it; and how many match in all. Through the code index: one page, not the country."""
        where = ["1"]
        parameters: list[object] = []
        if under:
            where.append("county >= ? AND county < ?")
            parameters += _prefix_range(under)
        if search:
            where.append("(substr(code, 1, length(?)) = ? OR instr(name, ?) > 0)")
            parameters += [search, search, search]
        condition = " AND ".join(where)
        (total,) = self._query(f"SELECT COUNT(*) FROM school WHERE {condition}", parameters)[0]
        if after is not None:
            condition += " AND code > ?"
            parameters.append(after)
        rows = self._query(
            f"SELECT {_COLUMNS} FROM school WHERE {condition} ORDER BY code LIMIT ?",
            [*parameters, limit],
        )
        return [_school(row) for row in rows], int(str(total))

    def __len__(self) -> int:
        if self._length is None:
            self._length = int(str(self._query("SELECT COUNT(*) FROM school")[0][0]))
        return self._length

    def at(self, index: int) -> School:
        rows = self._query(f"SELECT {_COLUMNS} FROM school WHERE seq = ?", (index,))
        if not rows:
            raise IndexError(index)
        return _school(rows[0])

    def __iter__(self) -> Iterator[School]:
        """Every school in the directory's order, read a page at a time (a scan of the
        country: for yearly and nightly work, not per message)."""
        after = -1
        while True:
            rows = self._query(
                f"SELECT seq, {_COLUMNS} FROM school WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, _BATCH),
            )
            for row in rows:
                yield _school(row[1:])
            if len(rows) < _BATCH:
                return
            after = int(str(rows[-1][0]))

    def problems(
        self,
        counties: set[str],
        cities: set[str],
        school_instances: set[str],
        listed: dict[str, str],
    ) -> Iterator[str]:
        """What in the directory contradicts the rest of the file: set-based checks, each a
        query. ``listed`` maps the school codes the file itself names (``[[school]]`` tables
        or an instance's ``units``) to the instance hosting each ('' if none)."""
        for (county,) in self._query("SELECT DISTINCT county FROM school"):
            if county not in counties:
                sql = "SELECT code FROM school WHERE county = ? LIMIT 1"
                (code,) = self._query(sql, (county,))[0]
                yield f"school {code} names unknown county {county}"
        for city, code in self._query(
            "SELECT substr(county, 1, 4), MIN(code) FROM school WHERE authority = 'city'"
            " GROUP BY substr(county, 1, 4)"
        ):
            if city not in cities:
                yield f"school {code} is city-run, but no city {city}"
        for (instance,) in self._query("SELECT DISTINCT instance FROM school WHERE instance != ''"):
            if instance not in school_instances:
                yield f"schools hosted by {instance}, which is not a school instance of the file"
        for area, hosts in self._query(
            "SELECT substr(code, 1, 6), group_concat(DISTINCT instance) FROM school"
            " WHERE instance != '' GROUP BY substr(code, 1, 6)"
            " HAVING COUNT(DISTINCT instance) > 1 LIMIT 1"
        ):
            yield (
                f"schools of area {area} are hosted by {hosts}: the broker routes schools by"
                " area, so one instance hosts all of an area's schools (decision 0045)"
            )
        codes = list(listed)
        for start in range(0, len(codes), 500):
            chunk = codes[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for (code,) in self._query(f"SELECT code FROM school WHERE code IN ({marks})", chunk):
                yield f"school {code} is named both in the file and in its directory"
        for code, host in listed.items():
            if not host:
                continue
            area = code[:6]
            rows = self._query(
                "SELECT instance FROM school WHERE code >= ? AND code < ? AND instance != ?"
                " AND instance != '' LIMIT 1",
                (*_prefix_range(area), host),
            )
            if rows:
                yield (
                    f"schools of area {area} are hosted by both {host} and {rows[0][0]}: one"
                    " instance hosts all of an area's schools (decision 0045)"
                )


def compile_directory(source: Path, compiled: Path) -> None:
    """Read the CSV row by row, check each row as a :class:`School`, and write the SQLite file
    ``compiled`` (through a temporary file renamed into place)."""
    compiled.parent.mkdir(parents=True, exist_ok=True)
    temporary = compiled.with_name(f"{compiled.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    connection = sqlite3.connect(temporary)
    try:
        connection.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + _SCHEMA)
        with source.open(encoding="utf-8", newline="") as handle:
            rows = csv.reader(handle)
            if tuple(next(rows, ())) != SCHOOL_DIRECTORY_COLUMNS:
                raise ValueError(
                    f"{source}: the first row names the columns {SCHOOL_DIRECTORY_COLUMNS}"
                )
            batch: list[tuple[object, ...]] = []
            for seq, (line, row) in enumerate(enumerate(rows, start=2)):
                batch.append((seq, *_checked(source, line, row), line))
                if len(batch) == _BATCH:
                    _insert(connection, source, batch)
                    batch = []
            _insert(connection, source, batch)
        connection.commit()
    except BaseException:
        connection.close()
        temporary.unlink(missing_ok=True)
        raise
    connection.close()
    os.replace(temporary, compiled)


def _checked(source: Path, line: int, row: list[str]) -> tuple[object, ...]:
    if len(row) != len(SCHOOL_DIRECTORY_COLUMNS):
        raise ValueError(f"{source}:{line}: {len(row)} columns, not 8")
    code, name, county, stage, authority, yi_track, classes, instance = row
    if yi_track not in ("", "true", "false"):
        raise ValueError(f"{source}:{line}: yi_track is true, false or empty")
    try:
        school = School(
            code=code,
            name=name,
            county=county,
            stage=stage or "primary",  # type: ignore[arg-type]
            authority=authority or "county",  # type: ignore[arg-type]
            yi_track=yi_track == "true",
            yi_track_classes=tuple(classes.split("|")) if classes else (),
        )
    except ValueError as error:
        raise ValueError(f"{source}:{line}: {error}") from None
    if school.yi_track_classes and school.yi_track:
        raise ValueError(f"{source}:{line}: school {code}: a Yi-track school names no classes")
    return (
        school.code,
        school.name,
        school.county,
        school.stage,
        school.authority,
        int(school.yi_track),
        "|".join(school.yi_track_classes),
        instance,
    )


def _insert(connection: sqlite3.Connection, source: Path, batch: list[tuple[object, ...]]) -> None:
    try:
        connection.executemany(f"INSERT INTO school VALUES ({', '.join('?' * 10)})", batch)
    except sqlite3.IntegrityError:
        # the rows before the failing one are in: the first whose code is in at another line
        for row in batch:
            found = connection.execute("SELECT line FROM school WHERE code = ?", (row[1],))
            first = found.fetchone()
            if first is not None and first[0] != row[-1]:
                raise ValueError(
                    f"{source}:{row[-1]}: school {row[1]} is listed twice (also line {first[0]})"
                ) from None
        raise


def all_schools(listed: Sequence[School], directory: SchoolDirectory | None) -> Sequence[School]:
    """The file's own schools, then the directory's, as one sequence."""
    return listed if directory is None else _Schools(listed, directory)


class _Schools(Sequence[School]):
    def __init__(self, listed: Sequence[School], directory: SchoolDirectory) -> None:
        self._listed = listed
        self._directory = directory

    def __len__(self) -> int:
        return len(self._listed) + len(self._directory)

    @overload
    def __getitem__(self, index: int) -> School: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[School]: ...
    def __getitem__(self, index: int | slice) -> School | Sequence[School]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        if index < len(self._listed):
            return self._listed[index]
        return self._directory.at(index - len(self._listed))

    def __iter__(self) -> Iterator[School]:
        yield from self._listed
        yield from self._directory
