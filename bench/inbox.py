"""A reviewer's side under a city union's load: ``/inbox`` and one decision, timed
through the conversation service, on a database holding 10,000 declarations in review
across 500 grassroots unions.

1. one ``dalian-worker`` declaration is walked through the real conversation service
   on a scratch database (the shipped Dalian example tree; long texts, six team
   members): its stored answers are the template of every declaration below;
2. a new database (SQLite; with ``--postgres`` also a throw-away PostgreSQL
   database), migrated to head, gets in bulk (core ``insert()``, lists of rows)
   a city union (``dl``, the program's issuer), 20 district and industry unions,
   500 grassroots unions, under each its unit; a reviewer (person, Telegram
   identity, ``reviewer`` membership) for each union; 10,000 applicants, each with
   a declaration from a unit picked at random (status ``in_review``, version 1
   stored as a submission, the template's answers with the applicant's own name,
   studio and unit) and its grassroots union's open task, opened at a random time
   in the last 60 days; the setup's time is printed;
3. through ``dialogs.service.Conversation`` (the program registry, a file store in
   the temp dir, the real clock), ``--samples`` times each, after a few warm-up
   calls not counted:
   - ``/inbox`` of the reviewer of a random grassroots union (20 of its oldest
     open tasks listed, of how many wait, with days waited);
   - one decision by such a reviewer on one of their undecided tasks: the press of
     同意 (``REVIEW_APPROVE``: the task checked, the opinion asked for), then the
     opinion typed (``同意推荐``: the decision, the district level's task opened,
     the card to its reviewer and a note to the applicant written to the outbox,
     the reviewer's inbox shown again);
   - then every open task is moved to the city union's level, as at the end of
     July when every declaration reaches it, and ``/inbox`` of the city union's
     reviewer is timed as often (about 10,000 waiting, the oldest 20 listed);
4. printed per backend: p50/p90/p99/max in ms of each and whether p99 ≤ 50 ms
   (the goal), the median CPU time of this process per call (the rest is waiting
   for the database, or for a CPU), the SQL statements one call runs, and the rows
   after the decisions (tasks by level and state, outbox rows written) as a check
   that every decision was carried out.

``--gc-freeze`` calls ``gc.freeze()`` once the setup is done: the occasional full
collection of the garbage collector then no longer walks every object of the loaded
libraries and programs (a pause of 50-90 ms on the 2-vCPU dev machine, which shows
in the max, and in the p99 of short runs).

    .venv/bin/python bench/inbox.py                # SQLite, 10,000 declarations, 200 samples
    .venv/bin/python bench/inbox.py --postgres     # then PostgreSQL (a throw-away database)
    .venv/bin/python bench/inbox.py --quick        # a smoke run: 1,000 declarations, 30 samples
    .venv/bin/python bench/inbox.py --postgres --gc-freeze
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import logging
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
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
from sqlalchemy import event, func, insert, text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from dialogs.loader import ProgramRegistry, load_registry
from dialogs.service import Conversation
from dialogs.ui import Action, ButtonIn, CommandIn, Inbound, Outcome, TextIn, UserRef
from review import orgs
from review.chain import content_hash
from storage import repo
from storage.db import SessionFactory, create_engine, session_factory
from storage.files import FileStore
from storage.migrate import upgrade_to_head
from storage.models import (
    Application,
    ApplicationStatus,
    ChannelIdentity,
    Membership,
    Organisation,
    OrganisationKind,
    OutboxMessage,
    Person,
    ReviewTask,
    StaffRole,
    Submission,
    TaskState,
)
from tests.walkthrough import Applicant, Press, Text

PROGRAM = "dalian-worker"
GOAL_P99_MS = 50.0
OPINION = "同意推荐"
WARM_UP = 5
CHUNK = 2_000
"""Rows per bulk INSERT."""
EXAMPLE_TREE = Path(__file__).resolve().parent.parent / "review" / "examples" / "dalian.yaml"
EXAMPLE_UNIT = "大连港口设备有限公司"

DISTRICTS = [
    ("district", "中山区总工会"), ("district", "西岗区总工会"), ("district", "沙河口区总工会"),
    ("district", "甘井子区总工会"), ("district", "旅顺口区总工会"), ("district", "金州区总工会"),
    ("district", "普兰店区总工会"), ("district", "瓦房店市总工会"), ("district", "庄河市总工会"),
    ("district", "长海县总工会"), ("district", "高新园区总工会"), ("district", "长兴岛总工会"),
    ("industry", "大连市机械冶金工会"), ("industry", "大连市交通运输工会"),
    ("industry", "大连市建设工会"), ("industry", "大连市能源化工工会"),
    ("industry", "大连市教科文卫工会"), ("industry", "大连市财贸金融工会"),
    ("industry", "大连市农林水利工会"), ("industry", "大连市电子信息工会"),
]  # fmt: skip
COMPANY_WORDS = [
    "港口", "重工", "机车", "船舶", "石化", "轴承", "电气", "热电", "燃气", "地铁",
    "通信", "橡塑", "制药", "钢构", "装备", "软件", "水务", "物流", "精工", "光电",
]  # fmt: skip
COMPANY_KINDS = ["有限公司", "股份有限公司", "集团有限公司", "制造有限公司", "服务中心"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰海波"


# --------------------------------------------------------------------------- the template


async def walk_template(registry: ProgramRegistry, tmp: Path) -> Application:
    """One declaration of ``PROGRAM`` walked to submission through the conversation
    service on a scratch SQLite database holding the shipped Dalian example tree."""
    program = registry.get(PROGRAM)
    assert program is not None
    url = f"sqlite+aiosqlite:///{tmp}/template.db"
    await upgrade_to_head(url)
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            await orgs.import_file(session, path=EXAMPLE_TREE, now=dt.datetime.now(dt.UTC))
        conv = Conversation(registry=registry, sessions=sessions, files=FileStore(tmp / "tf"))
        user = UserRef("telegram", "template", "张伟")
        out = await conv.handle(user, CommandIn("apply"))
        pick = next(b for row in out.replies[0].buttons for b in row if b.key == PROGRAM)
        out = await conv.handle(user, ButtonIn(pick.action, pick.arg, 0, 0, pick.key))
        script = Applicant(
            program, dt.date.today(), long_chars=600, paragraphs=4, rows=6, uploads=False,
            unit=EXAMPLE_UNIT,
        )  # fmt: skip
        for _ in range(600):
            async with sessions() as session:
                person, _ = await repo.load_user(
                    session, channel="telegram", external_id="template", lock=False
                )
                assert person is not None
                assert person.id is not None
                [app] = await repo.list_applications(session, user_id=person.id)
            if app.submission_no:
                return app
            move = script.next_move(app.answers, app.cursor)
            event_in: Inbound
            if isinstance(move, Text):
                event_in = TextIn(move.text)
            else:
                assert isinstance(move, Press)
                shown = next((r for r in reversed(out.replies) if r.buttons), out.replies[-1])
                event_in = ButtonIn(
                    move.action, move.arg, shown.application_id, shown.revision, move.key
                )
            out = await conv.handle(user, event_in)
        raise RuntimeError("the template declaration was not submitted")
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- filling


@dataclass
class Reviewer:
    person_id: int
    org_id: int
    user: UserRef


@dataclass
class World:
    """What the bulk setup made, as the measuring needs it."""

    reviewers: list[Reviewer]  # of the grassroots unions
    open_tasks: dict[int, list[tuple[int, int]]]  # grassroots org id -> [(task id, app id)]
    city: Reviewer  # of the city union
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for first in range(0, len(rows), CHUNK):
        yield rows[first : first + CHUNK]


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))


async def populate(
    engine: AsyncEngine,
    sessions: SessionFactory,
    template: Application,
    *,
    declarations: int,
    unions: int,
    seed: int,
) -> World:
    """The union tree, its reviewers, the applicants, their declarations in review at
    level 0 and one open task each, inserted in bulk."""
    started = time.perf_counter()
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    stamps = {"created_at": now, "updated_at": now}
    org_t = Organisation.__table__  # type: ignore[attr-defined]
    async with sessions() as session, session.begin():
        # The tree: city -> 20 district/industry unions -> grassroots unions -> their units.
        await session.execute(
            insert(Organisation), [{"code": "dl", "name": "大连市总工会", "kind": "city", **stamps}]
        )
        city = (await session.execute(select(org_t.c.id).where(org_t.c.code == "dl"))).scalar_one()
        await session.execute(
            insert(Organisation),
            [
                {"code": f"dl-d{n:02d}", "name": name, "kind": kind, "parent_id": city, **stamps}
                for n, (kind, name) in enumerate(DISTRICTS)
            ],
        )
        districts = list(
            (await session.execute(select(org_t.c.id).where(org_t.c.parent_id == city)))
            .scalars()
            .all()
        )
        names = [
            f"大连{a}{b}{k}"
            for k in COMPANY_KINDS
            for a in COMPANY_WORDS
            for b in COMPANY_WORDS
            if a != b
        ]
        rng.shuffle(names)
        unit_names = names[:unions]
        await session.execute(
            insert(Organisation),
            [
                {"code": f"dl-g{n:03d}", "name": f"{unit_names[n]}工会", "parent_id":
                 districts[n % len(districts)], "kind": OrganisationKind.GRASSROOTS.value, **stamps}
                for n in range(unions)
            ],
        )  # fmt: skip
        grassroots = dict(
            (
                await session.execute(
                    select(org_t.c.code, org_t.c.id).where(
                        org_t.c.kind == OrganisationKind.GRASSROOTS.value
                    )
                )
            ).all()
        )
        await session.execute(
            insert(Organisation),
            [
                {"code": f"dl-g{n:03d}-u", "name": unit_names[n], "kind": "unit",
                 "parent_id": grassroots[f"dl-g{n:03d}"], **stamps}
                for n in range(unions)
            ],
        )  # fmt: skip
        units = dict(
            (
                await session.execute(
                    select(org_t.c.code, org_t.c.id).where(org_t.c.kind == "unit")
                )
            ).all()
        )

        # A reviewer for each union (grassroots, district/industry and the city).
        staffed = [
            (code, oid)
            for code, oid in (
                await session.execute(
                    select(org_t.c.code, org_t.c.id).where(org_t.c.kind != "unit")
                )
            ).all()
        ]
        await insert_people(session, [(f"rv-{code}", f"审核员·{code}") for code, _ in staffed], now)
        ids = await identities(session, "rv-")
        await session.execute(
            insert(Membership),
            [
                {"person_id": ids[f"rv-{code}"], "organisation_id": oid,
                 "role": StaffRole.REVIEWER.value, "granted_at": now}
                for code, oid in staffed
            ],
        )  # fmt: skip

        # The applicants, their declarations, the versions and the open tasks.
        leaders = [person_name(rng) for _ in range(declarations)]
        await insert_people(session, [(f"ap-{n}", leaders[n]) for n in range(declarations)], now)
        applicants = await identities(session, "ap-")
        placed = [rng.randrange(unions) for _ in range(declarations)]
        answers = [
            answers_of(template, leaders[n], f"dl-g{placed[n]:03d}-u", unit_names[placed[n]])
            for n in range(declarations)
        ]
        opened = [now - dt.timedelta(seconds=rng.uniform(0, 60 * 86_400)) for _ in answers]
        for part in chunks(
            [
                {"user_id": applicants[f"ap-{n}"], "program_id": PROGRAM,
                 "program_version": template.program_version,
                 "status": ApplicationStatus.IN_REVIEW.value, "answers": answers[n],
                 "cursor": template.cursor, "revision": template.revision, "review_level": 0,
                 "organisation_id": units[f"dl-g{placed[n]:03d}-u"], "submission_no": 1,
                 "created_at": opened[n] - dt.timedelta(days=2), "updated_at": opened[n],
                 "submitted_at": opened[n]}
                for n in range(declarations)
            ]
        ):  # fmt: skip
            await session.execute(insert(Application), part)
        app_t = Application.__table__  # type: ignore[attr-defined]
        app_of = dict((await session.execute(select(app_t.c.user_id, app_t.c.id))).all())
        app_ids = [app_of[applicants[f"ap-{n}"]] for n in range(declarations)]
        for part in chunks(
            [
                {"application_id": app_ids[n], "number": 1, "sha256": content_hash(answers[n]),
                 "answers": answers[n], "submitted_at": opened[n]}
                for n in range(declarations)
            ]
        ):  # fmt: skip
            await session.execute(insert(Submission), part)
        for part in chunks(
            [
                {"application_id": app_ids[n], "submission_no": 1, "level": 0,
                 "level_id": "grassroots", "seat": 0,
                 "organisation_id": grassroots[f"dl-g{placed[n]:03d}"],
                 "state": TaskState.OPEN.value, "opened_at": opened[n]}
                for n in range(declarations)
            ]
        ):  # fmt: skip
            await session.execute(insert(ReviewTask), part)
        task_t = ReviewTask.__table__  # type: ignore[attr-defined]
        rows = await session.execute(
            select(task_t.c.organisation_id, task_t.c.id, task_t.c.application_id)
        )
        open_tasks: dict[int, list[tuple[int, int]]] = {}
        for org_id, task_id, app_id in rows.all():
            open_tasks.setdefault(org_id, []).append((task_id, app_id))
    await analyze(engine)
    reviewers = [
        Reviewer(ids[f"rv-{code}"], oid, UserRef("telegram", f"rv-{code}", f"审核员·{code}"))
        for code, oid in sorted(grassroots.items())
        if oid in open_tasks
    ]
    city_reviewer = Reviewer(ids["rv-dl"], city, UserRef("telegram", "rv-dl", "审核员·dl"))
    world = World(reviewers, open_tasks, city_reviewer, seconds=time.perf_counter() - started)
    world.counts = await counts(sessions)
    return world


async def analyze(engine: AsyncEngine) -> None:
    """On PostgreSQL, the statistics autovacuum gathers soon after a bulk change (the
    bot never runs ANALYZE on SQLite, so neither does this)."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))


