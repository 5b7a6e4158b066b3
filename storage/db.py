"""Engines and session factories.

SQLite is the embedded default and needs care: with plain ``BEGIN`` two
writers both start as readers and one of them later fails with "database is
locked".  So every connection runs in WAL mode with a busy timeout, and every
transaction starts with ``BEGIN IMMEDIATE``, taking the write lock up front
and waiting for it instead of failing.  PostgreSQL (asyncpg) needs none of it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import sqlite_inline

SessionFactory = async_sessionmaker[AsyncSession]

SQLITE_BUSY_TIMEOUT_MS = 30_000

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
"""Data folders and the SQLite database are for the bot's own user only."""


def _json_dumps(value: Any) -> str:
    """JSON with Chinese text as itself, not ``\\uXXXX`` (half the bytes)."""
    return json.dumps(value, ensure_ascii=False)


def is_sqlite(url: str) -> bool:
    """Whether a database URL names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for an in-memory or ``file:`` URI database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _ensure_sqlite_dir(url: str) -> None:
    """Create the database's folder and file readable by this user alone.

    The file holds every applicant's answers.  SQLite gives its ``-wal`` and
    ``-shm`` files the permissions of the database file, so the file is
    created here (0600) before SQLite opens it, and an existing one is
    tightened, together with leftover ``-wal``/``-shm`` files.  A new folder
    is 0700; an existing one is left as it is (it may be shared, say the
    working directory).
    """
    path = _sqlite_path(url)
    if path is None:
        return
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    # Best effort: a file that exists already, or cannot be made or changed (a
    # read-only folder, another user's file), is left to SQLite, which reports it.
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):
            if stat.S_IMODE(file.stat().st_mode) & ~PRIVATE_FILE_MODE:
                file.chmod(PRIVATE_FILE_MODE)


# asyncpg quotes an argument it cannot encode: "invalid input for query argument $2: '…' (…)".
_ARGUMENT_VALUE_RE = re.compile(r"(invalid input for query argument \$\d+[^:]*): .*", re.S)


def _hide_values(context: ExceptionContext) -> None:
    """Clean PostgreSQL's errors of the values they quote past ``hide_parameters``:
    the server's DETAIL ("Key (external_id)=(42) already exists") and asyncpg's
    quoted argument.  A logged traceback shows the whole chain of causes, so every
    exception in it is cleaned; their messages stay."""
    pending: list[BaseException | None] = [context.sqlalchemy_exception, context.original_exception]
    seen: set[int] = set()
    while pending:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        pending += [exc.__cause__, getattr(exc, "orig", None)]  # raised "from" each other
        if not isinstance(exc, StatementError) and getattr(exc, "detail", None):
            exc.detail = None  # type: ignore[attr-defined]
        if exc.args and isinstance(exc.args[0], str):
            exc.args = (_ARGUMENT_VALUE_RE.sub(r"\1: <hidden>", exc.args[0]), *exc.args[1:])


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE``.

    Statement errors never carry their parameters (``hide_parameters``): those
    are answer texts, names and user ids, and errors end up in logs.  On
    PostgreSQL the values the server or asyncpg quote are removed too.
    """
    if not is_sqlite(url):
        # Enough pooled connections for a busy bot: opening one costs ~150 ms.
        pg_engine = create_async_engine(
            url,
            echo=echo,
            hide_parameters=True,
            pool_pre_ping=True,
            pool_size=20,
            max_overflow=10,
            json_serializer=_json_dumps,
        )
        event.listen(pg_engine.sync_engine, "handle_error", _hide_values)
        return pg_engine
    _ensure_sqlite_dir(url)
    # One connection: every transaction takes SQLite's write lock anyway, and
    # waiting in the pool's queue is fair and prompt, where extra connections
    # would wait in SQLite's busy handler, which sleeps in growing steps.
    # Sessions always end their transaction, so no reset is needed on return.
    # Calls run on the event loop; only lock waits go to a thread (see sqlite_inline).
    database = make_url(url).database or ":memory:"
    engine = create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        async_creator=functools.partial(
            sqlite_inline.connect, database, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS
        ),
        pool_size=1,
        max_overflow=0,
        pool_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
        pool_reset_on_return=None,
        json_serializer=_json_dumps,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions whose objects stay readable after commit (no lazy reloads in async code)."""
    return async_sessionmaker(engine, expire_on_commit=False)
