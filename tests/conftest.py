"""Shared fixtures: a fresh database per test, on SQLite always and on PostgreSQL on request.

Tests that take ``database_url`` (or anything built on it) run once per
backend: ``sqlite`` always, ``postgresql`` only when
``STUDIOBOT_TEST_DATABASE_URL`` names a server, e.g.::

    STUDIOBOT_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test pytest

The database in that URL is only used to create (and finally drop) one
throw-away database per run, ``studiobot_test_<random>``; the tests never touch
it otherwise.  Between tests the throw-away database gets an empty ``public``
schema, so every test starts from a new, unmigrated database on either
backend.  Select a backend with ``-k sqlite`` or ``-k postgresql``.

Administrative work on PostgreSQL runs in private event loops from sync
fixtures, which keeps it independent of pytest-asyncio's loop scopes.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import SessionFactory, create_engine, session_factory
from storage.files import FileStore
from storage.migrate import upgrade_to_head
from tests.fakebotapi import FakeBotAPI

PG_URL_ENV = "STUDIOBOT_TEST_DATABASE_URL"

BACKENDS = ["sqlite", *(["postgresql"] if os.environ.get(PG_URL_ENV) else [])]

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine in a private loop that does not replace the current one."""
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        return runner.run(coro)


def asyncpg_url(url: str) -> str:
    """A PostgreSQL URL for SQLAlchemy with asyncpg, whichever form was given."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in {"postgresql", "postgres"}:
        raise pytest.UsageError(f"{PG_URL_ENV} must name a PostgreSQL database, got {url!r}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def _libpq_dsn(url: str) -> str:
    """The same URL as asyncpg.connect wants it (no ``+driver``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(_libpq_dsn(url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """One new PostgreSQL database for the whole run, dropped at the end."""
    raw = os.environ.get(PG_URL_ENV)
    if not raw:
        pytest.skip(f"{PG_URL_ENV} is not set")
    server_url = asyncpg_url(raw)
    name = f"studiobot_test_{secrets.token_hex(6)}"
    _run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE: engines a failed test left open must not keep the database alive.
        _run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _reset_postgres(url: str) -> None:
    """Give the test database an empty public schema.

    Connections left by an earlier test (say, one that failed before disposing
    its engine) could hold locks that would make DROP SCHEMA wait, so they are
    ended first.
    """
    _run(
        _admin(
            url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()",
            "DROP SCHEMA IF EXISTS public CASCADE",
            "CREATE SCHEMA public",
        )
    )


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a new, empty (unmigrated) database; one run per backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/test.db"
    url: str = request.getfixturevalue("postgres_database_url")
    _reset_postgres(url)
    return url


@pytest.fixture
async def db_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine over the test database, migrated to head; disposed afterwards."""
    await upgrade_to_head(database_url)
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(db_engine: AsyncEngine) -> SessionFactory:
    """Session factory over a migrated test database: ``async with sessions.begin() as s``."""
    return session_factory(db_engine)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    """The project's fake Bot API, serving over HTTP for the test."""
    server = await FakeBotAPI().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def file_store(tmp_path: Path) -> FileStore:
    """A file store rooted in the test's temporary folder."""
    return FileStore(tmp_path / "files")
