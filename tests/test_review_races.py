"""Review acts that meet at the same moment, through two conversation services with an
engine (a connection pool) of their own each, as two bot processes on one
database: on SQLite and on PostgreSQL.

* two reviewers of one organisation send their opinions at once: one decision is
  stored, one audit row, and the other is told who decided;
* the applicant withdraws while a reviewer decides: the withdrawal or the decision
  wins, never both, and the task states agree with the declaration's status;
* the two seats of a joint last level (beijing-worker: 北京市总工会 and 北京市科学技术委员会)
  approve at once: the declaration is named exactly once.

Each race runs ``ROUNDS`` times on fresh declarations to meet different
interleavings.  The organisation files are the shipped examples.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from dialogs.i18n import Locale
from dialogs.loader import load_registry
from dialogs.notices import reply_of
from dialogs.schema import Program
from dialogs.service import Conversation
from dialogs.ui import Action, ButtonIn, CommandIn, Outcome, Reply, TextIn, UserRef
from review import orgs
from review.audit import AuditAct
from storage import outbox, repo, staff
from storage.db import SessionFactory, create_engine, is_sqlite, session_factory
from storage.files import FileStore
from storage.migrate import upgrade_to_head
from storage.models import (
    Application,
    AuditEntry,
    OutboxMessage,
    ReviewTask,
    StaffRole,
)
from tests.test_programs_e2e import _event
from tests.walkthrough import Applicant

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
EXAMPLES = Path(__file__).resolve().parent.parent / "review" / "examples"
REGISTRY = load_registry()
ZH = Locale("zh-CN")
ROUNDS = 8

DALIAN = "dalian-worker"
DALIAN_UNIT = "dl-xg-gk"
DALIAN_FIRST = "dl-xg-gk-gh"  # decides level 0 for an applicant of DALIAN_UNIT
BEIJING = "beijing-worker"
BEIJING_UNIT = "bj-hd-hy"
BEIJING_CHAIN = [["bj-hd-hy"], ["bj-hd"], ["bj", "bj-kw"]]


class Clock:
    """One clock for both services: a minute on at every reading, so rows written by
    one are due for the other."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(minutes=1)
        return self.now


@dataclass
class Pair:
    a: Conversation
    b: Conversation
    reader: SessionFactory


@pytest.fixture
async def pair(database_url: str, tmp_path: Path) -> AsyncIterator[Pair]:
    """Two services over one database with the example organisations, each with an
    engine of its own, and a third engine to read what they stored."""
    await upgrade_to_head(database_url)
    engines = [create_engine(database_url) for _ in range(3)]
    clock = Clock()
    reader = session_factory(engines[2])
    async with reader() as session, session.begin():
        for path in sorted(EXAMPLES.glob("*.yaml")):
            await orgs.import_file(session, path=path, now=NOW)
    a, b = (
        Conversation(
            registry=REGISTRY,
            sessions=session_factory(engine),
            files=FileStore(tmp_path / "files"),
            clock=clock,
        )
        for engine in engines[:2]
    )
    try:
        yield Pair(a, b, reader)
    finally:
        for engine in engines:
            await engine.dispose()


def program(program_id: str) -> Program:
    found = REGISTRY.get(program_id)
    assert found is not None
    return found


# --------------------------------------------------------------------------- people


async def person_id(conv: Conversation, user: UserRef) -> int:
    await conv.handle(user, CommandIn("help"))
    async with conv.sessions() as session:
        row, _ = await repo.load_user(
            session, channel=user.channel, external_id=user.external_id, lock=False
        )
    assert row is not None
    assert row.id is not None
    return row.id


async def grant(conv: Conversation, user: UserRef, code: str) -> None:
    pid = await person_id(conv, user)
    async with conv.sessions() as session, session.begin():
        org = await staff.organisation(session, code=code)
        assert org is not None, code
        await staff.grant_role(
            session,
            person_id=pid,
            organisation_id=org.id or 0,
            role=StaffRole.REVIEWER.value,
            granted_by=None,
            now=NOW,
        )


