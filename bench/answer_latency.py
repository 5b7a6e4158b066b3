"""Time to handle one answered question, from Telegram update in to last reply out.

Everything runs in this process: the real aiogram dispatcher of the bot
(``bot.app.create_dispatcher``) over the real conversation service and
database, with a Bot whose session answers Bot API calls from memory.  The
session still does what aiogram does around a request (serialising the
method, parsing and validating the answer); only the network is left out.
Each update is parsed from its JSON form, as the webhook handler does, and
timed from there until ``feed_update`` returned, which happens after the
handler sent its last reply.

Scenario: every user opens a program (``/apply``, then the program's
button; not timed), then answers ``--answers`` questions one after another:
typed answers as messages, choices and "done" as button presses.  One user
alone (several rounds, for a useful sample); then ``--users`` users at once,
each answering as soon as the previous answer was replied to (no think time:
a saturation test, whose latency is mostly waiting for the others); then the
same number of users pausing between answers (``--think-ms``, the mean of an
exponential pause), closer to people reading and typing.  At the end every
user's stored application is compared with the state the script expects.

Besides the table it prints where a single user's answer goes: the time in
``Conversation.handle`` (split into CPU of the event-loop thread and waiting
for the database, with the number of SQL statements and, on SQLite, of
round trips to the aiosqlite thread) and the time in aiogram around it.

    .venv/bin/python bench/answer_latency.py
    .venv/bin/python bench/answer_latency.py --postgres   # also on PostgreSQL
    .venv/bin/python bench/answer_latency.py --quick
    .venv/bin/python bench/answer_latency.py --profile cprofile   # where the time goes
    .venv/bin/python bench/answer_latency.py --profile pyinstrument --profile-scenario crowd
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import itertools
import json
import logging
import os
import pstats
import random
import sys
import tempfile
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _common import (
    PG_ENV,
    Applicant,
    Move,
    Text,
    describe_url,
    header,
    median,
    percentile,
    postgres_reachable,
    postgres_url,
    table,
    throwaway_database,
)
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Update
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_dispatcher
from bot.callbacks import DialogCallback
from bot.texts import texts
from dialogs.service import Conversation
from dialogs.ui import Action, Inbound, Outcome, UpdateKey, UserRef
from storage import repo
from studiobot.app import build_conversation
from studiobot.settings import Settings

TOKEN = "123456789:BENCH-bench-bench-bench-bench-bench"
BOT_USER = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "工作室申报助手",
    "username": "studio_bench_bot",
}
GOAL_P99_MS = 15.0


# --------------------------------------------------------------------------- fake Bot API
@dataclass
class Chat:
    """What the fake Bot API remembers of one private chat."""

    sent: int = 0
    last_sent_at: float = 0.0
    keyboard_message: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)


class MemoryBotAPI(BaseSession):
    """Answers Bot API calls from memory, as Telegram would, without any I/O.

    Requests are serialised like ``AiohttpSession.build_form_data`` does and
    answers go through ``check_response`` (JSON decoding and validation into
    aiogram objects), so the client-side cost of each call stays in the figures.
    """

    def __init__(self, error_text: str) -> None:
        super().__init__()
        self.chats: dict[int, Chat] = {}
        self.calls: dict[str, int] = {}
        self._message_ids = itertools.count(1000)
        self._error_text = error_text

    def chat(self, chat_id: int) -> Chat:
        return self.chats.setdefault(chat_id, Chat())

    async def close(self) -> None:
        return None

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 (the signature of BaseSession)
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b""

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (the signature of BaseSession)
    ) -> TelegramType:
        files: dict[str, Any] = {}
        form: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if prepared:
                form[key] = prepared
        name = method.__api_method__
        self.calls[name] = self.calls.get(name, 0) + 1
        result: Any = True
        if name == "sendMessage":
            chat_id = int(form["chat_id"])
            result = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "用户"},
                "from": BOT_USER,
                "text": form["text"],
            }
            chat = self.chat(chat_id)
            if "reply_markup" in form:
                result["reply_markup"] = json.loads(form["reply_markup"])
                chat.keyboard_message = result
            if form["text"] == self._error_text:
                chat.errors.append(form["text"])
            chat.sent += 1
            chat.last_sent_at = time.perf_counter()
        elif name == "getMe":
            result = BOT_USER
        content = self.json_dumps({"ok": True, "result": result})
        response = self.check_response(bot=bot, method=method, status_code=200, content=content)
        return response.result  # type: ignore[return-value]


# --------------------------------------------------------------------------- breakdown
@dataclass
class Inside:
    """What one update cost inside the conversation service."""

    wall: float = 0.0  # seconds in Conversation.handle
    cpu: float = 0.0  # CPU seconds of the event-loop thread meanwhile (alone: its own work)


class TimedConversation:
    """Hands events to the conversation service and times each call, per user."""

    def __init__(self, inner: Conversation) -> None:
        self.inner = inner
        self.last: dict[str, Inside] = {}

    async def handle(
        self, user: UserRef, event: Inbound, *, update_key: UpdateKey | None = None
    ) -> Outcome:
        cpu, start = time.thread_time(), time.perf_counter()
        try:
            return await self.inner.handle(user, event, update_key=update_key)
        finally:
            self.last[user.external_id] = Inside(
                time.perf_counter() - start, time.thread_time() - cpu
            )


class DatabaseCounter:
    """Counts SQL statements and, on SQLite, hand-overs to the aiosqlite worker thread
    (every cursor, execute, fetch, close, commit and rollback is one round trip)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements = 0
        self.round_trips = 0
        self._restore: Any = None
        event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        if engine.dialect.driver == "aiosqlite":
            import aiosqlite.core

            original: Any = aiosqlite.core.Connection._execute
            counter = self

            async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
                counter.round_trips += 1
                return await original(self, fn, *args, **kwargs)

            aiosqlite.core.Connection._execute = counted  # type: ignore[method-assign]
            self._restore = lambda: setattr(aiosqlite.core.Connection, "_execute", original)

    def _statement(self, *_args: Any) -> None:
        self.statements += 1

    def close(self) -> None:
        if self._restore is not None:
            self._restore()


