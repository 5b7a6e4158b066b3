"""The outbox sender's pace: a broadcast drained at the configured rate, once each,
with decisions' notices overtaking it.

1. a new database (SQLite; with ``--postgres`` PostgreSQL too, a throw-away
   database) gets ``--chats`` Telegram users and ``--rows`` BULK rows spread
   over them (a broadcast of reminders), enqueued through ``storage.outbox``;
2. the real sender (``bot.sender.OutboxSender``, real clock and sleep) drains
   them at ``--rate`` messages a second into a fake Bot API: in memory by
   default, or over HTTP with ``--http`` (the project's ``tests/fakebotapi.py``
   and the aiogram bot ``studiobot run`` builds);
3. meanwhile ``--personal`` PERSONAL rows (a decision's notice) arrive evenly
   spread over the expected run;
4. printed: the rate achieved between the first and the last message against
   the limit (goal ≥ 95 %), the most messages in any one second, duplicates
   (goal 0), chats that got two messages less than a second apart, the delay
   of the PERSONAL rows from their commit to their send (goal: a few seconds,
   however long the broadcast), and the rate of enqueueing the broadcast.
   Times are taken as the fake API receives a message: at the call in memory,
   at arrival over HTTP (where transit may bunch a few together).

    .venv/bin/python bench/outbox_rate.py                  # 10,000 rows at 500/s, in memory
    .venv/bin/python bench/outbox_rate.py --http --postgres
    .venv/bin/python bench/outbox_rate.py --rate 25 --rows 1500   # Telegram's own pace
    .venv/bin/python bench/outbox_rate.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import itertools
import logging
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _common import (
    chosen_backends,
    describe_url,
    header,
    median,
    percentile,
    table,
    throwaway_database,
)
from sqlalchemy import func, insert, or_
from sqlmodel import col, select

from bot.app import create_sender
from bot.config import TelegramConfig
from bot.sender import OutboxSender, SenderConfig
from storage import outbox
from storage.db import SessionFactory, create_engine, session_factory
from storage.migrate import upgrade_to_head
from storage.models import ChannelIdentity, OutboxMessage, OutboxPriority, Person
from tests.fakebotapi import FakeBotAPI

FIRST_CHAT = 10_000_000


@dataclass
class Record:
    """What the fake Bot API received: when (monotonic seconds), where, what."""

    at: float
    chat_id: int
    text: str


@dataclass
class MemoryBot:
    """A Bot API in memory: every send accepted at once."""

    received: list[Record] = field(default_factory=list)

    async def send_message(self, chat_id: int, text: str, **_: Any) -> Any:
        self.received.append(Record(time.monotonic(), chat_id, text))
        await asyncio.sleep(0)
        return True


class TimedFakeBotAPI(FakeBotAPI):
    """The tests' fake Bot API server, noting when each message arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Record] = []

    async def _api_sendmessage(self, params: dict[str, Any]) -> Any:
        result = await super()._api_sendmessage(params)
        self.received.append(Record(time.monotonic(), int(params["chat_id"]), params["text"]))
        return result


# --------------------------------------------------------------------------- filling


async def make_people(sessions: SessionFactory, chats: int) -> list[int]:
    """``chats`` persons with a Telegram identity each, inserted in bulk."""
    now = dt.datetime.now(dt.UTC)
    async with sessions.begin() as s:
        await s.execute(
            insert(Person),
            [{"display_name": f"u{n}", "created_at": now, "updated_at": now} for n in range(chats)],
        )
        ids = list((await s.execute(select(Person.id).order_by(Person.id))).scalars())
        await s.execute(
            insert(ChannelIdentity),
            [
                {"channel": "telegram", "external_id": str(FIRST_CHAT + n), "person_id": pid,
                 "created_at": now}
                for n, pid in enumerate(ids)
            ],
        )  # fmt: skip
    return [int(i) for i in ids if i is not None]


async def enqueue_bulk(sessions: SessionFactory, people: list[int], rows: int) -> float:
    """The broadcast, through ``outbox.enqueue`` in transactions of 1,000; seconds taken."""
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    for first in range(0, rows, 1000):
        async with sessions.begin() as s:
            for n in range(first, min(rows, first + 1000)):
                await outbox.enqueue(
                    s,
                    person_id=people[n % len(people)],
                    text=f"提醒 {n}：申报截止日期临近",
                    priority=OutboxPriority.BULK,
                    dedupe_key=f"bulk:{n}",
                    now=now,
                )
    return time.perf_counter() - started


async def trickle_personal(
    sessions: SessionFactory, people: list[int], count: int, spread: float
) -> dict[str, float]:
    """``count`` PERSONAL rows committed evenly over ``spread`` seconds; text → commit time."""
    committed: dict[str, float] = {}
    for n in range(count):
        await asyncio.sleep(spread / (count + 1))
        text = f"您的申报已通过 #{n}"
        async with sessions.begin() as s:
            await outbox.enqueue(
                s,
                person_id=people[(n * 7919) % len(people)],
                text=text,
                priority=OutboxPriority.PERSONAL,
                dedupe_key=f"decision:{n}",
                now=dt.datetime.now(dt.UTC),
            )
        committed[text] = time.monotonic()
    return committed


# --------------------------------------------------------------------------- running