def reviewer(code: str, n: int = 0) -> UserRef:
    return UserRef("telegram", f"r{n}-{code}", f"审核员{n}·{code}")


async def pending(conv: Conversation, user: UserRef) -> dict[str, Any]:
    async with conv.sessions() as session:
        row, _ = await repo.load_user(
            session, channel=user.channel, external_id=user.external_id, lock=False
        )
    assert row is not None
    return dict(row.pending or {})


async def notes(conv: Conversation, user: UserRef) -> list[Reply]:
    """What the outbox holds for ``user`` now (taken, as the terminal does)."""
    async with conv.sessions() as session, session.begin():
        rows = await outbox.take_due(
            session, channel=user.channel, external_id=user.external_id, now=conv.clock()
        )
    return [reply_of(r) for r in rows]


def press(reply: Reply, action: Action) -> ButtonIn:
    found = [b for row in reply.buttons for b in row if b.action is action]
    assert found, f"{action!r} not offered: {reply.text}"
    return ButtonIn(found[0].action, found[0].arg, reply.application_id, reply.revision)


def asks_text(out: Outcome) -> bool:
    return any(r.expects_text for r in out.replies)


async def card_of(conv: Conversation, user: UserRef, app_id: int) -> Reply:
    """The reviewer's card of the declaration, from their outbox."""
    found = [r for r in await notes(conv, user) if r.application_id == app_id]
    cards = [
        r for r in found if any(b.action is Action.REVIEW_APPROVE for row in r.buttons for b in row)
    ]
    assert len(cards) == 1, [r.text for r in found]
    return cards[0]


async def start(conv: Conversation, user: UserRef, card: Reply, action: Action) -> None:
    """Press 同意 (or another act) under the card: the opinion is asked for."""
    out = await conv.handle(user, press(card, action))
    assert asks_text(out), [r.text for r in out.replies]


async def decide(
    conv: Conversation, user: UserRef, card: Reply, opinion: str, name: str | None = None
) -> None:
    await start(conv, user, card, Action.REVIEW_APPROVE)
    out = await conv.handle(user, TextIn(opinion))
    if name is not None:
        assert asks_text(out)
        out = await conv.handle(user, TextIn(name))
    assert not out.toast, out.toast


# --------------------------------------------------------------------------- declarations


async def declare(conv: Conversation, user: UserRef, program_id: str, unit_code: str) -> int:
    """Apply as ``user`` from the unit ``unit_code`` and answer until submitted."""
    p = program(program_id)
    async with conv.sessions() as session:
        unit = await staff.organisation(session, code=unit_code)
    assert unit is not None
    out = await conv.handle(user, CommandIn("apply"))
    pick = next(b for row in out.replies[0].buttons for b in row if b.key == program_id)
    out = await conv.handle(user, ButtonIn(pick.action, pick.arg, 0, 0, pick.key))
    applicant = Applicant(p, NOW.date(), unit=unit.name)
    pid = await person_id(conv, user)
    for _ in range(600):
        async with conv.sessions() as session:
            apps = await repo.list_applications(session, user_id=pid)
        app = next(a for a in apps if a.program_id == program_id)
        if app.submission_no >= 1:
            assert app.status == "in_review", app.status
            return app.id or 0
        out = await conv.handle(user, _event(applicant.next_move(app.answers, app.cursor), out))
    raise AssertionError("the declaration was not submitted")


async def of_application(reader: SessionFactory, model: Any, app_id: int) -> list[Any]:
    async with reader() as session:
        rows = await session.execute(
            select(model).where(model.application_id == app_id).order_by(col(model.id))
        )
        return list(rows.scalars().all())


async def stored(reader: SessionFactory, app_id: int) -> Application:
    async with reader() as session:
        app = await repo.get_application(session, application_id=app_id)
    assert app is not None
    return app


async def acts(reader: SessionFactory, app_id: int) -> list[str]:
    return [e.act for e in await of_application(reader, AuditEntry, app_id)]


async def tasks(reader: SessionFactory, app_id: int) -> list[ReviewTask]:
    return await of_application(reader, ReviewTask, app_id)