# --------------------------------------------------------------------------- users
class Telegram:
    """Builds the updates Telegram would post and feeds them to the dispatcher."""

    def __init__(self, bot: Bot, dispatcher: Dispatcher, api: MemoryBotAPI) -> None:
        self.bot = bot
        self.dispatcher = dispatcher
        self.api = api
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)

    @staticmethod
    def _from(user_id: int) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": "伟",
            "last_name": f"张{user_id}",
            "language_code": "zh-hans",
        }

    def message(self, user_id: int, text: str) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {
                "id": user_id,
                "type": "private",
                "first_name": "伟",
                "last_name": f"张{user_id}",
            },
            "from": self._from(user_id),
            "text": text,
        }
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"update_id": next(self._update_ids), "message": msg}

    def press(self, user_id: int, action: Action, arg: int = 0, key: str = "") -> dict[str, Any]:
        """Press the button (action, arg, key) of the newest message with a keyboard."""
        shown = self.api.chat(user_id).keyboard_message
        if shown is None:
            raise RuntimeError(f"user {user_id}: no keyboard to press {action.name}")
        for row in shown["reply_markup"]["inline_keyboard"]:
            for button in row:
                data = DialogCallback.unpack(button["callback_data"])
                if (data.a, data.g, data.k) == (action, arg, key):
                    return {
                        "update_id": next(self._update_ids),
                        "callback_query": {
                            "id": str(next(self._update_ids)),
                            "from": self._from(user_id),
                            "chat_instance": str(user_id),
                            "message": shown,
                            "data": button["callback_data"],
                        },
                    }
        raise RuntimeError(
            f"user {user_id}: {action.name}({arg}, {key!r}) not offered: {shown['text'][:80]}"
        )

    def payload(self, user_id: int, move: Move) -> dict[str, Any]:
        if isinstance(move, Text):
            return self.message(user_id, move.text)
        return self.press(user_id, move.action, move.arg, move.key)

    async def feed(self, user_id: int, payload: dict[str, Any]) -> float:
        """Seconds from the update's JSON to the handler's last reply (feed_update returned)."""
        chat = self.api.chat(user_id)
        sent_before = chat.sent
        start = time.perf_counter()
        update = Update.model_validate(payload, context={"bot": self.bot})
        await self.dispatcher.feed_update(self.bot, update)
        end = time.perf_counter()
        if chat.sent == sent_before or chat.last_sent_at < start:
            raise RuntimeError(f"user {user_id}: no reply sent before feed_update returned")
        if chat.errors:
            raise RuntimeError(f"user {user_id}: the bot reported an error: {chat.errors}")
        return end - start