async def insert_people(session: Any, people: list[tuple[str, str]], now: dt.datetime) -> None:
    """Persons with a Telegram identity each: (external id, display name)."""
    start = (await session.execute(select(func.coalesce(func.max(Person.id), 0)))).scalar_one()
    for part in chunks(
        [{"display_name": name, "pending": {}, "created_at": now, "updated_at": now}
         for _, name in people]
    ):  # fmt: skip
        await session.execute(insert(Person), part)
    person_t = Person.__table__  # type: ignore[attr-defined]
    new = list(
        (
            await session.execute(
                select(person_t.c.id).where(person_t.c.id > start).order_by(person_t.c.id)
            )
        )
        .scalars()
        .all()
    )
    assert len(new) == len(people)
    for part in chunks(
        [{"channel": "telegram", "external_id": ext, "person_id": pid, "created_at": now}
         for (ext, _), pid in zip(people, new, strict=True)]
    ):  # fmt: skip
        await session.execute(insert(ChannelIdentity), part)


async def identities(session: Any, prefix: str) -> dict[str, int]:
    """External id -> person id of the Telegram identities starting with ``prefix``."""
    ident_t = ChannelIdentity.__table__  # type: ignore[attr-defined]
    rows = await session.execute(
        select(ident_t.c.external_id, ident_t.c.person_id).where(
            ident_t.c.external_id.startswith(prefix)
        )
    )
    return dict(rows.all())


