"""Reminders at scale: a day's 100,000 deadline reminders planned and written in one
go, then delivered through a fake Bot API at the sender's rate, once each.

1. a new database (SQLite; with ``--postgres`` PostgreSQL too, a throw-away
   database) gets ``--leaders`` persons with a Telegram identity each and as
   many drafts of ``dalian-model`` (status draft, a few questions unanswered),
   inserted in bulk (core INSERTs of lists of dicts);
2. ``dialogs.reminding.plan_and_write`` runs at ``--at`` (default
   2027-07-24T09:00+08:00, seven days before the July 31 deadline), as the
   tick of ``studiobot run`` would: printed are the seconds it took (planning,
   wording and the bulk INSERT, one transaction), the peak resident memory of
   the process meanwhile (sampled with psutil every 5 ms) and the rows it
   wrote (goal: one per draft in ≤ 10 s on SQLite); then it runs a second
   time at the same moment, which must write 0 rows (the keys), and its time;
3. the real sender (``bot.app.create_sender``: the aiogram bot ``studiobot
   run`` builds, talking HTTP to the project's fake Bot API,
   ``tests/fakebotapi.py``), with a clock running on from ``--at``, takes the
   reminders from that outbox of ``--leaders`` rows and is stopped once the
   fake API received ``--deliver`` of them; printed: the rate achieved
   between the first and the last message against ``--rate`` (goal ≥ 95 %),
   the most in any one second, duplicates (goal 0: a chat that got its
   reminder twice), chats that got two messages less than a second apart,
   and whether the rows marked sent match what the fake API received.

On PostgreSQL the outbox's statistics are those of before the bulk INSERT
until autovacuum analyzes it (about a minute later, if autovacuum is on): the
sender's ``mark_sending`` then scans the partial index of pending rows instead
of the primary key, ~30 ms a call with 100,000 rows pending instead of ~1 ms,
which holds a 500/s sender to about 70 %.  ``--analyze`` runs ANALYZE between
planning and sending, to show the pace with current statistics.

``--rate`` defaults to 500 a second, as ``bench/outbox_rate.py``, to measure
the sender rather than wait: Telegram itself allows about 30 a second to
different chats and the product sends at 25 (``STUDIOBOT_SEND_RATE``), at
which 100,000 reminders take 67 minutes and 10,000 about 7 (``--leaders 10000
--rate 25 --deliver 1500`` shows that pace in a minute).

    .venv/bin/python bench/reminder_load.py               # SQLite: 100,000 planned, 10,000 sent
    .venv/bin/python bench/reminder_load.py --postgres    # and PostgreSQL
    .venv/bin/python bench/reminder_load.py --postgres --analyze   # statistics current
    .venv/bin/python bench/reminder_load.py --quick       # a smoke run of a few seconds
    # the product's own pace:
    .venv/bin/python bench/reminder_load.py --leaders 10000 --rate 25 --deliver 1500
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# This file is named like the project's ``reminders`` package: the project root must
# come before this folder on the path, and the project be imported before
# ``outbox_rate``, which puts this folder first again.
BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path[:0] = [str(ROOT), str(BENCH)]

import psutil  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bot.app import create_sender  # noqa: E402
from bot.config import TelegramConfig  # noqa: E402
from dialogs.i18n import Locale  # noqa: E402
from dialogs.loader import load_registry  # noqa: E402
from dialogs.reminding import plan_and_write  # noqa: E402
from reminders.plan import Window  # noqa: E402
from storage.db import SessionFactory, create_engine, session_factory  # noqa: E402
from storage.migrate import upgrade_to_head  # noqa: E402
from storage.models import Application, ChannelIdentity, OutboxMessage, Person  # noqa: E402

from _common import (  # noqa: E402  # isort: skip
    chosen_backends,
    describe_url,
    header,
    table,
    throwaway_database,
)
from outbox_rate import (  # noqa: E402  # isort: skip
    FIRST_CHAT,
    Record,
    TimedFakeBotAPI,
    chat_violations,
    most_in_a_second,
)

PROGRAM = "dalian-model"
ZONE = ZoneInfo("Asia/Shanghai")
AT = dt.datetime(2027, 7, 24, 9, 0, tzinfo=ZONE)
CHUNK = 5_000
"""Rows per bulk INSERT while filling (PostgreSQL takes 32,767 bound values a statement)."""

OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
PERSONS = Person.__table__  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- filling


async def fill(sessions: SessionFactory, leaders: int) -> float:
    """``leaders`` persons, each with a Telegram identity and a draft of ``PROGRAM``
    (one to twenty questions unanswered), in bulk; seconds taken."""
    started = time.perf_counter()
    now = dt.datetime(2027, 6, 1, 10, 0, tzinfo=ZONE)
    async with sessions.begin() as s:
        for first in range(0, leaders, CHUNK):
            count = min(CHUNK, leaders - first)
            await s.execute(
                sa.insert(Person),
                [
                    {"display_name": f"负责人{first + n}", "created_at": now, "updated_at": now}
                    for n in range(count)
                ],
            )
        found = await s.execute(sa.select(PERSONS.c.id).order_by(PERSONS.c.id))
        ids = [int(i) for i in found.scalars()]
        for first in range(0, len(ids), CHUNK):
            chunk = ids[first : first + CHUNK]
            await s.execute(
                sa.insert(ChannelIdentity),
                [
                    {"channel": "telegram", "external_id": str(FIRST_CHAT + first + n),
                     "person_id": pid, "created_at": now}
                    for n, pid in enumerate(chunk)
                ],
            )  # fmt: skip
            await s.execute(
                sa.insert(Application),
                [
                    {"user_id": pid, "program_id": PROGRAM, "status": "draft",
                     "answers": {}, "cursor": {}, "revision": 1,
                     "unanswered": 1 + (first + n) % 20, "created_at": now, "updated_at": now}
                    for n, pid in enumerate(chunk)
                ],
            )  # fmt: skip
    return time.perf_counter() - started


# --------------------------------------------------------------------------- measuring


@contextmanager
def peak_rss(interval: float = 0.005) -> Iterator[dict[str, float]]:
    """The largest resident set size (MiB) of this process while the block runs, read
    by psutil every ``interval`` seconds in a thread (and at both ends)."""
    process = psutil.Process()
    found = {"start": process.memory_info().rss / 2**20}
    found["peak"] = found["start"]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval):
            found["peak"] = max(found["peak"], process.memory_info().rss / 2**20)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield found
    finally:
        done.set()
        sampler.join()
        found["end"] = process.memory_info().rss / 2**20
        found["peak"] = max(found["peak"], found["end"])


@dataclass
class Planning:
    rows: int
    seconds: float
    rss_start: float
    rss_peak: float


async def plan_once(sessions: SessionFactory, at: dt.datetime) -> Planning:
    registry = load_registry()
    loc = Locale("zh-CN")
    window = Window(zone=ZONE)
    with peak_rss() as rss:
        started = time.perf_counter()
        rows = await plan_and_write(sessions, registry=registry, loc=loc, window=window, now=at)
        seconds = time.perf_counter() - started
    return Planning(rows, seconds, rss["start"], rss["peak"])


async def outbox_rows(sessions: SessionFactory) -> int:
    async with sessions() as s:
        return int((await s.execute(sa.select(sa.func.count()).select_from(OUTBOX))).scalar_one())


@dataclass
class Delivery:
    limit: float
    received: list[Record]
    marked_sent: int
    stats: Any


async def deliver(sessions: SessionFactory, at: dt.datetime, count: int, rate: float) -> Delivery:
    """The real sender over HTTP, its clock running on from ``at``, until the fake API
    received ``count`` messages; then stopped as ``studiobot`` stops it."""
    api = TimedFakeBotAPI()
    await api.start()
    started = time.monotonic()

    def clock() -> dt.datetime:
        return at + dt.timedelta(seconds=time.monotonic() - started)

    config = TelegramConfig(token=api.token, api_url=api.url, send_rate=rate)
    sender = create_sender(config, sessions, clock=clock)
    try:
        sender.start()
        patience = count / rate * 3 + 30
        await api.wait_for(lambda: len(api.received) >= count, patience)
    finally:
        await sender.stop()
        await sender.bot.session.close()  # type: ignore[attr-defined]
        received = list(api.received)
        await api.stop()
    async with sessions() as s:
        sent = (
            await s.execute(
                sa.select(sa.func.count()).select_from(OUTBOX).where(OUTBOX.c.sent_at.is_not(None))
            )
        ).scalar_one()
    return Delivery(rate, received, int(sent), sender.stats)


# --------------------------------------------------------------------------- figures


@dataclass
class Result:
    backend: str
    leaders: int
    fill_seconds: float
    first: Planning
    second: Planning
    stored: int
    delivery: Delivery | None


def planning_row(result: Result) -> list[str]:
    first, second = result.first, result.second
    return [
        result.backend,
        f"{result.leaders:,}",
        f"{result.fill_seconds:.1f}",
        f"{first.seconds:.2f}",
        f"{result.leaders / first.seconds:,.0f}",
        f"{first.rss_start:.0f} → {first.rss_peak:.0f}",
        f"{first.rows:,}",
        f"{result.stored:,}",
        f"{second.seconds:.2f}",
        f"{second.rss_peak:.0f}",
        f"{second.rows:,}",
    ]


PLAN_HEAD = [
    "backend", "drafts", "fill s", "plan+write s", "per s", "RSS MiB start → peak",
    "rows written", "outbox rows", "again s", "again peak MiB", "again written",
]  # fmt: skip


def delivery_row(result: Result) -> list[str]:
    assert result.delivery is not None
    d = result.delivery
    times = sorted(r.at for r in d.received)
    achieved = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    per_chat = collections.Counter(r.chat_id for r in d.received)
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    return [
        result.backend,
        f"{d.limit:.0f}",
        f"{achieved:.1f}",
        f"{100 * achieved / d.limit:.1f} %",
        str(most_in_a_second(times)),
        f"{len(per_chat):,}",
        str(duplicates),
        str(chat_violations(d.received)),
        f"{d.marked_sent:,}",
        str(d.stats.interrupted + d.stats.given_up),
    ]


DELIVERY_HEAD = [
    "backend", "limit/s", "achieved/s", "of limit", "max in 1 s", "chats reached",
    "dupes", "chat < 1 s", "rows marked sent", "given up",
]  # fmt: skip


# --------------------------------------------------------------------------- running


async def run_backend(kind: str, url: str, args: argparse.Namespace) -> Result:
    await upgrade_to_head(url)
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        fill_seconds = await fill(sessions, args.leaders)
        print(f"  filled {args.leaders:,} leaders and drafts in {fill_seconds:.1f} s", flush=True)
        first = await plan_once(sessions, args.at)
        print(
            f"  plan_and_write: {first.rows:,} rows in {first.seconds:.2f} s, "
            f"peak RSS {first.rss_peak:.0f} MiB (from {first.rss_start:.0f})",
            flush=True,
        )
        second = await plan_once(sessions, args.at)
        print(f"  again: {second.rows:,} rows in {second.seconds:.2f} s", flush=True)
        stored = await outbox_rows(sessions)
        if args.analyze:
            async with engine.connect() as conn:
                await conn.execute(sa.text("ANALYZE outbox"))
                await conn.commit()
        delivery = None
        if args.deliver:
            delivery = await deliver(sessions, args.at, args.deliver, args.rate)
            print(f"  sender: {delivery.stats}", flush=True)
        return Result(kind, args.leaders, fill_seconds, first, second, stored, delivery)
    finally:
        await engine.dispose()


def _moment(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the zone too, e.g. {text}+08:00")
    return moment


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument(
        "--leaders", type=int, default=100_000, help="leaders with a draft (default 100,000)"
    )
    parser.add_argument(
        "--deliver", type=int, default=10_000, help="reminders to deliver (default 10,000; 0: none)"
    )
    parser.add_argument("--rate", type=float, default=500, help="messages a second (default 500)")
    parser.add_argument(
        "--at", type=_moment, default=AT, help="the moment planned at (default %(default)s)"
    )
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="ANALYZE the outbox between planning and sending (what autovacuum does a minute "
        "or so after a bulk insert on PostgreSQL)",
    )
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL too")
    parser.add_argument("--database-url", help="PostgreSQL server for --postgres")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.leaders, args.deliver, args.rate = 2_000, 500, 200
    args.deliver = min(args.deliver, args.leaders)
    return args


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(header("reminders: a day's planning at scale, and its delivery"))
    backends, server = await chosen_backends(args.postgres, args.database_url)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in backends:
            async with throwaway_database(kind, Path(tmp), server) as url:
                print(f"{kind}: {describe_url(url)}", flush=True)
                results.append(await run_backend(kind, url, args))
    print()
    print(
        f"plan_and_write at {args.at.isoformat()} ({PROGRAM} drafts, the deadline "
        "2027-07-31 seven days ahead); then the same moment again"
    )
    print(table([planning_row(r) for r in results], PLAN_HEAD))
    delivered = [r for r in results if r.delivery is not None]
    if delivered:
        print()
        print(
            f"{args.deliver:,} of those reminders delivered over HTTP to the fake Bot API "
            f"by the real sender at {args.rate:g}/s"
            + (" (the outbox ANALYZEd first)" if args.analyze else "")
        )
        print(table([delivery_row(r) for r in delivered], DELIVERY_HEAD))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