@dataclass
class Sample:
    seconds: float  # update in to last reply out
    kind: str  # "text" or "press"
    inside: Inside  # the part spent in Conversation.handle
    statements: int  # SQL statements meanwhile (all users')
    round_trips: int  # hand-overs to the SQLite thread meanwhile (all users')


class User:
    """One Telegram user walking a program."""

    def __init__(self, bench: Bench, user_id: int, applicant: Applicant) -> None:
        self.tg = bench.tg
        self.timed = bench.timed
        self.db = bench.db
        self.program_id = bench.program_id
        self.user_id = user_id
        self.applicant = applicant
        self.samples: list[Sample] = []

    async def open(self) -> None:
        """``/apply`` and the program's button (not timed)."""
        await self.tg.feed(self.user_id, self.tg.message(self.user_id, "/apply"))
        await self.tg.feed(
            self.user_id, self.tg.press(self.user_id, Action.PICK_PROGRAM, 0, self.program_id)
        )
        self.applicant.start()

    async def answer(self, count: int, think: float, rng: random.Random) -> None:
        for _ in range(count):
            move = self.applicant.next_move()
            if move is None:
                return
            if think:
                await asyncio.sleep(rng.expovariate(1 / think))
            payload = self.tg.payload(self.user_id, move)
            statements, trips = self.db.statements, self.db.round_trips
            seconds = await self.tg.feed(self.user_id, payload)
            self.samples.append(
                Sample(
                    seconds,
                    "text" if isinstance(move, Text) else "press",
                    self.timed.last[str(self.user_id)],
                    self.db.statements - statements,
                    self.db.round_trips - trips,
                )
            )
            self.applicant.apply(move)


# --------------------------------------------------------------------------- scenarios
@dataclass
class Result:
    backend: str
    label: str
    users: int
    samples: list[Sample]
    wall: float
    think: float = 0.0

    @property
    def ms(self) -> list[float]:
        return [s.seconds * 1000 for s in self.samples]

    def row(self) -> list[str]:
        ms = self.ms
        texts = [s.seconds * 1000 for s in self.samples if s.kind == "text"]
        presses = [s.seconds * 1000 for s in self.samples if s.kind == "press"]
        return [
            self.backend,
            self.label,
            str(len(ms)),
            f"{median(ms):.2f}",
            f"{percentile(ms, 90):.2f}",
            f"{percentile(ms, 99):.2f}",
            f"{max(ms):.2f}",
            f"{median(texts):.2f}" if texts else "-",
            f"{median(presses):.2f}" if presses else "-",
            f"{len(ms) / self.wall:.0f}",
        ]

    def breakdown(self) -> str:
        """Where a single user's answer goes (medians over the answers)."""
        s = self.samples
        total = median([x.seconds * 1000 for x in s])
        inside = median([x.inside.wall * 1000 for x in s])
        cpu = median([x.inside.cpu * 1000 for x in s])
        waiting = median([(x.inside.wall - x.inside.cpu) * 1000 for x in s])
        outside = median([(x.seconds - x.inside.wall) * 1000 for x in s])
        trips = median([x.round_trips for x in s])
        trips_text = f", {trips:g} round trips to the SQLite thread" if trips else ""
        return (
            f"{self.backend}, one user, medians per answer: {total:.2f} ms from update to last "
            f"reply = {inside:.2f} ms in Conversation.handle ({cpu:.2f} ms CPU of the event-loop "
            f"thread, {waiting:.2f} ms waiting for the database; "
            f"{median([x.statements for x in s]):g} SQL statements{trips_text}) + {outside:.2f} ms "
            f"in aiogram (parsing the update, routing, 1 to 3 Bot API calls)"
        )


