"""The test databases: which kinds run, and a fresh database migrated without running Alembic.

``XUEJI_TEST_DB=sqlite`` or ``postgresql`` runs every database test on that kind only (unset:
both). :func:`migrate_to_head` is what a test calls instead of ``shared.db.migrate.upgrade``:
Alembic runs once per tier and session, into a template (a SQLite file, a PostgreSQL database),
and each fresh test database is a copy of it (a file copy; ``CREATE DATABASE … TEMPLATE``),
which costs milliseconds where running the revisions costs about a second per test. A database
that is not fresh (the SQLite file exists, the PostgreSQL database has a table, or pytest did
not make it) is upgraded by Alembic.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from pathlib import Path

import pytest

from devtools.postgres import LocalPostgres
from shared.db.migrate import upgrade

KINDS = ("sqlite", "postgresql")
SQLITE_PREFIX = "sqlite+aiosqlite:///"


def database_kinds() -> list[str]:
    """The kinds of database the tests run on: both, or the one ``XUEJI_TEST_DB`` names."""
    chosen = os.environ.get("XUEJI_TEST_DB", "").strip()
    if not chosen:
        return list(KINDS)
    if chosen not in KINDS:
        raise pytest.UsageError(f"XUEJI_TEST_DB={chosen!r}: expected one of {', '.join(KINDS)}")
    return [chosen]


class Templates:
    """One migrated template per tier and kind of database, made on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._sqlite: dict[str, Path] = {}
        self._postgres: dict[str, str] = {}
        self._fresh: dict[str, tuple[LocalPostgres, str]] = {}  # url -> (server, name)

    def fresh_postgres(self, server: LocalPostgres) -> tuple[str, str]:
        """A new empty database on ``server``: (url, name); :meth:`migrate` may replace it."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        url = server.create_database(name)
        with self._lock:
            self._fresh[url] = (server, name)
        return url, name

    def migrate(self, tier: str, url: str) -> None:
        path = _sqlite_path(url)
        if path is not None and not path.exists():
            shutil.copyfile(self._sqlite_template(tier), path)
            return
        with self._lock:
            fresh = self._fresh.pop(url, None)
        if fresh is None or not _empty(*fresh):  # e.g. a migration test went to a revision
            upgrade(tier, url)
            return
        server, name = fresh
        template = self._postgres_template(server, tier)
        server.drop_database(name)
        server.create_database(name, template=template)

    def _sqlite_template(self, tier: str) -> Path:
        with self._lock:
            if tier not in self._sqlite:
                path = self.directory / f"{tier}.sqlite"
                upgrade(tier, f"{SQLITE_PREFIX}{path}")
                self._sqlite[tier] = path
            return self._sqlite[tier]

    def _postgres_template(self, server: LocalPostgres, tier: str) -> str:
        key = f"{server.port}:{tier}"
        with self._lock:
            if key not in self._postgres:
                name = f"template_{tier}"
                upgrade(tier, server.create_database(name, exist_ok=True))
                self._postgres[key] = name
            return self._postgres[key]


_templates: Templates | None = None


def use_templates(templates: Templates | None) -> None:
    """Set (or, with None, clear) the session's templates; tests/conftest.py does it."""
    global _templates
    _templates = templates


def fresh_postgres_database(server: LocalPostgres) -> tuple[str, str]:
    """A new empty database (url, name) that :func:`migrate_to_head` can fill from a template."""
    if _templates is None:
        name = f"t_{uuid.uuid4().hex[:16]}"
        return server.create_database(name), name
    return _templates.fresh_postgres(server)


def migrate_to_head(tier: str, url: str) -> None:
    """``tier``'s schema at head in the database ``url`` (blocking: ``asyncio.to_thread`` it).

    A fresh database is copied from the session's template of ``tier``; any other is upgraded
    by Alembic, as ``shared.db.migrate.upgrade`` would.
    """
    if _templates is None:
        upgrade(tier, url)
        return
    _templates.migrate(tier, url)


def _empty(server: LocalPostgres, name: str) -> bool:
    tables = "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'"
    return server.psql(tables, database=name).strip() == "0"


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith(SQLITE_PREFIX):
        return None
    return Path(url.removeprefix(SQLITE_PREFIX))