async def notices_to(reader: SessionFactory, user: UserRef, app_id: int) -> list[OutboxMessage]:
    """The outbox rows about a declaration addressed to ``user``, in the order written."""
    async with reader() as session:
        result = await session.execute(
            select(OutboxMessage)
            .where(
                OutboxMessage.application_id == app_id,
                OutboxMessage.external_id == user.external_id,
            )
            .order_by(col(OutboxMessage.id))
        )
        return list(result.scalars().all())


async def at_once(round_: int, *calls: Awaitable[Outcome]) -> list[Outcome | BaseException]:
    """Run the calls at the same moment and return their results (or exceptions) in the
    order given; odd rounds start them in the reverse order, so that each side is
    sometimes first to reach the database."""
    order = list(range(len(calls)))
    if round_ % 2:
        order.reverse()
    started = [asyncio.ensure_future(calls[i]) for i in order]
    done = await asyncio.gather(*started, return_exceptions=True)
    results: list[Outcome | BaseException] = [BaseException()] * len(calls)
    for i, result in zip(order, done, strict=True):
        results[i] = result
    return results


def failures(results: Sequence[object]) -> list[BaseException]:
    return [r for r in results if isinstance(r, BaseException)]


# --------------------------------------------------------------------------- the races


async def test_two_reviewers_of_one_organisation_decide_at_once(pair: Pair) -> None:
    first, second = reviewer(DALIAN_FIRST, 0), reviewer(DALIAN_FIRST, 1)
    await grant(pair.a, first, DALIAN_FIRST)
    await grant(pair.a, second, DALIAN_FIRST)
    winners = []
    for round_ in range(ROUNDS):
        leader = UserRef("telegram", f"a-two-{round_}", "申报人")
        app_id = await declare(pair.a, leader, DALIAN, DALIAN_UNIT)
        cards = [await card_of(pair.a, who, app_id) for who in (first, second)]
        # Both press 同意 at once, then both send their opinions at once.
        await asyncio.gather(
            start(pair.a, first, cards[0], Action.REVIEW_APPROVE),
            start(pair.b, second, cards[1], Action.REVIEW_APPROVE),
        )
        opinions = {first: f"甲同意·{round_}", second: f"乙同意·{round_}"}
        services = (pair.a, pair.b) if round_ // 2 % 2 else (pair.b, pair.a)
        results = await at_once(
            round_,
            *(
                conv.handle(who, TextIn(opinions[who]))
                for conv, who in zip(services, opinions, strict=True)
            ),
        )
        assert failures(results) == [], failures(results)

        [level0] = [t for t in await tasks(pair.reader, app_id) if t.level == 0]
        assert level0.state == "approved"
        won = next(who for who in opinions if opinions[who] == level0.opinion)
        lost = second if won is first else first
        winners.append(won)
        log = await acts(pair.reader, app_id)
        assert log.count(AuditAct.APPROVED.value) == 1
        [approved] = [
            e
            for e in await of_application(pair.reader, AuditEntry, app_id)
            if e.act == AuditAct.APPROVED.value
        ]
        assert approved.opinion == level0.opinion
        # The next level was opened once; the other reviewer was told who decided.
        assert [t.level for t in await tasks(pair.reader, app_id)] == [0, 1]
        app = await stored(pair.reader, app_id)
        assert (app.status, app.review_level) == ("in_review", 1)
        lost_out = results[list(opinions).index(lost)]
        assert isinstance(lost_out, Outcome)
        assert won.display_name in (lost_out.toast or ""), lost_out.toast
        won_out = results[list(opinions).index(won)]
        assert isinstance(won_out, Outcome)
        assert not won_out.toast
        assert await pending(pair.a, first) == {}
        assert await pending(pair.a, second) == {}
        # The applicant is told of the decision once.
        told = await notices_to(pair.reader, leader, app_id)
        assert [r.dedupe_key.split(":")[2] for r in told] == ["routed"]
    assert winners  # which one wins is up to the race


