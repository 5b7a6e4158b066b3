"""Alembic environment for studiobot.

Normally entered through :mod:`storage.migrate`, which opens an async
connection and hands its sync face in ``config.attributes["connection"]``, so
that migrations run inside the caller's event loop.  Without one (plain
``alembic`` command line with a config pointing here) an engine is built from
``sqlalchemy.url`` with :func:`storage.db.create_engine`, so SQLite gets the
same pragmas and ``BEGIN IMMEDIATE`` as the application.

Concurrent starts are serialised: on SQLite the migration transaction takes
the write lock up front; on PostgreSQL a transaction-level advisory lock is
taken before the current revision is read.  A second process therefore waits,
then finds the schema at head and does nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from storage.db import create_engine
from storage.models import UTCDateTime

config = context.config
target_metadata = SQLModel.metadata

# Arbitrary but fixed key of the PostgreSQL advisory lock guarding migrations.
MIGRATION_LOCK_KEY = 0x5354_5544_494F_0001


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Write UTCDateTime as its column type, so revisions do not import the models.

    The decorator only converts values in Python; the database column is a
    plain timezone-aware DateTime.  A revision that imported
    ``storage.models`` would break the day that module is reorganised.
    """
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure_options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        "render_as_batch": dialect_name == "sqlite",
        # SQLite does run DDL inside transactions (Alembic assumes it does not,
        # after the old pysqlite driver); with our explicit BEGIN IMMEDIATE it
        # does.  One transaction for the whole upgrade keeps the write lock from
        # the version check to the last migration, and a failure undoes it all.
        "transactional_ddl": True,
        "compare_type": True,
        "render_item": render_item,
    }


def _sqlite_pragma(connection: Connection, statement: str) -> None:
    """Run a PRAGMA on the DBAPI connection, outside any SQLAlchemy transaction.

    ``PRAGMA foreign_keys`` is silently ignored inside a transaction, and every
    SQLAlchemy-level execute would start one (``BEGIN IMMEDIATE``).
    """
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


def do_run_migrations(connection: Connection) -> None:
    """Run pending migrations on one connection in one transaction."""
    dialect = connection.dialect.name
    context.configure(connection=connection, **_configure_options(dialect))
    # Batch mode recreates tables (copy, drop, rename); with foreign keys
    # enforced, dropping a referenced table would fail or cascade.  So they are
    # off while migrating and checked as a whole before commit.
    sqlite_fk_off = dialect == "sqlite" and not connection.in_transaction()
    if sqlite_fk_off:
        _sqlite_pragma(connection, "PRAGMA foreign_keys=OFF")
    try:
        with context.begin_transaction():
            if dialect == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            context.run_migrations()
            if dialect == "sqlite":
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"migration left broken foreign keys: {broken[:5]!r}")
    finally:
        if sqlite_fk_off:
            _sqlite_pragma(connection, "PRAGMA foreign_keys=ON")


async def run_async_migrations(url: str) -> None:
    """Stand-alone path: own engine, own connection."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    url = config.get_main_option("sqlalchemy.url")
    dialect = url.split(":", 1)[0].split("+", 1)[0] if url else ""
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_configure_options(dialect),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    shared = config.attributes.get("connection")
    if shared is not None:
        do_run_migrations(shared)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no sqlalchemy.url configured and no connection given")
    asyncio.run(run_async_migrations(url))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