class Bench:
    def __init__(
        self,
        args: argparse.Namespace,
        conversation: Conversation,
        engine: AsyncEngine,
        settings: Settings,
    ) -> None:
        self.args = args
        self.conversation = conversation
        self.timed = TimedConversation(conversation)
        self.db = DatabaseCounter(engine)
        self.api = MemoryBotAPI(texts(conversation.loc.lang).t("bot.error"))
        self.bot = Bot(token=TOKEN, session=self.api, default=DefaultBotProperties(parse_mode=None))
        self.dispatcher = create_dispatcher(settings.telegram(webhook=False), self.timed)
        self.tg = Telegram(self.bot, self.dispatcher, self.api)
        self.program = conversation.registry.get(args.program)
        if self.program is None:
            raise SystemExit(f"unknown program {args.program}")
        self.program_id = self.program.id
        self._user_ids = itertools.count(7_000_000_001)
        self.rng = random.Random(20260520)
        self.users: list[User] = []

    def new_user(self) -> User:
        assert self.program is not None
        today = dt.datetime.now(self.conversation.zone).date()
        user = User(self, next(self._user_ids), Applicant(self.program, today=today))
        self.users.append(user)
        return user

    async def round(self, users: int, answers: int, think: float) -> tuple[list[Sample], float]:
        """``users`` users open the program, then all answer at once; (samples, wall seconds)."""
        group = [self.new_user() for _ in range(users)]
        await asyncio.gather(*(u.open() for u in group))
        start = time.perf_counter()
        await asyncio.gather(*(u.answer(answers, think, self.rng) for u in group))
        wall = time.perf_counter() - start
        return [s for u in group for s in u.samples], wall

    async def scenario(self, backend: str, users: int, rounds: int, think: float) -> Result:
        samples: list[Sample] = []
        wall = 0.0
        for _ in range(rounds):
            got, seconds = await self.round(users, self.args.answers, think)
            samples += got
            wall += seconds
        if users == 1:
            label = f"1 user, {rounds} rounds"
        elif think:
            label = f"{users} users, paced {think:g} s"
        else:
            label = f"{users} users at once"
        return Result(backend, label, users, samples, wall, think)

    async def verify(self) -> None:
        """Every user's stored application equals the applicant's own copy of it."""
        async with self.conversation.sessions() as session:
            for user in self.users:
                row = await repo.get_or_create_user(
                    session,
                    channel="telegram",
                    external_id=str(user.user_id),
                    display_name="",
                    now=dt.datetime.now(dt.UTC),
                )
                apps = await repo.list_applications(session, user_id=row.id or 0)
                app = apps[0]
                mine = json.loads(json.dumps(user.applicant.answers, default=str))
                if app.cursor != user.applicant.cursor or app.answers != mine:
                    raise RuntimeError(f"user {user.user_id}: stored state differs from the walk")
            await session.rollback()