async def withdraw_pressed(conv: Conversation, leader: UserRef) -> ButtonIn:
    """The applicant opens /status → 查看进度 → 撤回申报: the confirmation's button."""
    out = await conv.handle(leader, CommandIn("status"))
    out = await conv.handle(leader, press(out.replies[0], Action.TIMELINE))
    out = await conv.handle(leader, press(out.replies[0], Action.WITHDRAW))
    return press(out.replies[0], Action.WITHDRAW_OK)


async def test_a_withdrawal_and_a_decision_at_once_never_both_win(pair: Pair) -> None:
    who = reviewer(DALIAN_FIRST)
    await grant(pair.a, who, DALIAN_FIRST)
    seen: set[str] = set()
    for round_ in range(ROUNDS):
        leader = UserRef("telegram", f"a-withdraw-{round_}", "申报人")
        app_id = await declare(pair.a, leader, DALIAN, DALIAN_UNIT)
        card = await card_of(pair.a, who, app_id)
        await start(pair.a, who, card, Action.REVIEW_APPROVE)
        confirm = await withdraw_pressed(pair.a, leader)
        services = (pair.a, pair.b) if round_ // 2 % 2 else (pair.b, pair.a)
        results = await at_once(
            round_,
            services[0].handle(leader, confirm),
            services[1].handle(who, TextIn(f"同意推荐·{round_}")),
        )
        # Both are answered (a deadlock, forced below, is no longer possible), and
        # whatever the order, not both won.
        errors = failures(results)
        assert errors == []

        app = await stored(pair.reader, app_id)
        log = await acts(pair.reader, app_id)
        states = [(t.level, t.state) for t in await tasks(pair.reader, app_id)]
        withdrawn = AuditAct.WITHDRAWN.value in log
        decided = AuditAct.APPROVED.value in log
        assert withdrawn != decided, (log, states, app.status)
        if withdrawn:
            seen.add("withdrawn")
            assert app.status == "draft"
            assert states == [(0, "closed")]
            assert log.count(AuditAct.WITHDRAWN.value) == 1
            reviewer_out = results[1]
            if isinstance(reviewer_out, Outcome):
                assert reviewer_out.toast  # told it is no longer there to decide
        else:
            seen.add("decided")
            assert (app.status, app.review_level) == ("in_review", 1)
            assert states == [(0, "approved"), (1, "open")]
            applicant_out = results[0]
            if isinstance(applicant_out, Outcome):
                assert ZH.t("review.withdraw.too_late") in [r.text for r in applicant_out.replies]
        assert await pending(pair.a, who) == {}
    assert seen  # which one wins is up to the race


async def test_the_two_seats_of_a_joint_last_level_approve_at_once(pair: Pair) -> None:
    p = program(BEIJING)
    assert len(p.review_chain[-1].joint) == 1  # two seats: the level's own and one joint
    assert not any(level.panel for level in p.review_chain)
    for codes in BEIJING_CHAIN:
        for code in codes:
            await grant(pair.a, reviewer(code), code)
    lead, seat = reviewer("bj"), reviewer("bj-kw")
    for round_ in range(ROUNDS):
        leader = UserRef("telegram", f"a-joint-{round_}", "申报人")
        app_id = await declare(pair.a, leader, BEIJING, BEIJING_UNIT)
        for [code] in BEIJING_CHAIN[:2]:
            await decide(
                pair.a, reviewer(code), await card_of(pair.a, reviewer(code), app_id), "同意"
            )
        # The lead seat has written its opinion and is asked for the name; the other
        # seat has pressed 同意.  Now both send at once.
        lead_card = await card_of(pair.a, lead, app_id)
        seat_card = await card_of(pair.a, seat, app_id)
        await start(pair.a, lead, lead_card, Action.REVIEW_APPROVE)
        out = await pair.a.handle(lead, TextIn("同意命名"))
        assert asks_text(out)
        await start(pair.a, seat, seat_card, Action.REVIEW_APPROVE)
        name = f"华研智能创新工作室{round_}"
        services = (pair.a, pair.b) if round_ // 2 % 2 else (pair.b, pair.a)
        results = await at_once(
            round_,
            services[0].handle(lead, TextIn(name)),
            services[1].handle(seat, TextIn("同意·科委")),
        )
        assert failures(results) == [], failures(results)
        for result in results:
            assert isinstance(result, Outcome)
            assert not result.toast, result.toast  # both seats' approvals were taken

        app = await stored(pair.reader, app_id)
        assert (app.status, app.named_as) == ("approved", name)
        log = await acts(pair.reader, app_id)
        assert log.count(AuditAct.NAMED.value) == 1
        assert log[-1] == AuditAct.NAMED.value
        assert log.count(AuditAct.APPROVED.value) == 4  # two levels, two seats
        last = [t for t in await tasks(pair.reader, app_id) if t.level == 2]
        assert sorted((t.seat, t.state) for t in last) == [(0, "approved"), (1, "approved")]
        told = await notices_to(pair.reader, leader, app_id)
        outcomes = [r.dedupe_key.split(":")[2] for r in told]
        assert outcomes.count("named") == 1, outcomes
        assert outcomes[-1] == "named", outcomes


