"""Schema migrations without an alembic.ini.

The bot brings its database to the newest schema itself at every start, so
there is no separate deployment step to forget.  The Alembic configuration is
built here in code: the scripts live inside the package (they ship with it)
and the URL is whatever the application was configured with.

Command line, for developers::

    python -m storage.migrate --url sqlite+aiosqlite:///data/studiobot.db upgrade
    python -m storage.migrate --url ... current
    python -m storage.migrate --url ... revision -m "add reminders"
"""

from __future__ import annotations

import argparse
import asyncio
import weakref
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.db import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Alembic keeps the running migration in module globals (``alembic.context``,
# ``alembic.op``).  Two runs interleaved on one event loop would send each
# other's DDL to the wrong connection and deadlock on SQLite's write lock, so
# runs within a process take turns.  Across processes the database locks in
# ``migrations/env.py`` take over.
_alembic_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _alembic_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _alembic_locks.get(loop)
    if lock is None:
        lock = _alembic_locks[loop] = asyncio.Lock()
    return lock


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration pointing at the packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    # Sequential, readable file names: 0001_initial_schema.py.  ``%%`` because
    # option values go through configparser interpolation.
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest revision among the packaged scripts."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _with_connection(url: str, fn: Callable[[Connection], object]) -> object:
    """Run ``fn`` on the sync face of a fresh async connection, then dispose."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


async def current_revision(url: str) -> str | None:
    """The revision the database is at; None for a database never migrated."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    result = await _with_connection(url, read)
    return result if isinstance(result, str) else None


async def upgrade_to_head(url: str) -> None:
    """Bring a new or older database to the newest schema; a no-op when already there.

    Safe at every start, from several tasks or processes at once: concurrent
    upgrades are serialised (see ``_alembic_lock`` and ``migrations/env.py``).
    Not safe from several threads of one process at the same time.
    """

    def upgrade(connection: Connection) -> None:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with _alembic_lock():
        await _with_connection(url, upgrade)


async def autogenerate_revision(url: str, *, message: str, rev_id: str | None = None) -> str | None:
    """Write a new revision file from the difference between models and database.

    The database at ``url`` must be at head.  Returns the new revision id.  The
    generated file must be reviewed by hand before it is committed.
    """
    created: list[str] = []

    def revision(connection: Connection) -> None:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        scripts = command.revision(config, message=message, autogenerate=True, rev_id=rev_id)
        items = scripts if isinstance(scripts, list) else [scripts]
        created.extend(s.revision for s in items if s is not None)

    async with _alembic_lock():
        await _with_connection(url, revision)
    return created[0] if created else None


def _next_rev_id() -> str:
    """Sequential ids (0001, 0002, ...) read better than random hex in a small project."""
    head = head_revision()
    return f"{int(head) + 1:04d}" if head and head.isdigit() else "0001"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m storage.migrate")
    parser.add_argument("--url", required=True, help="database URL (async driver)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("upgrade", help="upgrade to head")
    sub.add_parser("current", help="print the current and the head revision")
    rev = sub.add_parser("revision", help="autogenerate a revision against a database at head")
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)

    if args.command == "upgrade":
        asyncio.run(upgrade_to_head(args.url))
    elif args.command == "current":
        print(f"current: {asyncio.run(current_revision(args.url))}  head: {head_revision()}")
    else:
        new = asyncio.run(
            autogenerate_revision(args.url, message=args.message, rev_id=_next_rev_id())
        )
        print(f"created revision {new}")


if __name__ == "__main__":
    main()
