"""Answers per second and latency with one and with two ``studiobot run --webhook`` workers.

Each worker is a real ``studiobot run --webhook`` process (see
``tests/webhook_process.py``) on one throw-away PostgreSQL database, created
and dropped by the script.  This script plays Telegram: it posts updates to
the workers' webhooks with the secret header, spread over the workers per
request (round robin), so one user's answers alternate between processes.
A worker handles an update before it responds, so the time from posting an
update to its HTTP response is the answer's latency: parsing, the engine's
transaction, the replies sent to the Bot API.

The Bot API the workers call is a minimal aiohttp stub in this process: it
answers every method at once (``sendMessage`` with a message, so aiogram can
parse it) and remembers each chat's latest keyboard, from which the users
press buttons.  It is lighter than the tests' ``FakeBotAPI`` (no checks, no
records), since it shares this process' CPU with the load generator.

Scenario, for each worker count: ``--users`` users open the program
(``/apply``, then its button; not timed), then all answer ``--answers``
questions without pause, each user sending its next answer when the previous
response came back (a saturation test).  A warm-up round (10 users) runs
first in each worker set and is not counted.  At the end every user's stored
application is compared with the script's own copy: answers and cursor, the
revision (one step per applied answer) and the history rows; a lost or
doubled answer shows there.

    .venv/bin/python bench/webhook_workers.py
    .venv/bin/python bench/webhook_workers.py --quick
    .venv/bin/python bench/webhook_workers.py --workers 1,2,3 --users 200
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import logging
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import aiohttp
import psutil
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
from aiohttp import web
from sqlalchemy import func
from sqlmodel import col, select

from bot.callbacks import DialogCallback
from bot.texts import texts
from dialogs.loader import load_registry
from dialogs.ui import Action
from storage.db import create_engine, session_factory
from storage.migrate import upgrade_to_head
from storage.models import AnswerEvent, Application, ChannelIdentity
from tests.webhook_process import WebhookWorker, start_all, stop_all

TOKEN = "123456789:BENCH-webhook-workers"
SECRET = "bench-webhook-secret"
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "工作室申报助手",
            "username": "studio_bench_bot"}


# --------------------------------------------------------------------------- Bot API stub
class StubBotAPI:
    """Answers the workers' Bot API calls at once; keeps each chat's latest keyboard."""

    def __init__(self, error_text: str) -> None:
        self.error_text = error_text
        self.keyboards: dict[int, dict[str, Any]] = {}
        self.calls: dict[str, int] = {}
        self.apologies = 0
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls[method] = self.calls.get(method, 0) + 1
        if request.content_type == "application/json":
            params: dict[str, Any] = await request.json()
        else:
            params = dict(await request.post())
        result: Any = True
        if method == "sendMessage":
            chat_id = int(params["chat_id"])
            result = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "用户"},
                "from": BOT_USER,
                "text": params["text"],
            }
            markup = params.get("reply_markup")
            if markup:
                result["reply_markup"] = json.loads(markup) if isinstance(markup, str) else markup
                self.keyboards[chat_id] = result
            if params["text"] == self.error_text:
                self.apologies += 1
        elif method == "getMe":
            result = BOT_USER
        return web.json_response({"ok": True, "result": result})


# --------------------------------------------------------------------------- users
@dataclass
class Load:
    """The workers, the stub and the HTTP client; spreads requests round robin."""

    workers: list[WebhookWorker]
    api: StubBotAPI
    http: aiohttp.ClientSession
    # Update ids must not repeat on one database: a worker takes a known id for a
    # redelivery and changes nothing.  So one counter serves every worker set.
    _update_ids: itertools.count[int]
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    not_ok: int = 0

    async def post(self, update: dict[str, Any]) -> float:
        """Seconds from posting the update to the worker's response."""
        worker = self.workers[next(self._turn) % len(self.workers)]
        start = time.perf_counter()
        status = await worker.post(self.http, update)
        elapsed = time.perf_counter() - start
        if status != 200:
            self.not_ok += 1
        return elapsed

    @staticmethod
    def _from(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": "伟", "last_name": f"张{user_id}",
                "language_code": "zh-hans"}

    def message(self, user_id: int, text: str) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "message_id": next(self._update_ids), "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "伟"},
            "from": self._from(user_id), "text": text,
        }
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
        return {"update_id": next(self._update_ids), "message": msg}

    def press(self, user_id: int, action: Action, arg: int = 0, key: str = "") -> dict[str, Any]:
        shown = self.api.keyboards.get(user_id)
        if shown is None:
            raise RuntimeError(f"user {user_id}: no keyboard to press {action.name}")
        for row in shown["reply_markup"]["inline_keyboard"]:
            for button in row:
                data = DialogCallback.unpack(button["callback_data"])
                if (data.a, data.g, data.k) == (action, arg, key):
                    return {"update_id": next(self._update_ids), "callback_query": {
                        "id": str(next(self._update_ids)), "from": self._from(user_id),
                        "chat_instance": str(user_id), "message": shown,
                        "data": button["callback_data"],
                    }}
        raise RuntimeError(f"user {user_id}: {action.name}({arg}, {key!r}) not offered: "
                           f"{shown['text'][:80]}")

    def keyboard_state(self, user_id: int) -> tuple[int, int]:
        """(application id, revision) the user's latest keyboard was shown for."""
        shown = self.api.keyboards[user_id]
        data = DialogCallback.unpack(shown["reply_markup"]["inline_keyboard"][0][0]
                                     ["callback_data"])
        return data.p, data.r