def answers_of(
    template: Application, leader: str, unit_code: str, unit_name: str
) -> dict[str, Any]:
    """The template's answers as this applicant's: their name, studio and unit."""
    answers = dict(template.answers)
    answers["unit"] = {"code": unit_code, "name": unit_name}
    answers["leader_name"] = leader
    answers["studio_name"] = f"{leader}创新工作室"
    members = [dict(m) for m in answers.get("members") or []]
    if members:
        members[0]["name"] = leader
    answers["members"] = members
    return answers


async def counts(sessions: SessionFactory) -> dict[str, int]:
    """Rows of the tables the review side reads and writes; tasks by state."""
    out: dict[str, int] = {}
    async with sessions() as session:
        for name, model in (
            ("organisations", Organisation),
            ("persons", Person),
            ("applications", Application),
            ("submissions", Submission),
            ("outbox", OutboxMessage),
        ):
            out[name] = (
                await session.execute(select(func.count()).select_from(model))
            ).scalar_one()
        task_t = ReviewTask.__table__  # type: ignore[attr-defined]
        rows = await session.execute(
            select(task_t.c.level, task_t.c.state, func.count()).group_by(
                task_t.c.level, task_t.c.state
            )
        )
        for level, state, n in rows.all():
            out[f"tasks L{level} {state}"] = n
    return out


