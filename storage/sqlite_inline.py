"""SQLite calls on the event loop, leaving the worker thread for lock waits.

aiosqlite runs every call (cursor, execute, fetch, close, commit) in a worker
thread, and each hand-over costs about 0.1 ms: an answered question makes
seventeen of them, more than the SQL itself.  A local SQLite statement takes
a few microseconds, so here calls run directly on the event loop, with a very
short busy timeout.  When another process holds the write lock (SQLITE_BUSY),
the same call is retried in aiosqlite's worker thread with the full timeout,
so the loop never waits on a lock.  Retrying is sound: a statement that hit
SQLITE_BUSY did nothing, and a COMMIT that did can be repeated.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")

INLINE_BUSY_MS = 5
"""How long a call on the event loop may wait for a lock before moving to the thread."""


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the caller's thread unless they must wait."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], busy_timeout_ms: int) -> None:
        super().__init__(connector, 64)
        self.busy_timeout_ms = busy_timeout_ms

    async def _execute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
        conn = self._connection

        def patiently() -> T:
            conn.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
            try:
                return fn(*args, **kwargs)
            finally:
                conn.execute(f"PRAGMA busy_timeout={INLINE_BUSY_MS}")

        result: T = await super()._execute(patiently)  # type: ignore[no-untyped-call]
        return result


def connect(database: str, *, busy_timeout_ms: int) -> InlineConnection:
    """Open ``database`` (a file path); awaiting the result connects."""

    def connector() -> sqlite3.Connection:
        # Created in the worker thread, used on the loop: one user at a time,
        # guaranteed by the pool (one connection) and SQLAlchemy's per-connection mutex.
        return sqlite3.connect(database, timeout=INLINE_BUSY_MS / 1000, check_same_thread=False)

    return InlineConnection(connector, busy_timeout_ms)