@asynccontextmanager
async def fake_api(http: bool, rate: float) -> AsyncIterator[tuple[Any, Callable[..., Any]]]:
    """The fake Bot API and a factory of senders talking to it."""
    if not http:
        memory = MemoryBot()

        def memory_sender(sessions: SessionFactory) -> OutboxSender:
            return OutboxSender(sessions, memory, config=SenderConfig(rate=rate))

        yield memory, memory_sender
        return
    api = await TimedFakeBotAPI().start()
    config = TelegramConfig(token=api.token, api_url=api.url, send_rate=rate)
    try:
        yield api, lambda sessions: create_sender(config, sessions)
    finally:
        await api.stop()


async def drained(sessions: SessionFactory, total: int, deadline: float) -> None:
    """Wait until every row was sent or given up (one COUNT a second: cheap beside the
    sender, which shares this process and, on SQLite, its one connection)."""
    settled = func.count().filter(
        or_(col(OutboxMessage.sent_at).is_not(None), col(OutboxMessage.given_up_at).is_not(None))
    )
    while time.monotonic() < deadline:
        async with sessions() as s:
            done = (await s.execute(select(settled))).scalar_one()
        if done >= total:
            return
        await asyncio.sleep(1.0)
    raise TimeoutError("the outbox did not drain in time")


@dataclass
class Result:
    backend: str
    transport: str
    limit: float
    received: list[Record]
    committed: dict[str, float]
    enqueue_seconds: float
    rows: int
    stats: Any


async def run_backend(kind: str, url: str, args: argparse.Namespace) -> Result:
    await upgrade_to_head(url)
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        people = await make_people(sessions, args.chats)
        enqueue_seconds = await enqueue_bulk(sessions, people, args.rows)
        expected = args.rows / args.rate
        async with fake_api(args.http, args.rate) as (api, make_sender):
            sender = make_sender(sessions)
            sender.start()
            try:
                committed = await trickle_personal(sessions, people, args.personal, expected * 0.8)
                await drained(sessions, args.rows + args.personal, time.monotonic() + expected * 3)
            finally:
                await sender.stop()
                bot = getattr(sender.bot, "session", None)
                if bot is not None:
                    await bot.close()
            received = list(api.received)
        return Result(
            kind, "HTTP" if args.http else "memory", args.rate, received, committed,
            enqueue_seconds, args.rows + args.personal, sender.stats,
        )  # fmt: skip
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- figures


def most_in_a_second(times: list[float]) -> int:
    """The most messages started within any one second."""
    most, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def chat_violations(received: list[Record]) -> int:
    by_chat: dict[int, list[float]] = collections.defaultdict(list)
    for record in received:
        by_chat[record.chat_id].append(record.at)
    return sum(
        1
        for times in by_chat.values()
        for a, b in itertools.pairwise(sorted(times))
        if b - a < 0.95  # a little slack: arrival, not departure, is timed here
    )


def figures(result: Result) -> list[str]:
    times = sorted(r.at for r in result.received)
    achieved = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    counts = collections.Counter(r.text for r in result.received)
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    arrived = {r.text: r.at for r in result.received if r.text in result.committed}
    delays = [arrived[t] - c for t, c in result.committed.items() if t in arrived]
    return [
        f"{result.backend} · {result.transport}",
        f"{result.limit:.0f}",
        f"{achieved:.1f}",
        f"{100 * achieved / result.limit:.1f} %",
        str(most_in_a_second(times)),
        f"{len(counts)}/{result.rows}",
        str(duplicates),
        str(chat_violations(result.received)),
        f"{median(delays):.2f}" if delays else "-",
        f"{percentile(delays, 95):.2f}" if delays else "-",
        f"{max(delays):.2f}" if delays else "-",
        f"{result.rows / result.enqueue_seconds:.0f}" if result.enqueue_seconds else "-",
    ]


HEAD = [
    "backend · API", "limit/s", "achieved/s", "of limit", "max in 1 s", "delivered",
    "dupes", "chat < 1 s", "personal p50 s", "p95 s", "max s", "enqueued/s",
]  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=10_000, help="BULK rows (default 10,000)")
    parser.add_argument("--rate", type=float, default=500, help="messages a second (default 500)")
    parser.add_argument("--chats", type=int, default=5_000, help="recipients (default 5,000)")
    parser.add_argument(
        "--personal", type=int, default=40, help="PERSONAL rows arriving meanwhile (default 40)"
    )
    parser.add_argument("--http", action="store_true", help="the fake Bot API over HTTP")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL too")
    parser.add_argument("--database-url", help="PostgreSQL server for --postgres")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.rate, args.chats, args.personal = 1_000, 200, 1_000, 10
    return args


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(header("outbox sender: rate, duplicates, delay of personal rows"))
    backends, server = await chosen_backends(args.postgres, args.database_url)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in backends:
            async with throwaway_database(kind, Path(tmp), server) as url:
                print(f"{kind}: {describe_url(url)}", flush=True)
                result = await run_backend(kind, url, args)
                rows.append(figures(result))
                print(f"  sender: {result.stats}", flush=True)
    print()
    print(f"{args.rows:,} BULK rows to {args.chats:,} chats, {args.personal} PERSONAL arriving")
    print(table(rows, HEAD))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
