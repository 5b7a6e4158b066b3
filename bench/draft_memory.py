"""Resident memory of a process handling dialogs while the stored drafts grow.

Dialog state lives in the database: handling an answer loads one user and
one application, never the others.  So the memory of the bot process should
not depend on how many drafts are stored.  This script checks that claim:

1. build the conversation service over a new database (as the bot does) and
   let ``--users`` users open the longest program through it;
2. for each size of ``--drafts`` (default 0, 1,000, 5,000 and 10,000):
   insert drafts in bulk with plain SQL in batches until that many are
   stored: realistic ones, about 35 answers each including long texts of
   1,000+ Chinese characters and rows of repeating groups, with their answer
   history;
3. then answer ``--answers`` questions through ``Conversation.handle`` for
   random users among all stored drafts, one after another;
4. after each step: ``gc.collect()``, then the resident set size (psutil),
   the number of live Python objects and the median time per answer.

    .venv/bin/python bench/draft_memory.py
    .venv/bin/python bench/draft_memory.py --quick
    .venv/bin/python bench/draft_memory.py --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import logging
import multiprocessing
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _common import (
    Applicant,
    Text,
    describe_url,
    header,
    median,
    percentile,
    postgres_url,
    rss_mib,
    table,
    throwaway_database,
)
from sqlalchemy import func, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from dialogs.schema import Program
from dialogs.service import Conversation
from dialogs.ui import Action, ButtonIn, CommandIn, Inbound, Outcome, TextIn, UserRef
from storage.db import create_engine
from storage.models import AnswerEvent, Application, ChannelIdentity, Person
from studiobot.app import build_conversation
from studiobot.settings import Settings
from tests.walkthrough import Upload, event_for

CHANNEL = "telegram"
BULK_ID_BASE = 5_000_000_000  # Telegram ids of the inserted drafts' users


# --------------------------------------------------------------------------- drafts
@dataclass
class Template:
    """A draft state reached by really walking the program."""

    answers: dict[str, Any]
    cursor: dict[str, Any]
    revision: int
    history: list[tuple[str, Any]]


def draft_templates(program: Program, today: dt.date, *, min_answers: int) -> list[Template]:
    """A few states of a thorough applicant: the first with ``min_answers`` answers and a
    long text of 1,000+ characters, and a few moves further."""
    walk = Applicant(program, today=today, long_chars=1000, rows=3, uploads=True)
    walk.start()
    found: list[Template] = []
    while len(found) < 3:
        move = walk.next_move()
        if move is None:
            break
        walk.apply(move)
        longest = max((len(v) for v in walk.answers.values() if isinstance(v, str)), default=0)
        ready = len(walk.answers) >= min_answers and longest >= 1000
        if ready and (not found or walk.moves >= found[-1].revision + 3):
            found.append(
                Template(
                    answers=walk.answers,
                    cursor=walk.cursor,
                    revision=walk.moves + 1,  # opening the draft bumped it once
                    history=list(walk.history),
                )
            )
    if not found:
        raise SystemExit(f"{program.id}: no state with {min_answers} answers and a long text")
    return found


class DraftWriter:
    """Inserts drafts with plain SQL in batches: users, applications, answer history."""

    def __init__(
        self,
        engine: AsyncEngine,
        program: tuple[str, int],
        templates: list[Template],
        count: int,
    ) -> None:
        self.engine = engine
        self.program_id, self.program_version = program
        self.templates = templates
        self.rng = random.Random(count)
        self.count = count  # drafts stored so far

    async def _next_ids(self) -> tuple[int, int, int, int]:
        async with self.engine.connect() as conn:
            ids = []
            for table in (Person, ChannelIdentity, Application, AnswerEvent):
                ids.append(int((await conn.execute(select(func.max(table.id)))).scalar() or 0) + 1)
        return ids[0], ids[1], ids[2], ids[3]

    async def grow_to(self, total: int, batch: int) -> None:
        while self.count < total:
            await self._batch(min(batch, total - self.count))
        if self.engine.dialect.name == "postgresql":
            async with self.engine.begin() as conn:
                for name in ("persons", "channel_identities", "applications", "answer_events"):
                    await conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"(SELECT max(id) FROM {name}))"
                        )
                    )

    async def _batch(self, size: int) -> None:
        user_id, identity_id, app_id, event_id = await self._next_ids()
        now = dt.datetime.now(dt.UTC)
        users: list[dict[str, Any]] = []
        identities: list[dict[str, Any]] = []
        apps: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for n in range(size):
            template = self.rng.choice(self.templates)
            number = self.count + n
            external = str(BULK_ID_BASE + number)
            created = now - dt.timedelta(days=self.rng.uniform(1, 60))
            updated = created + dt.timedelta(hours=self.rng.uniform(0, 24))
            answers = dict(template.answers)
            # Each draft its own studio and leader, so no two rows are the same.
            for key, value in answers.items():
                if isinstance(value, str) and len(value) < 40 and "示例" in value:
                    answers[key] = f"{value}{number}"
            identities.append(
                {
                    "id": identity_id + n,
                    "channel": CHANNEL,
                    "external_id": external,
                    "person_id": user_id + n,
                    "created_at": created,
                }
            )
            users.append(
                {
                    "id": user_id + n,
                    "display_name": f"张伟{number}",
                    "locale": "zh-CN",
                    "active_application_id": app_id + n,
                    "created_at": created,
                    "updated_at": updated,
                }
            )
            apps.append(
                {
                    "id": app_id + n,
                    "user_id": user_id + n,
                    "program_id": self.program_id,
                    "program_version": self.program_version,
                    "status": "draft",
                    "answers": answers,
                    "cursor": template.cursor,
                    "revision": template.revision,
                    "review_level": 0,
                    "created_at": created,
                    "updated_at": updated,
                    "submitted_at": None,
                }
            )
            for path, value in template.history:
                events.append(
                    {
                        "id": event_id + len(events),
                        "application_id": app_id + n,
                        "path": path,
                        "value": value,
                        "created_at": created,
                    }
                )
        async with self.engine.begin() as conn:
            await conn.execute(insert(Person), users)
            await conn.execute(insert(ChannelIdentity), identities)
            await conn.execute(insert(Application), apps)
            if events:
                await conn.execute(insert(AnswerEvent), events)
        self.count += size


async def insert_drafts(
    url: str,
    program: tuple[str, int],
    templates: list[Template],
    stored: int,
    total: int,
    batch: int,
) -> None:
    """Grow the drafts from ``stored`` to ``total`` over a connection of its own."""
    engine = create_engine(url)
    try:
        writer = DraftWriter(engine, program, templates, stored)
        await writer.grow_to(total, batch)
    finally:
        await engine.dispose()


def insert_drafts_in_child(*args: Any) -> None:
    """:func:`insert_drafts` in a helper process, which keeps the insert's own allocations
    out of the measured process."""
    asyncio.run(insert_drafts(*args))


# --------------------------------------------------------------------------- answering
class Player:
    """One stored draft answered through the conversation service."""

    def __init__(self, user: UserRef, app_id: int, revision: int, applicant: Applicant) -> None:
        self.user = user
        self.app_id = app_id
        self.revision = revision
        self.applicant = applicant

    def event(self) -> Inbound | None:
        move = self.applicant.next_move()
        if move is None:
            return None
        self.move = move
        if isinstance(move, Text):
            return TextIn(move.text)
        if isinstance(move, Upload):  # a proof or material the form requires
            return event_for(move, Outcome(replies=[]))
        return ButtonIn(move.action, move.arg, self.app_id, self.revision, move.key)

    def after(self, outcome: Outcome) -> None:
        replies = [r for r in outcome.replies if r.application_id == self.app_id]
        if not replies:
            raise RuntimeError(f"{self.user.external_id}: unexpected outcome {outcome}")
        self.revision = replies[-1].revision
        self.applicant.apply(self.move)


class Stage:
    """The figures of one size."""

    def __init__(self, drafts: int) -> None:
        self.drafts = drafts
        self.insert_seconds = 0.0
        self.rss_inserted = 0.0
        self.rss_answered = 0.0
        self.objects = 0
        self.latencies: list[float] = []
        self.db_mib = 0.0
        self.events = 0


async def database_mib(engine: AsyncEngine, url: str) -> float:
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            size = (
                await conn.execute(text("SELECT pg_database_size(current_database())"))
            ).scalar()
        return int(size or 0) / 2**20
    path = Path(make_url(url).database or "")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20


async def count_events(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(AnswerEvent))).scalar() or 0
        )


def measure() -> tuple[float, int]:
    gc.collect()
    return rss_mib(), len(gc.get_objects())


class Bench:
    def __init__(self, args: argparse.Namespace, conversation: Conversation) -> None:
        self.args = args
        self.conversation = conversation
        program = conversation.registry.get(args.program)
        if program is None:
            raise SystemExit(f"unknown program {args.program}")
        self.program = program
        self.today = dt.datetime.now(conversation.zone).date()
        self.rng = random.Random(20260520)
        self.players: dict[str, Player] = {}  # the live users'
        self.used: set[int] = set()  # inserted drafts that answered already
        self.live: list[str] = []  # users who opened their draft through the dialog
        self.stored = 0  # drafts inserted; number n belongs to Telegram id BULK_ID_BASE + n
        self._update_ids = 0

    async def open_live_users(self, count: int) -> None:
        """Users who open the program through the dialog (the pool of the 0-drafts stage)."""
        for n in range(count):
            user = UserRef(CHANNEL, str(4_000_000_000 + n), f"李娜{n}")
            await self.conversation.handle(user, CommandIn("apply"))
            out = await self.conversation.handle(
                user, ButtonIn(Action.PICK_PROGRAM, 0, 0, 0, self.program.id)
            )
            reply = out.replies[-1]
            applicant = Applicant(self.program, today=self.today, uploads=True)
            applicant.start()
            self.players[user.external_id] = Player(
                user, reply.application_id, reply.revision, applicant
            )
            self.live.append(user.external_id)

    async def player(self, number: int) -> Player:
        """A player for inserted draft ``number``, from its stored state (read like the bot
        reads it: one user, one application)."""
        async with self.conversation.sessions() as session:
            row = (
                await session.execute(
                    select(Person, Application)
                    .join(Application, col(Application.id) == col(Person.active_application_id))
                    .join(ChannelIdentity, col(ChannelIdentity.person_id) == col(Person.id))
                    .where(
                        ChannelIdentity.channel == CHANNEL,
                        ChannelIdentity.external_id == str(BULK_ID_BASE + number),
                    )
                )
            ).one()
        user, app = row
        external = str(BULK_ID_BASE + number)
        applicant = Applicant(
            self.program,
            today=self.today,
            answers=app.answers,
            cursor=app.cursor,
            long_chars=1000,
            rows=3,
            uploads=True,
        )
        ref = UserRef(CHANNEL, external, user.display_name)
        return Player(ref, app.id or 0, app.revision, applicant)

    async def answer(self, stage: Stage) -> None:
        """``--answers`` answers for random users among everyone stored, one at a time.

        An inserted draft answers in one stage only: its copy of the state is
        dropped afterwards, so the benchmark's own bookkeeping does not grow.
        """
        everyone = len(self.live) + self.stored - len(self.used)
        chosen: list[Player] = []
        picked: set[int] = set()
        while len(chosen) < min(self.args.users, everyone):
            # By rejection, so no list of all drafts is built.
            n = self.rng.randrange(len(self.live) + self.stored)
            if n in picked or n - len(self.live) in self.used:
                continue
            picked.add(n)
            if n < len(self.live):
                chosen.append(self.players[self.live[n]])
            else:
                self.used.add(n - len(self.live))
                chosen.append(await self.player(n - len(self.live)))
        done = 0
        while done < self.args.answers:
            player = self.rng.choice(chosen)
            event = player.event()
            if event is None:
                chosen.remove(player)
                continue
            self._update_ids += 1
            start = time.perf_counter()
            out = await self.conversation.handle(
                player.user, event, update_key=(CHANNEL, str(self._update_ids))
            )
            stage.latencies.append(time.perf_counter() - start)
            player.after(out)
            done += 1


async def run(args: argparse.Namespace, url: str, tmp: Path) -> list[Stage]:
    settings = Settings(
        _env_file=None,
        database_url=url,
        data_dir=tmp / "data",
        locale="zh-CN",
    )
    conversation, engine = await build_conversation(settings)
    try:
        bench = Bench(args, conversation)
        templates = draft_templates(bench.program, bench.today, min_answers=30)
        sizes = [len(json_text(t.answers)) for t in templates]
        print(
            f"draft templates: {len(templates)} states of {bench.program.id} with "
            f"{', '.join(str(len(t.answers)) for t in templates)} answers, "
            f"{', '.join(str(len(t.history)) for t in templates)} history rows, "
            f"answers JSON {min(sizes)}-{max(sizes)} characters",
            flush=True,
        )
        await bench.open_live_users(args.users)
        # Warm-up (not counted): caches of SQLAlchemy, the engine's statement forms.
        await bench.answer(Stage(0))
        rss0, objects0 = measure()
        print(f"after start and warm-up: RSS {rss0:.1f} MiB, {objects0} Python objects", flush=True)
        program = (bench.program.id, bench.program.version)
        where = "this process" if args.insert_here else "a helper process"
        print(f"drafts are inserted by {where}", flush=True)
        stages: list[Stage] = []
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as helper:
            for drafts in args.drafts:
                stage = Stage(drafts)
                start = time.perf_counter()
                if drafts > bench.stored:
                    job = (url, program, templates, bench.stored, drafts, args.batch)
                    if args.insert_here:
                        await insert_drafts(*job)
                    else:
                        loop = asyncio.get_running_loop()
                        await loop.run_in_executor(helper, insert_drafts_in_child, *job)
                    bench.stored = drafts
                stage.insert_seconds = time.perf_counter() - start
                stage.rss_inserted, _ = measure()
                await bench.answer(stage)
                stage.rss_answered, stage.objects = measure()
                stage.db_mib = await database_mib(engine, url)
                stage.events = await count_events(engine)
                stages.append(stage)
                print(
                    f"  {drafts:>6} drafts: inserted in {stage.insert_seconds:.1f} s; RSS "
                    f"{stage.rss_inserted:.1f} MiB after inserting, {stage.rss_answered:.1f} MiB "
                    f"after {len(stage.latencies)} answers; median answer "
                    f"{median(stage.latencies) * 1000:.2f} ms",
                    flush=True,
                )
        return stages
    finally:
        await engine.dispose()


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--drafts",
        default="0,1000,5000,10000",
        help="stored drafts at each stage, comma-separated (default 0,1000,5000,10000)",
    )
    parser.add_argument(
        "--answers", type=int, default=200, help="answers handled at each stage (default 200)"
    )
    parser.add_argument(
        "--users",
        type=int,
        default=50,
        help="random users answering at each stage, and users opening a draft "
        "through the dialog at the start (default 50)",
    )
    parser.add_argument("--program", default="cccc-model", help="program of the drafts")
    parser.add_argument("--batch", type=int, default=1000, help="drafts per INSERT batch")
    parser.add_argument(
        "--database-url",
        default="sqlite",
        metavar="URL",
        help="'sqlite' (a temporary file, the default) or a PostgreSQL server URL on which "
        "a throw-away database is created and dropped",
    )
    parser.add_argument(
        "--insert-here",
        action="store_true",
        help="insert the drafts in the measured process itself (by default a helper "
        "process does, so that the insert's own allocations do not count)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke mode: 0, 500, 2000 drafts; 50 answers"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.drafts = "0,500,2000"
        args.answers = min(args.answers, 50)
        args.users = min(args.users, 20)
    args.drafts = sorted({int(n) for n in args.drafts.split(",")})
    return args


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(header("studiobot benchmark: memory of the dialog process as stored drafts grow"))
    kind = "sqlite" if args.database_url == "sqlite" else "postgresql"
    server = None if kind == "sqlite" else postgres_url(args.database_url)
    with tempfile.TemporaryDirectory(prefix="studiobot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with throwaway_database(kind, tmp, server) as url:
            print(f"database: {describe_url(url)}", flush=True)
            stages = await run(args, url, tmp)
    rows = []
    for s in stages:
        ms = [x * 1000 for x in s.latencies]
        rows.append(
            [
                f"{s.drafts:,}",
                f"{s.events:,}",
                f"{s.db_mib:.1f}",
                f"{s.insert_seconds:.1f}",
                f"{s.rss_inserted:.1f}",
                f"{s.rss_answered:.1f}",
                f"{s.objects:,}",
                f"{median(ms):.2f}",
                f"{percentile(ms, 90):.2f}",
            ]
        )
    head = [
        "drafts",
        "history rows",
        "DB MiB",
        "insert s",
        "RSS inserted",
        "RSS answered",
        "objects",
        "p50 ms",
        "p90 ms",
    ]
    print()
    print(f"{kind}: {args.answers} answers per stage by {args.users} random users")
    print(table(rows, head))
    first, last = stages[0], stages[-1]
    growth = last.rss_answered - first.rss_answered
    print()
    print(
        f"from {first.drafts:,} to {last.drafts:,} drafts (database {first.db_mib:.1f} -> "
        f"{last.db_mib:.1f} MiB): RSS after answering {first.rss_answered:.1f} -> "
        f"{last.rss_answered:.1f} MiB ({growth:+.1f} MiB, "
        f"{last.rss_answered / first.rss_answered:.2f}x); live Python objects "
        f"{last.objects / first.objects:.2f}x; median answer "
        f"{median(last.latencies) / median(first.latencies):.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
