"""The tick: plan the reminders that are due, in every process, every few minutes.

APScheduler 3 runs the tick in memory, with no job store: a store shared by
two processes runs jobs twice, and a job missed while the process was down is
silently skipped.  Neither matters here, because the tick remembers nothing:
each run plans whatever is due *now* into the outbox under keys that make a
second planning (the next tick, another process) add nothing, and the
outbox's sender delivers each row once.  A reminder that fell due while every
process was down is planned by the first tick after a start, if its date has
not passed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

Tick = Callable[[dt.datetime], Awaitable[int]]
"""Plan what is due at a moment into the outbox; how many reminders were new."""


class Ticker:
    """Runs ``tick`` now and then every ``every`` seconds until stopped."""

    def __init__(self, tick: Tick, *, every: float, clock: Callable[[], dt.datetime]) -> None:
        self.tick = tick
        self.every = every
        self.clock = clock
        self.scheduler = AsyncIOScheduler(timezone=dt.UTC)

    async def run_once(self) -> int:
        """One planning; a failure is logged (the next tick tries again), never raised."""
        try:
            added = await self.tick(self.clock())
        except Exception:
            log.exception("planning reminders failed; the next tick tries again")
            return 0
        if added:
            log.info("%d reminders planned", added)
        return added

    def start(self) -> None:
        """Start ticking (the first run at once) in the running event loop."""
        self.scheduler.add_job(
            self.run_once,
            "interval",
            seconds=self.every,
            next_run_time=dt.datetime.now(dt.UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            id="plan-reminders",
        )
        self.scheduler.start()

    def stop(self) -> None:
        """Stop ticking (a run in progress finishes in its own task)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