# --------------------------------------------------------------------------- a deadlock, forced


# Once a deadlock: the applicant's turn held the applicant's persons row FOR UPDATE
# (repo.load_user) and then waited for the declaration's row, while the reviewer's
# turn held that row (chain.check) and inserted the applicant's notice into the outbox,
# whose foreign key to persons needed a KEY SHARE lock on the row the applicant held.
# The person's row is now locked FOR NO KEY UPDATE, and a deadlock or serialization
# failure is handled again like a stale write (Conversation.handle).


async def locks_waited(reader: SessionFactory) -> int:
    """How many connections to the test database wait for a lock now."""
    async with reader() as session:
        result = await session.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        return int(result.scalar_one())


async def until_waiting(reader: SessionFactory, count: int) -> None:
    """Poll the server until ``count`` connections wait for a lock (no event to wait on:
    the waiting happens inside PostgreSQL)."""
    async with asyncio.timeout(10):
        while True:
            if await locks_waited(reader) >= count:
                return
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("applicant_event", ["withdraw", "timeline"])
async def test_a_decision_and_the_applicants_event_do_not_deadlock(
    pair: Pair, database_url: str, request: pytest.FixtureRequest, applicant_event: str
) -> None:
    """The interleaving the race above meets now and then, forced: the reviewer's
    decision reaches the declaration's row first, the applicant's event (撤回 confirmed,
    or 查看进度) comes while it is held.  Both must be answered; not both may win."""
    if is_sqlite(database_url):
        pytest.skip("SQLite runs one writing transaction at a time (BEGIN IMMEDIATE)")
    who = reviewer(DALIAN_FIRST)
    await grant(pair.a, who, DALIAN_FIRST)
    leader = UserRef("telegram", f"a-deadlock-{applicant_event}", "申报人")
    app_id = await declare(pair.a, leader, DALIAN, DALIAN_UNIT)
    card = await card_of(pair.a, who, app_id)
    await start(pair.a, who, card, Action.REVIEW_APPROVE)
    if applicant_event == "withdraw":
        event = await withdraw_pressed(pair.a, leader)
    else:
        out = await pair.a.handle(leader, CommandIn("status"))
        event = press(out.replies[0], Action.TIMELINE)
    # A third connection holds the declaration's row for a moment, so that the two
    # queue for it in a known order: the reviewer first, then the applicant.
    async with pair.reader() as holder, holder.begin():
        await repo.get_application(holder, application_id=app_id, for_update=True)
        decision = asyncio.create_task(pair.b.handle(who, TextIn("同意推荐")))
        await until_waiting(pair.reader, 1)
        applicant = asyncio.create_task(pair.a.handle(leader, event))
        await until_waiting(pair.reader, 2)
    results = await asyncio.gather(decision, applicant, return_exceptions=True)

    log = await acts(pair.reader, app_id)
    assert not (AuditAct.WITHDRAWN.value in log and AuditAct.APPROVED.value in log)
    assert failures(results) == [], failures(results)
    assert log.count(AuditAct.APPROVED.value) == 1  # the decision came first
    app = await stored(pair.reader, app_id)
    assert (app.status, app.review_level) == ("in_review", 1)