async def run_backend(kind: str, url: str, args: argparse.Namespace, tmp: Path) -> list[Result]:
    settings = Settings(
        _env_file=None,
        bot_token=TOKEN,
        database_url=url,
        data_dir=tmp / f"data-{kind}",
        locale="zh-CN",
    )
    conversation, engine = await build_conversation(settings)
    try:
        return await _measure(kind, conversation, engine, settings, args)
    finally:
        await engine.dispose()


async def _measure(
    kind: str,
    conversation: Conversation,
    engine: AsyncEngine,
    settings: Settings,
    args: argparse.Namespace,
) -> list[Result]:
    bench = Bench(args, conversation, engine, settings)
    # Warm-up (not counted): statement caches, pydantic validators, the pool.
    await bench.round(min(args.users, 10), args.answers, 0.0)
    results = []
    with Profiler(args, kind, "solo"):
        results.append(await bench.scenario(kind, 1, args.solo_rounds, 0.0))
    with Profiler(args, kind, "crowd"):
        results.append(await bench.scenario(kind, args.users, 1, 0.0))
    if args.think_ms > 0 and args.users > 1:
        results.append(await bench.scenario(kind, args.users, 1, args.think_ms / 1000))
    await bench.verify()
    bench.db.close()
    print(f"[{kind}] Bot API calls made: {dict(sorted(bench.api.calls.items()))}", flush=True)
    return results


class Profiler:
    """Profiles one scenario when ``--profile`` asks for it (cProfile or pyinstrument)."""

    def __init__(self, args: argparse.Namespace, kind: str, scenario: str) -> None:
        self.args = args
        self.title = f"{args.profile} profile of the {scenario} scenario on {kind}"
        self.on = args.profile is not None and args.profile_scenario == scenario
        self.slug = f"{kind}-{scenario}".replace(" ", "-").replace("=", "")
        self.profiler: Any = None

    def __enter__(self) -> None:
        if not self.on:
            return
        if self.args.profile == "cprofile":
            self.profiler = cProfile.Profile()
            self.profiler.enable()
        else:
            from pyinstrument import Profiler as Instrument  # not a dependency: pip install it

            self.profiler = Instrument(interval=0.0002, async_mode="enabled")
            self.profiler.start()

    def __exit__(self, *exc: object) -> None:
        if not self.on:
            return
        print(f"\n=== {self.title} ===")
        if self.args.profile == "cprofile":
            self.profiler.disable()
            stats = pstats.Stats(self.profiler)
            stats.sort_stats("tottime").print_stats(self.args.profile_lines)
            if self.args.profile_out:
                stats.dump_stats(f"{self.args.profile_out}.{self.slug}.prof")
        else:
            self.profiler.stop()
            print(self.profiler.output_text(unicode=False, color=False, show_all=False))
            if self.args.profile_out:
                Path(f"{self.args.profile_out}.{self.slug}.html").write_text(
                    self.profiler.output_html(), encoding="utf-8"
                )