# --------------------------------------------------------------------------- measuring


class Statements:
    """Counts the SQL statements the engine runs."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.n = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._one)

    def _one(self, *_: Any) -> None:
        self.n += 1


@dataclass
class Series:
    """One measured operation: per call, ms of wall time, ms of CPU of this process's
    thread (the bot's own work; the rest is waiting for the database, or for the CPU
    when other processes hold it) and SQL statements."""

    label: str
    ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)

    def row(self, backend: str) -> list[str]:
        p99 = percentile(self.ms, 99)
        return [
            backend,
            self.label,
            str(len(self.ms)),
            f"{median(self.ms):.2f}",
            f"{percentile(self.ms, 90):.2f}",
            f"{p99:.2f}",
            f"{max(self.ms):.2f}",
            f"{median(self.cpu_ms):.2f}",
            f"{median(self.statements):.0f}",
            "yes" if p99 <= GOAL_P99_MS else "NO",
        ]


async def timed(
    conv: Conversation, sql: Statements, series: Series | None, user: UserRef, event_in: Inbound
) -> Outcome:
    before, cpu = sql.n, time.thread_time()
    start = time.perf_counter()
    out = await conv.handle(user, event_in)
    seconds = time.perf_counter() - start
    if series is not None:
        series.ms.append(seconds * 1000)
        series.cpu_ms.append((time.thread_time() - cpu) * 1000)
        series.statements.append(sql.n - before)
    return out


def offered(out: Outcome, action: Action) -> int:
    return sum(1 for r in out.replies for row in r.buttons for b in row if b.action is action)


async def measure(
    conv: Conversation, sql: Statements, world: World, samples: int, rng: random.Random
) -> list[Series]:
    inbox = Series("/inbox")
    press = Series("press approve")
    opinion = Series("opinion: decide")
    pick: Callable[[], Reviewer] = lambda: rng.choice(world.reviewers)  # noqa: E731
    for n in range(WARM_UP + samples):
        who = pick()
        out = await timed(conv, sql, inbox if n >= WARM_UP else None, who.user, CommandIn("inbox"))
        if not offered(out, Action.REVIEW_SHOW):
            raise RuntimeError(f"/inbox of {who.user.external_id} lists nothing: {out.replies}")
    for n in range(WARM_UP + samples):
        who = pick()
        while not world.open_tasks.get(who.org_id):
            who = pick()
        waiting = world.open_tasks[who.org_id]
        task_id, app_id = waiting.pop(rng.randrange(len(waiting)))
        counted = n >= WARM_UP
        button = ButtonIn(Action.REVIEW_APPROVE, task_id, app_id, 1)
        out = await timed(conv, sql, press if counted else None, who.user, button)
        if not any(r.expects_text for r in out.replies):
            raise RuntimeError(f"task {task_id}: the press asked for no opinion: {out.replies}")
        out = await timed(conv, sql, opinion if counted else None, who.user, TextIn(OPINION))
        if out.toast:
            raise RuntimeError(f"task {task_id}: the decision was refused: {out.toast}")
    return [inbox, press, opinion]


async def all_at_the_city(engine: AsyncEngine, sessions: SessionFactory, world: World) -> int:
    """Every declaration's open task moved on to the city's level (the end of July:
    everything reaches the city union at once); how many wait there."""
    task_t = ReviewTask.__table__  # type: ignore[attr-defined]
    app_t = Application.__table__  # type: ignore[attr-defined]
    waiting = task_t.c.state == TaskState.OPEN.value
    async with sessions() as session, session.begin():
        await session.execute(
            update(app_t)
            .where(app_t.c.id.in_(select(task_t.c.application_id).where(waiting)))
            .values(review_level=2)
        )
        moved = await session.execute(
            update(task_t)
            .where(waiting)
            .values(organisation_id=world.city.org_id, level=2, level_id="city")
        )
    await analyze(engine)
    return int(getattr(moved, "rowcount", 0))


async def city_inbox(conv: Conversation, sql: Statements, world: World, samples: int) -> Series:
    """``/inbox`` of the city union's reviewer, all declarations waiting there."""
    series = Series("/inbox, city")
    for n in range(WARM_UP + samples):
        out = await timed(
            conv, sql, series if n >= WARM_UP else None, world.city.user, CommandIn("inbox")
        )
        if not offered(out, Action.REVIEW_SHOW):
            raise RuntimeError(f"the city's /inbox lists nothing: {out.replies}")
    return series