@dataclass
class Player:
    user_id: int
    applicant: Applicant
    application_id: int = 0
    revision: int = 0  # when opened
    samples: list[float] = field(default_factory=list)

    async def open(self, load: Load, program_id: str) -> None:
        await load.post(load.message(self.user_id, "/apply"))
        await load.post(load.press(self.user_id, Action.PICK_PROGRAM, 0, program_id))
        self.applicant.start()
        self.application_id, self.revision = load.keyboard_state(self.user_id)

    async def answer(self, load: Load, count: int) -> None:
        for _ in range(count):
            move: Move | None = self.applicant.next_move()
            if move is None:
                return
            update = (
                load.message(self.user_id, move.text) if isinstance(move, Text)
                else load.press(self.user_id, move.action, move.arg, move.key)
            )
            self.samples.append(await load.post(update))
            self.applicant.apply(move)


@dataclass
class Result:
    workers: int
    users: int
    samples: list[float]
    wall: float
    cpu: dict[str, float]  # CPU seconds during the measured phase, by process
    not_ok: int
    apologies: int
    check: str
    log_errors: int
    solo: list[float]  # one user alone, before the crowd

    def row(self) -> list[str]:
        ms = [s * 1000 for s in self.samples]
        return [
            str(self.workers), str(self.users), str(len(ms)), f"{self.wall:.1f}",
            f"{len(ms) / self.wall:.0f}", f"{median(ms):.1f}", f"{percentile(ms, 90):.1f}",
            f"{percentile(ms, 99):.1f}", f"{max(ms):.1f}", str(self.not_ok + self.apologies),
        ]


def _cpu(procs: dict[str, psutil.Process]) -> dict[str, float]:
    out = {}
    for name, proc in procs.items():
        try:
            times = proc.cpu_times()
            out[name] = times.user + times.system
        except psutil.Error:
            out[name] = 0.0
    return out


def _postgres_processes() -> list[psutil.Process]:
    return [
        p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")
    ]


def _postgres_cpu() -> float:
    total = 0.0
    for proc in _postgres_processes():
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


async def verify(database_url: str, players: list[Player]) -> str:
    """Compare every stored application with the script's copy; one line of findings."""
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    lost = doubled = differ = 0
    sent = sum(p.applicant.moves for p in players)
    risen = events = expected_events = 0
    try:
        async with sessions() as session:
            for p in players:
                identity = col(ChannelIdentity.person_id) == col(Application.user_id)
                app = (await session.execute(
                    select(Application).join(ChannelIdentity, identity)
                    .where(ChannelIdentity.external_id == str(p.user_id))
                )).scalars().one()
                rows = (await session.execute(
                    select(func.count()).select_from(AnswerEvent)
                    .where(col(AnswerEvent.application_id) == app.id)
                )).scalar_one()
                rise = app.revision - p.revision
                risen += rise
                events += rows
                expected_events += len(p.applicant.history)
                lost += max(0, p.applicant.moves - rise)
                doubled += max(0, rise - p.applicant.moves)
                mine = json.loads(json.dumps(p.applicant.answers, default=str))
                if app.answers != mine or app.cursor != p.applicant.cursor:
                    differ += 1
    finally:
        await engine.dispose()
    verdict = "OK" if not (lost or doubled or differ) and events == expected_events else "MISMATCH"
    return (
        f"{verdict}: {sent} answers applied by the script; revisions rose by {risen} in the "
        f"database ({lost} lost, {doubled} doubled); history rows {events} (expected "
        f"{expected_events}); {differ} of {len(players)} applications differ from the walk"
    )