# --------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=100, help="concurrent users (default 100)")
    parser.add_argument("--answers", type=int, default=20, help="answers per user (default 20)")
    parser.add_argument(
        "--solo-rounds",
        type=int,
        default=10,
        help="single-user rounds, one after another (default 10)",
    )
    parser.add_argument(
        "--program", default="cccc-model", help="program walked (default cccc-model)"
    )
    parser.add_argument(
        "--think-ms",
        type=float,
        default=3000.0,
        help="mean pause between a user's answers in the paced scenario, "
        "exponentially distributed (default 3000; 0 skips the scenario)",
    )
    parser.add_argument(
        "--database-url",
        "--postgres",
        dest="postgres",
        nargs="?",
        const="",
        default=None,
        metavar="URL",
        help=f"also run on PostgreSQL: a server URL on which a throw-away database "
        f"is created and dropped; without URL ${PG_ENV} or the local default",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    parser.add_argument(
        "--quick", action="store_true", help="smoke mode: 10 users, 5 answers, 2 rounds"
    )
    parser.add_argument(
        "--profile",
        choices=["cprofile", "pyinstrument"],
        help="profile one scenario (pyinstrument must be pip-installed)",
    )
    parser.add_argument(
        "--profile-scenario",
        choices=["solo", "crowd"],
        default="solo",
        help="the scenario profiled: the single user (default) or the crowd",
    )
    parser.add_argument("--profile-lines", type=int, default=30, help="cProfile lines shown")
    parser.add_argument(
        "--profile-out",
        metavar="PREFIX",
        help="also save the profile as PREFIX.<backend>-<scenario>.prof/.html",
    )
    args = parser.parse_args(argv)
    if args.postgres is None and os.environ.get(PG_ENV):
        args.postgres = os.environ[PG_ENV]
    if args.quick:
        args.users, args.answers, args.solo_rounds = min(args.users, 10), min(args.answers, 5), 2
        args.think_ms = min(args.think_ms, 200.0)
    return args


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(
        header("studiobot benchmark: latency of one answered question (in process, Bot API faked)")
    )
    paced = (
        f", then {args.users} users paced by {args.think_ms:g} ms mean think time"
        if args.think_ms > 0 and args.users > 1
        else ""
    )
    print(
        f"scenario: program {args.program}; {args.answers} answers per user; 1 user x "
        f"{args.solo_rounds} rounds, then {args.users} users at once without pause{paced}; "
        f"a warm-up round first is not counted",
        flush=True,
    )
    backends: list[tuple[str, str | None]] = []
    if not args.no_sqlite:
        backends.append(("sqlite", None))
    if args.postgres is not None:
        server = postgres_url(args.postgres or None)
        problem = await postgres_reachable(server)
        if problem:
            print(f"PostgreSQL at {describe_url(server)} not reachable ({problem}); skipped")
        else:
            backends.append(("postgresql", server))
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="studiobot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for kind, on_server in backends:
            async with throwaway_database(kind, tmp, on_server) as db_url:
                print(f"[{kind}] database: {describe_url(db_url)}", flush=True)
                results += await run_backend(kind, db_url, args, tmp)
    head = [
        "backend",
        "scenario",
        "answers",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "text p50",
        "press p50",
        "answers/s",
    ]
    print()
    print(table([r.row() for r in results], head))
    print()
    for kind in dict.fromkeys(r.backend for r in results):
        solo, crowd, *rest = [r for r in results if r.backend == kind]
        print(solo.breakdown())
        solo_rate, crowd_rate = len(solo.ms) / solo.wall, len(crowd.ms) / crowd.wall
        slower = median(crowd.ms) / median(solo.ms)
        print(
            f"{kind}: {crowd.users} users at once: median {slower:.0f}x "
            f"a single user's ({median(crowd.ms):.1f} vs {median(solo.ms):.2f} ms), throughput "
            f"{crowd_rate / solo_rate:.2f}x ({crowd_rate:.0f} vs {solo_rate:.0f} answers/s); "
            f"Little's law: {crowd.users} waiting users / {crowd_rate:.0f} answers/s = "
            f"{crowd.users / crowd_rate * 1000:.0f} ms mean."
        )
        for r in rest:
            print(
                f"{kind}: {r.users} users paced: median {median(r.ms) / median(solo.ms):.2f}x "
                f"a single user's ({median(r.ms):.2f} vs {median(solo.ms):.2f} ms), "
                f"p99 {percentile(r.ms, 99):.2f} ms at {len(r.ms) / r.wall:.0f} answers/s."
            )
    for r in results:
        if r.backend.startswith("sqlite") and r.users > 1:
            p99 = percentile(r.ms, 99)
            verdict = "met" if p99 <= GOAL_P99_MS else "MISSED"
            print(
                f"goal p99 <= {GOAL_P99_MS:g} ms, {r.label}, SQLite: {verdict} (p99 {p99:.2f} ms)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