@dataclass
class Result:
    backend: str
    world: World
    series: list[Series]
    after: dict[str, int]
    decisions: int
    at_city: int


async def run_backend(
    kind: str, url: str, template: Application, registry: ProgramRegistry, tmp: Path,
    args: argparse.Namespace,
) -> Result:  # fmt: skip
    await upgrade_to_head(url)
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        world = await populate(
            engine, sessions, template, declarations=args.declarations, unions=args.unions,
            seed=args.seed,
        )  # fmt: skip
        print(
            f"  setup: {world.seconds:.1f} s for {world.counts['applications']:,} declarations, "
            f"{world.counts['organisations']:,} organisations, {world.counts['persons']:,} persons",
            flush=True,
        )
        conv = Conversation(registry=registry, sessions=sessions, files=FileStore(tmp / "files"))
        sql = Statements(engine)
        if args.gc_freeze:
            gc.collect()
            gc.freeze()
        series = await measure(conv, sql, world, args.samples, random.Random(args.seed + 1))
        after = await counts(sessions)
        at_city = await all_at_the_city(engine, sessions, world)
        series.append(await city_inbox(conv, sql, world, args.samples))
        return Result(kind, world, series, after, WARM_UP + args.samples, at_city)
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--declarations", type=int, default=10_000, help="declarations in review (default 10,000)"
    )
    parser.add_argument("--unions", type=int, default=500, help="grassroots unions (default 500)")
    parser.add_argument(
        "--samples", type=int, default=200, help="calls timed of each kind (default 200)"
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL too")
    parser.add_argument("--database-url", help="PostgreSQL server for --postgres")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after the setup: no full collection walks the loaded program",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 1,000 declarations, 30 samples"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.declarations, args.unions, args.samples = 1_000, 50, 30
    return args


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(header("review side: /inbox and one decision under a city union's load"))
    backends, server = await chosen_backends(args.postgres, args.database_url)
    registry = load_registry()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="studiobot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        quiet = logging.getLogger("dialogs.announce")  # its example unit has no reviewer
        quiet.setLevel(logging.ERROR)
        template = await walk_template(registry, tmp)
        quiet.setLevel(logging.NOTSET)
        print(
            f"template: {PROGRAM} walked to submission in {time.perf_counter() - started:.1f} s, "
            f"{len(json.dumps(template.answers, ensure_ascii=False)):,} characters of answers",
            flush=True,
        )
        for kind in backends:
            async with throwaway_database(kind, tmp, server) as url:
                print(f"{kind}: {describe_url(url)}", flush=True)
                results.append(await run_backend(kind, url, template, registry, tmp, args))
    print()
    print(
        f"{args.declarations:,} declarations in review at {args.unions} grassroots unions; "
        f"{args.samples} samples each (after {WARM_UP} warm-up calls), times in ms"
    )
    head = [
        "backend", "call", "n", "p50", "p90", "p99", "max", "CPU p50", "SQL",
        f"p99 ≤ {GOAL_P99_MS:g}",
    ]  # fmt: skip
    print(table([s.row(r.backend) for r in results for s in r.series], head))
    print()
    for r in results:
        before, after = r.world.counts, r.after
        tasks = ", ".join(
            f"{k[6:]} {v:,}" for k, v in sorted(after.items()) if k.startswith("tasks")
        )
        print(
            f"{r.backend}: setup {r.world.seconds:.1f} s; {r.decisions} decisions; tasks: {tasks}; "
            f"outbox rows written {after['outbox'] - before['outbox']:,}; then {r.at_city:,} "
            f"open tasks moved to the city for its reviewer's /inbox"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
