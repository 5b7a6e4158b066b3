"""Reminders on a controlled clock: who hears of which date when, exactly once
(SQLite, and PostgreSQL when configured).

Declarations are made through the conversation or stored directly in the state
a reminder needs; the planner and the outbox are read back, not wording.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from dialogs.loader import load_registry
from dialogs.reminding import plan_and_write, words
from dialogs.service import Conversation
from dialogs.ui import Action, ButtonIn, CommandIn, TextIn, UserRef
from reminders.plan import Due, Window, plan, send_time, step_due
from reminders.tick import Ticker
from review import chain, orgs
from storage import outbox, repo
from storage.db import SessionFactory
from storage.files import FileStore
from storage.models import Application, OutboxMessage, OutboxPriority, Person

ZONE = ZoneInfo("Asia/Shanghai")
WINDOW = Window(zone=ZONE)
REGISTRY = load_registry()
DALIAN = Path(__file__).resolve().parent.parent / "review" / "examples" / "dalian.yaml"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZONE)


@pytest.fixture
def conv(sessions: SessionFactory, tmp_path: Path) -> Conversation:
    return Conversation(
        registry=REGISTRY,
        sessions=sessions,
        files=FileStore(tmp_path / "files"),
        clock=lambda: at("2027-06-20T10:00"),
    )


async def begin_draft(conv: Conversation, user: UserRef, program_id: str) -> int:
    """Open a draft and answer its first question (the unit, typed)."""
    out = await conv.handle(user, CommandIn("apply"))
    pick = next(b for row in out.replies[0].buttons for b in row if b.key == program_id)
    await conv.handle(user, ButtonIn(pick.action, pick.arg, 0, 0, pick.key))
    await conv.handle(user, TextIn("大连某设备公司"))
    async with conv.sessions() as session:
        person, app = await repo.load_user(
            session, channel=user.channel, external_id=user.external_id
        )
        assert person is not None
        assert app is not None
        return app.id or 0


async def due_at(conv: Conversation, moment: dt.datetime) -> list[Due]:
    async with conv.sessions() as session:
        return await plan(session, programs=list(REGISTRY), now=moment, window=WINDOW)


async def tick(conv: Conversation, moment: dt.datetime) -> int:
    return await plan_and_write(
        conv.sessions, registry=REGISTRY, loc=conv.loc, window=WINDOW, now=moment
    )


async def rows(conv: Conversation) -> list[OutboxMessage]:
    async with conv.sessions() as session:
        found = await session.execute(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return list(found.scalars().all())


# --------------------------------------------------------------------------- timing


def test_the_step_due_is_the_smallest_not_yet_passed() -> None:
    steps = (30, 7, 3, 1)
    assert step_due(31, steps) is None
    assert step_due(30, steps) == 30
    assert step_due(12, steps) == 30  # the 30-day reminder, late (planned after a stop)
    assert step_due(5, steps) == 7
    assert step_due(0, steps) == 1
    assert step_due(-1, steps) is None  # the date has passed: nothing


def test_reminders_go_at_the_hour_never_at_night() -> None:
    july31 = dt.date(2027, 7, 31)
    assert send_time(at("2027-07-24T03:00"), july31, WINDOW, None) == at("2027-07-24T09:00")
    assert send_time(at("2027-07-24T11:30"), july31, WINDOW, None) == at("2027-07-24T11:30")
    assert send_time(at("2027-07-24T21:00"), july31, WINDOW, None) == at("2027-07-25T09:00")
    assert send_time(at("2027-07-24T03:00"), july31, WINDOW, 7) == at("2027-07-24T07:00")
    # planned at night on the day itself: now, since tomorrow morning is too late
    assert send_time(at("2027-07-31T21:00"), july31, WINDOW, None) == at("2027-07-31T21:00")


# --------------------------------------------------------------------------- leaders


async def test_a_leader_with_a_draft_hears_of_the_deadline_once_per_step(
    conv: Conversation,
) -> None:
    leader = UserRef("telegram", "l-001", "王师傅")
    app_id = await begin_draft(conv, leader, "dalian-model")
    keys: list[str] = []
    for moment, step in (
        ("2027-07-01T09:00", 30),
        ("2027-07-24T09:00", 7),
        ("2027-07-28T09:00", 3),
        ("2027-07-31T09:00", 1),
    ):
        found = [d for d in await due_at(conv, at(moment)) if d.kind == "deadline"]
        [due] = found
        assert due.application_id == app_id
        assert due.key.endswith(f":{step}")
        assert due.day == dt.date(2027, 7, 31)
        assert due.count > 0  # questions still unanswered
        assert await tick(conv, at(moment)) == 1
        assert await tick(conv, at(moment)) == 0  # planning twice adds nothing
        keys.append(due.key)
    stored = await rows(conv)
    assert [r.dedupe_key for r in stored] == keys
    assert {r.priority for r in stored} == {OutboxPriority.BULK}
    assert all(r.expires_at == at("2027-08-01T00:00") for r in stored)
    [resume] = stored[0].buttons[0]
    assert (resume["action"], resume["arg"]) == (Action.RESUME, app_id)
    # A weekend is said: 2027-07-31 is a Saturday.
    assert conv.loc.t("remind.weekday.sat") in stored[0].text
    assert await due_at(conv, at("2027-08-01T09:00")) == []  # the date has passed


async def test_nothing_after_submitting_and_nothing_when_muted(conv: Conversation) -> None:
    leader = UserRef("telegram", "l-002", "李师傅")
    app_id = await begin_draft(conv, leader, "dalian-model")
    async with conv.sessions() as session, session.begin():
        app = await session.get(Application, app_id)
        assert app is not None
        app.status = "in_review"
    assert [d for d in await due_at(conv, at("2027-07-24T09:00")) if d.kind == "deadline"] == []
    async with conv.sessions() as session, session.begin():
        app = await session.get(Application, app_id)
        assert app is not None
        app.status = "draft"
        person = await session.get(Person, app.user_id)
        assert person is not None
        person.mutes = ["deadline"]
    assert [d for d in await due_at(conv, at("2027-07-24T09:00")) if d.kind == "deadline"] == []


# --------------------------------------------------------------------------- studios


async def named(conv: Conversation, user: UserRef, program_id: str, when: dt.datetime) -> int:
    """A declaration of ``program_id`` named at ``when``, as the chain leaves it."""
    app_id = await begin_draft(conv, user, program_id)
    async with conv.sessions() as session, session.begin():
        app = await session.get(Application, app_id)
        assert app is not None
        app.status, app.named_at, app.named_as = "approved", when, "某创新工作室"
    return app_id


async def test_a_named_beijing_studio_hears_of_its_quarterly_summary_an_unnamed_one_not(
    conv: Conversation,
) -> None:
    studio = await named(
        conv, UserRef("telegram", "s-1", "命名工作室"), "beijing-worker", at("2026-12-20T10:00")
    )
    await begin_draft(conv, UserRef("telegram", "s-2", "未命名"), "beijing-worker")
    found = [d for d in await due_at(conv, at("2027-03-01T09:00")) if d.kind == "duty"]
    assert [(d.application_id, d.rule_id, d.day) for d in found] == [
        (studio, "quarterly_summary", dt.date(2027, 3, 31))
    ]


async def test_yangpu_inspection_three_years_after_naming_and_seasons_ahead(
    conv: Conversation,
) -> None:
    studio = await named(
        conv, UserRef("telegram", "y-1", "杨浦工作室"), "yangpu-model", at("2027-01-15T10:00")
    )
    found = [d for d in await due_at(conv, at("2029-12-16T09:00")) if d.kind == "duty"]
    assert ("cycle_inspection", dt.date(2030, 1, 15)) in [(d.rule_id, d.day) for d in found]
    season = [d for d in found if d.rule_id == "support_application"]
    [support] = season
    assert support.carried_out  # 年底开展: announced ahead of the season, not as a deadline
    assert support.application_id == studio
    assert "season" not in words(support, conv.loc, REGISTRY, frozenset())  # worded, not a key


# --------------------------------------------------------------------------- reviewers


async def test_reviewers_get_a_daily_digest_and_a_nudge_after_the_levels_time(
    conv: Conversation,
) -> None:
    from tests.test_review_chain import CHAIN_FROM, declare, reviewer, staff_chain, unit_name

    program = REGISTRY.get("dalian-worker")
    assert program is not None
    async with conv.sessions() as session, session.begin():
        await orgs.import_file(session, path=DALIAN, now=at("2027-06-01T09:00"))
    chain = await staff_chain(conv, program)
    leader = UserRef("telegram", "a-digest", "申报人")
    await declare(conv, leader, program.id, await unit_name(conv, CHAIN_FROM[program.id][0]))
    first = reviewer(chain[0][0])
    async with conv.sessions() as session:
        person, _ = await repo.load_user(
            session, channel=first.channel, external_id=first.external_id
        )
        assert person is not None
    soon = [d for d in await due_at(conv, at("2027-06-21T09:00")) if d.person_id == person.id]
    assert [d.kind for d in soon] == ["digest"]
    later = [d for d in await due_at(conv, at("2027-07-10T09:00")) if d.person_id == person.id]
    assert sorted(d.kind for d in later) == ["digest", "nudge"]
    nudge = next(d for d in later if d.kind == "nudge")
    assert nudge.waited > program.review_chain[0].max_days
    assert await tick(conv, at("2027-07-10T09:00")) > 0
    assert await tick(conv, at("2027-07-11T09:00")) >= 1  # a new day's digest, no second nudge
    keys = [r.dedupe_key for r in await rows(conv) if r.person_id == person.id]
    assert len([k for k in keys if k.startswith("rem:n:")]) == 1
    assert len([k for k in keys if k.startswith("rem:g:")]) == 2


# --------------------------------------------------------------------------- delivery


async def test_an_expired_reminder_is_given_up_never_sent_late(conv: Conversation) -> None:
    leader = UserRef("telegram", "l-003", "赵师傅")
    await begin_draft(conv, leader, "dalian-model")
    await tick(conv, at("2027-07-31T09:00"))
    async with conv.sessions() as session, session.begin():
        assert await outbox.count_due(session, channel="telegram", now=at("2027-07-31T10:00")) == 1
        assert await outbox.count_due(session, channel="telegram", now=at("2027-08-01T10:00")) == 0
        gone = await outbox.give_up_expired(session, channel="telegram", now=at("2027-08-01T10:00"))
    assert len(gone) == 1
    assert gone[0].last_error == outbox.EXPIRED


async def test_the_ticker_plans_at_once_and_survives_a_failure(conv: Conversation) -> None:
    calls: list[dt.datetime] = []

    async def failing(now: dt.datetime) -> int:
        calls.append(now)
        raise RuntimeError("database away")

    ticker = Ticker(failing, every=3600, clock=lambda: at("2027-07-24T09:00"))
    assert await ticker.run_once() == 0
    assert calls == [at("2027-07-24T09:00")]

    async def planning(now: dt.datetime) -> int:
        return await tick(conv, now)

    await begin_draft(conv, UserRef("telegram", "l-004", "钱师傅"), "dalian-model")
    ticker = Ticker(planning, every=3600, clock=lambda: at("2027-07-24T09:00"))
    assert await ticker.run_once() == 1
    assert await ticker.run_once() == 0


# --------------------------------------------------------------------------- the person's own


async def test_deadlines_lists_the_dates_of_my_declarations_nearest_first(
    conv: Conversation,
) -> None:
    leader = UserRef("telegram", "l-005", "孙师傅")
    await begin_draft(conv, leader, "dalian-model")
    await begin_draft(conv, leader, "cccc-model")
    out = await conv.handle(leader, CommandIn("deadlines"))
    text = out.replies[0].text
    # On 2027-06-20: Dalian's July 31 comes first, CCCC's end of May is next year's.
    assert text.index("2027-07-31") < text.index("2028-05-31")
    assert "2011" not in text  # 2011's own schedule is over


async def test_settings_mute_a_kind_and_set_the_hour_and_it_holds(conv: Conversation) -> None:
    leader = UserRef("telegram", "l-006", "周师傅")
    app_id = await begin_draft(conv, leader, "dalian-model")
    out = await conv.handle(leader, CommandIn("settings"))
    [reply] = out.replies
    mute = next(b for row in reply.buttons for b in row if b.key == "deadline")
    await conv.handle(leader, ButtonIn(mute.action, mute.arg, 0, 0, mute.key))
    hour = next(b for row in reply.buttons for b in row if b.action is Action.SETTINGS_HOUR)
    await conv.handle(leader, ButtonIn(hour.action, hour.arg, 0, 0, hour.key))
    await conv.handle(leader, ButtonIn(Action.SETTINGS_TOGGLE, 0, 0, 0, "no-such-kind"))
    async with conv.sessions() as session:
        person, _ = await repo.load_user(session, channel="telegram", external_id="l-006")
        assert person is not None
        assert person.mutes == ["deadline"]
        assert person.remind_hour == hour.arg
    assert [
        d for d in await due_at(conv, at("2027-07-24T06:00")) if d.application_id == app_id
    ] == []
    await conv.handle(leader, ButtonIn(mute.action, mute.arg, 0, 0, mute.key))  # on again
    [due] = [d for d in await due_at(conv, at("2027-07-24T06:00")) if d.application_id == app_id]
    assert due.send_at == at(f"2027-07-24T{hour.arg:02d}:00")


async def test_a_backlog_left_when_the_window_closes_waits_for_the_morning(
    conv: Conversation,
) -> None:
    leader = UserRef("telegram", "l-007", "吴师傅")
    await begin_draft(conv, leader, "dalian-model")
    await tick(conv, at("2027-07-24T09:00"))  # a 7-day reminder, not sent by 20:00
    late = UserRef("telegram", "l-008", "郑师傅")
    await begin_draft(conv, late, "dalian-model")
    await tick(conv, at("2027-07-31T19:00"))  # the day itself: must go today
    await tick(conv, at("2027-07-24T20:30"))  # the window closed on the 24th
    by_key = {r.dedupe_key: r for r in await rows(conv)}
    week = next(r for k, r in by_key.items() if k.endswith("2027-07-31:7"))
    assert week.not_before == at("2027-07-25T09:00")
    today = next(r for k, r in by_key.items() if k.endswith("2027-07-31:1"))
    assert today.not_before == at("2027-07-31T19:00")  # would expire by morning: left as is


async def test_submitting_drops_the_deadline_reminders_planned_for_the_draft(
    conv: Conversation,
) -> None:
    leader = UserRef("telegram", "l-009", "冯师傅")
    app_id = await begin_draft(conv, leader, "dalian-worker")
    async with conv.sessions() as session, session.begin():
        app = await session.get(Application, app_id)
        assert app is not None
        app.program_id = "dalian-model"  # a program with a yearly deadline for drafts
        app.answers = {}
        app.cursor = {}
    await tick(conv, at("2027-07-30T21:00"))  # planned for the next morning
    [planned] = [r for r in await rows(conv) if r.application_id == app_id]
    assert planned.sent_at is None
    async with conv.sessions() as session, session.begin():
        app = await session.get(Application, app_id)
        assert app is not None
        app.program_id, app.status = "dalian-worker", "draft"
    program = REGISTRY.get("dalian-worker")
    assert program is not None
    async with conv.sessions() as session, session.begin():
        app = await session.get(Application, app_id)
        assert app is not None
        await chain.submit(session, app=app, program=program, now=at("2027-07-30T22:00"))
    [dropped] = [
        r
        for r in await rows(conv)
        if r.application_id == app_id and r.dedupe_key.startswith("rem:")
    ]
    assert dropped.given_up_at is not None
    assert dropped.last_error == "submitted"


async def test_a_reminder_held_to_the_morning_counts_the_days_from_then(
    conv: Conversation,
) -> None:
    await begin_draft(conv, UserRef("telegram", "l-010", "陈师傅"), "dalian-model")
    [due] = [d for d in await due_at(conv, at("2027-07-01T20:30")) if d.kind == "deadline"]
    assert due.send_at == at("2027-07-02T09:00")
    assert due.days_left == 29