async def scenario(
    count: int,
    args: argparse.Namespace,
    database_url: str,
    tmp: Path,
    user_ids: itertools.count[int],
    ids: itertools.count[int],
) -> Result:
    registry = load_registry()
    program = registry.get(args.program)
    assert program is not None
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    api = StubBotAPI(texts("zh-CN").t("bot.error"))
    await api.start()
    workers = [
        WebhookWorker(
            name=f"w{count}-{i}", token=TOKEN, api_url=api.url, database_url=database_url,
            data_dir=tmp / "data", log_path=tmp / f"w{count}-{i}.log", secret=SECRET,
        )
        for i in range(count)
    ]
    try:
        await start_all(workers)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            load = Load(workers, api, http, ids)

            def new_players(n: int) -> list[Player]:
                return [Player(next(user_ids), Applicant(program, today=today)) for _ in range(n)]

            warm = new_players(min(10, args.users))
            await asyncio.gather(*(p.open(load, program.id) for p in warm))
            await asyncio.gather(*(p.answer(load, 5) for p in warm))
            # One user alone: what an answer costs when nobody waits for anybody.
            [solo] = new_players(1)
            await solo.open(load, program.id)
            await solo.answer(load, args.answers)
            players = new_players(args.users)
            await asyncio.gather(*(p.open(load, program.id) for p in players))
            load.not_ok, api.apologies = 0, 0
            procs = {"bench": psutil.Process()}
            procs.update({w.name: psutil.Process(w.proc.pid) for w in workers if w.proc})
            cpu_before, pg_before = _cpu(procs), _postgres_cpu()
            start = time.perf_counter()
            await asyncio.gather(*(p.answer(load, args.answers) for p in players))
            wall = time.perf_counter() - start
            cpu_after, pg_after = _cpu(procs), _postgres_cpu()
        cpu = {k: cpu_after[k] - cpu_before[k] for k in procs}
        cpu["postgres"] = pg_after - pg_before
        log_errors = sum(len(w.problems()) for w in workers)
    finally:
        await stop_all(workers)
        await api.stop()
    check = await verify(database_url, [solo, *players])
    return Result(
        count, args.users, [s for p in players for s in p.samples], wall, cpu, load.not_ok,
        api.apologies, check, log_errors, solo.samples,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=100, help="concurrent users (default 100)")
    parser.add_argument("--answers", type=int, default=20, help="answers per user (default 20)")
    parser.add_argument("--workers", default="1,2", help="worker counts to run (default 1,2)")
    parser.add_argument(
        "--program", default="cccc-model", help="program walked (default cccc-model)"
    )
    parser.add_argument(
        "--database-url", "--postgres", dest="postgres", default=None, metavar="URL",
        help=f"PostgreSQL server on which a throw-away database is created and dropped "
        f"(default ${PG_ENV} or the local server)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 users, 5 answers")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.answers = min(args.users, 10), min(args.answers, 5)
    args.worker_counts = [int(n) for n in args.workers.split(",") if n.strip()]
    return args


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(header("studiobot benchmark: webhook worker processes on PostgreSQL"))
    print(
        f"scenario: program {args.program}; {args.users} users at once, {args.answers} answers "
        f"each without pause; worker counts {args.worker_counts}; updates spread round robin "
        f"per request; a 10-user warm-up per worker set is not counted",
        flush=True,
    )
    server = postgres_url(args.postgres)
    problem = await postgres_reachable(server)
    if problem:
        print(f"PostgreSQL at {describe_url(server)} not reachable ({problem})")
        return 1
    results: list[Result] = []
    user_ids = itertools.count(9_000_000_001 + secrets.randbelow(1000) * 100_000)
    update_ids = itertools.count(1)
    with tempfile.TemporaryDirectory(prefix="studiobot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with throwaway_database("postgresql", tmp, server) as db_url:
            print(f"database: {describe_url(db_url)}", flush=True)
            await upgrade_to_head(db_url)
            for count in args.worker_counts:
                result = await scenario(count, args, db_url, tmp, user_ids, update_ids)
                print(f"[{count} worker(s)] {len(result.samples)} answers in {result.wall:.1f} s",
                      flush=True)
                results.append(result)
    head = ["workers", "users", "answers", "wall s", "answers/s", "p50 ms", "p90 ms", "p99 ms",
            "max ms", "errors"]
    print()
    print(table([r.row() for r in results], head))
    print()
    for r in results:
        solo = [s * 1000 for s in r.solo]
        print(
            f"{r.workers} worker(s): one user alone, {len(solo)} answers: p50 "
            f"{median(solo):.1f} ms, max {max(solo):.1f} ms; {r.users} users at once wait "
            f"{r.users / (len(r.samples) / r.wall) * 1000:.0f} ms on average (Little's law)"
        )
    for r in results:
        cpu = ", ".join(f"{k} {v / r.wall * 100:.0f}%" for k, v in r.cpu.items())
        print(f"{r.workers} worker(s): CPU while measuring (100% = one core): {cpu}")
    for r in results:
        print(f"{r.workers} worker(s): {r.check}; non-200 responses {r.not_ok}, apologies "
              f"{r.apologies}, error lines in the worker logs {r.log_errors}")
    if len(results) >= 2:
        base = results[0]
        for r in results[1:]:
            speed = (len(r.samples) / r.wall) / (len(base.samples) / base.wall)
            print(
                f"{r.workers} workers vs {base.workers}: throughput x{speed:.2f}, p50 "
                f"{median(r.samples) * 1000:.0f} vs {median(base.samples) * 1000:.0f} ms"
            )
    bad = any(r.check.startswith("MISMATCH") or r.not_ok or r.apologies for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
