"""The review chain over Telegram, as its people meet it: the real aiogram polling app
and the real outbox sender against the fake Bot API server, on SQLite and
PostgreSQL.

The organisation file is the shipped example ``review/examples/dalian.yaml``; the
program is ``dalian-worker`` (基层工会 → 区总工会 → 市总工会).  Everyone has a
Telegram account of their own: the applicant, and a reviewer per level who
joins by opening an invitation (``/start <token>``).  The declaration itself is
answered through the conversation service (it is not what is tested here);
from the moment it is submitted everything happens over HTTP: the sender
delivers each reviewer's card, the reviewer presses its buttons (callback
queries, every one answered) and types the opinion, the applicant's chat gets
the notices, and a returned declaration is revised in the applicant's chat.

What is checked is behaviour: the stored state (tasks, statuses, audit rows,
outbox rows, pending input), the actions the buttons carry in their callback
data, and texts by their locale keys, not their wording.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app import create_sender
from bot.callbacks import DialogCallback
from bot.sender import OutboxSender
from bot.texts import texts
from dialogs.loader import load_registry
from dialogs.notices import channel_name
from dialogs.schema import Program
from dialogs.service import Conversation
from dialogs.ui import Action, ButtonIn, CommandIn, Outcome, UserRef
from review import invites, orgs
from review.audit import AuditAct
from storage import repo, staff
from storage import review as data
from storage.db import SessionFactory, create_engine, session_factory
from storage.files import FileStore
from storage.migrate import upgrade_to_head
from storage.models import (
    Application,
    AuditEntry,
    ChannelIdentity,
    OutboxMessage,
    Person,
    ReviewTask,
    StaffRole,
)
from tests.fakebotapi import FakeBotAPI, SentMessage
from tests.test_bot_http import config_for, polling
from tests.test_programs_e2e import _event
from tests.tg_driver import application, send_move
from tests.walkthrough import Applicant, text_for

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
EXAMPLES = Path(__file__).resolve().parent.parent / "review" / "examples"
REGISTRY = load_registry()
PROGRAM_ID = "dalian-worker"
UNIT = "大连港口设备有限公司"
CHAIN = ["dl-xg-gk-gh", "dl-xg", "dl"]  # who decides each level for an applicant of UNIT
ZH = texts("zh-CN")  # the dialog's texts and the transport's

APPLICANT, APPLICANT_2 = 7000, 7001
LEVEL_REVIEWERS = [7100, 7200, 7300]  # one Telegram account per level, in chain order


def program() -> Program:
    found = REGISTRY.get(PROGRAM_ID)
    assert found is not None
    return found


class Shifted:
    """The real clock moved to the test's day, shared by the conversation and the sender
    (a row is due when the sender's clock passes the conversation's ``now``)."""

    def __init__(self) -> None:
        self.offset = NOW - dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


@dataclass
class World:
    api: FakeBotAPI
    conv: Conversation
    sessions: SessionFactory
    sender: OutboxSender
    clock: Shifted


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    """A migrated database with the Dalian organisations, the bot polling the fake
    server and the outbox sender running beside it (as ``studiobot run`` does)."""
    await upgrade_to_head(database_url)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    clock = Shifted()
    async with sessions() as session, session.begin():
        await orgs.import_file(session, path=EXAMPLES / "dalian.yaml", now=clock())
    conv = Conversation(
        registry=REGISTRY, sessions=sessions, files=FileStore(tmp_path / "files"), clock=clock
    )
    api = await FakeBotAPI().start()
    config = config_for(api)
    sender = create_sender(config, sessions, clock=clock)
    sender.config = dataclasses.replace(sender.config, backoff=0.2)
    try:
        async with polling(config, conv):
            sender.start()
            try:
                yield World(api, conv, sessions, sender, clock)
            finally:
                await sender.stop()
                await sender.bot.session.close()  # type: ignore[attr-defined]
    finally:
        await api.stop()
        await engine.dispose()


# --------------------------------------------------------------------------- buttons


def callbacks(message: SentMessage) -> list[tuple[DialogCallback, str]]:
    """The readable callback data of a message's buttons as first sent, with the raw data."""
    out = []
    for row in message.original_buttons:
        for button in row:
            if button.callback_data is None:
                continue
            try:
                out.append((DialogCallback.unpack(button.callback_data), button.callback_data))
            except (TypeError, ValueError):
                continue
    return out


def offered(message: SentMessage) -> set[Action]:
    return {cb.a for cb, _ in callbacks(message)}


def button(message: SentMessage, action: Action, key: str | None = None) -> DialogCallback:
    found = [cb for cb, _ in callbacks(message) if cb.a is action and key in (None, cb.k)]
    assert found, f"{action!r} not offered: {message.text}"
    return found[0]


def data_for(message: SentMessage, action: Action, key: str | None = None) -> str:
    return button(message, action, key).pack()


def cards(api: FakeBotAPI, uid: int) -> list[SentMessage]:
    """A reviewer's cards: the messages offering 同意."""
    return [m for m in api.sent_to(uid) if Action.REVIEW_APPROVE in offered(m)]


async def nth_card(api: FakeBotAPI, uid: int, n: int, timeout: float = 30) -> SentMessage:  # noqa: ASYNC109
    await api.wait_for(lambda: len(cards(api, uid)) >= n, timeout)
    return cards(api, uid)[n - 1]


async def notice(
    api: FakeBotAPI,
    uid: int,
    wanted: Callable[[SentMessage], bool],
    timeout: float = 30,  # noqa: ASYNC109
) -> SentMessage:
    """The first message to ``uid`` that ``wanted`` accepts, once it arrived."""
    await api.wait_for(lambda: any(wanted(m) for m in api.sent_to(uid)), timeout)
    return next(m for m in api.sent_to(uid) if wanted(m))


async def press(api: FakeBotAPI, uid: int, message: SentMessage, data: str) -> list[SentMessage]:
    """Press a button carrying ``data`` under ``message``; the replies to it."""
    api.mark_seen(uid)
    api.press(uid, message, data)
    return await api.wait_for_reply(uid, timeout=20)


async def say(api: FakeBotAPI, uid: int, text: str) -> list[SentMessage]:
    api.mark_seen(uid)
    api.send_text(uid, text)
    return await api.wait_for_reply(uid, timeout=20)


def toast_of(api: FakeBotAPI, data: str) -> str | None:
    """What the bot answered the (latest) press carrying ``data``."""
    answered = [a for a in api.answered_callbacks if a.data == data]
    assert answered, f"the press {data!r} was not answered"
    return answered[-1].text


# --------------------------------------------------------------------------- stored state


async def person(w: World, uid: int) -> Person:
    async with w.sessions() as session:
        row, _ = await repo.load_user(session, channel="telegram", external_id=str(uid), lock=False)
    assert row is not None, uid
    return row


async def stored(w: World, app_id: int) -> Application:
    async with w.sessions() as session:
        app = await repo.get_application(session, application_id=app_id)
    assert app is not None
    return app


async def rows(w: World, model: Any, *where: Any) -> list[Any]:
    async with w.sessions() as session:
        result = await session.execute(select(model).where(*where).order_by(col(model.id)))
        return list(result.scalars().all())


async def tasks(w: World, app_id: int) -> list[ReviewTask]:
    return await rows(w, ReviewTask, ReviewTask.application_id == app_id)


async def audit(w: World, app_id: int) -> list[str]:
    return [e.act for e in await rows(w, AuditEntry, AuditEntry.application_id == app_id)]


async def outbox_rows(w: World, *where: Any) -> list[OutboxMessage]:
    return await rows(w, OutboxMessage, *where)


async def settled(w: World, timeout: float = 30) -> list[OutboxMessage]:  # noqa: ASYNC109
    """Every outbox row, once each is sent or given up (the sender is running)."""
    found: list[OutboxMessage] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                found = await outbox_rows(w)
                if all(r.sent_at or r.given_up_at for r in found):
                    return found
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(
            [(r.dedupe_key, r.last_error) for r in found if not (r.sent_at or r.given_up_at)]
        ) from None


# --------------------------------------------------------------------------- people


async def join(
    w: World, uid: int, code: str, name: str, role: StaffRole = StaffRole.REVIEWER
) -> None:
    """``uid`` opens a one-time invitation to ``code`` (``/start <token>``) and holds the role."""
    w.api.set_user(uid, first_name=name)
    async with w.sessions() as session, session.begin():
        org = await staff.organisation(session, code=code)
        assert org is not None, code
        created = await invites.create(session, organisation=org, role=role, days=7, now=w.clock())
        org_id, org_name = org.id or 0, org.name
    w.api.mark_seen(uid)
    w.api.send_command(uid, "start", created.token)
    replies = await w.api.wait_for_reply(uid, timeout=20)
    joined = ZH.t("staff.join.joined", organisation=org_name, role=ZH.t(f"staff.role.{role.value}"))
    assert any(joined in (m.text or "") for m in replies), [m.text for m in replies]
    who = await person(w, uid)
    async with w.sessions() as session:
        held = await data.role_in(session, person_id=who.id or 0, organisation_id=org_id)
    assert held == role.value


async def staff_levels(w: World) -> None:
    for uid, code in zip(LEVEL_REVIEWERS, CHAIN, strict=True):
        await join(w, uid, code, f"审核员{code}")


async def declare(w: World, uid: int, name: str) -> int:
    """Answer the whole form through the conversation service (as the Telegram user
    ``uid``) and submit it; the declaration's id."""
    w.api.set_user(uid, first_name=name)
    user = UserRef("telegram", str(uid), name)
    out: Outcome = await w.conv.handle(user, CommandIn("apply"))
    pick = next(b for row in out.replies[0].buttons for b in row if b.key == PROGRAM_ID)
    out = await w.conv.handle(user, ButtonIn(pick.action, pick.arg, 0, 0, pick.key))
    applicant = Applicant(program(), NOW.date(), unit=UNIT)
    for _ in range(600):
        app = await application(w.sessions, uid, PROGRAM_ID)
        assert app is not None
        if app.submission_no >= 1:
            assert app.status == "in_review", app.status
            return app.id or 0
        move = applicant.next_move(app.answers, app.cursor)
        out = await w.conv.handle(user, _event(move, out))
    raise AssertionError("the declaration was not submitted")


async def decide(
    w: World,
    uid: int,
    card: SentMessage,
    action: Action,
    opinion: str,
    name: str | None = None,
) -> list[SentMessage]:
    """A reviewer presses 同意 / 退回修改 / 不同意 under the card and types the opinion (and,
    at the last level, the approved name); the last replies."""
    asked = await press(w.api, uid, card, data_for(card, action))
    assert any(Action.REVIEW_CANCEL in offered(m) for m in asked), [m.text for m in asked]
    assert (await person(w, uid)).pending.get("kind") == "opinion"
    replies = await say(w.api, uid, opinion)
    if name is not None:
        assert (await person(w, uid)).pending.get("kind") == "name"
        replies = await say(w.api, uid, name)
    assert (await person(w, uid)).pending == {}
    return replies


def applicant_outcomes(notices: list[OutboxMessage], app_id: int) -> list[str]:
    """What the applicant was told, by the outcome in each notice's key."""
    prefix = f"app:{app_id}:"
    return [r.dedupe_key.split(":")[2] for r in notices if r.dedupe_key.startswith(prefix)]


def first_plain_text_question(p: Program) -> tuple[str, str]:
    """(section id, question id) of the first section opening with a plain text question."""
    for section in p.sections:
        first = section.questions[0]
        if first.type == "text" and not first.suggest:
            return section.id, first.id
    raise AssertionError("no section starts with a plain text question")


# --------------------------------------------------------------------------- the chain


async def test_the_chain_over_telegram_with_one_return(world: World) -> None:
    w, api = world, world.api
    p = program()
    await staff_levels(w)
    app_id = await declare(w, APPLICANT, "申报人甲")
    r0, r1, r2 = LEVEL_REVIEWERS

    # Level 0: the card arrives with its buttons, for this declaration and version.
    card = await nth_card(api, r0, 1)
    assert {
        Action.REVIEW_READ,
        Action.REVIEW_APPROVE,
        Action.REVIEW_RETURN,
        Action.REVIEW_REJECT,
    } <= offered(card)
    approve = button(card, Action.REVIEW_APPROVE)
    assert (approve.p, approve.r) == (app_id, 1)
    [level0] = [t for t in await tasks(w, app_id) if t.level == 0]
    assert approve.g == level0.id
    # 查看全文 shows the first section of the submitted version, with ways on.
    read = await press(api, r0, card, data_for(card, Action.REVIEW_READ))
    assert any(Action.REVIEW_SHOW in offered(m) for m in read)
    await decide(w, r0, card, Action.REVIEW_APPROVE, "同意推荐")
    [level0] = [t for t in await tasks(w, app_id) if t.level == 0]
    assert (level0.state, level0.opinion) == ("approved", "同意推荐")
    assert level0.decided_by == (await person(w, r0)).id

    # Level 1 returns it.
    card1 = await nth_card(api, r1, 1)
    await decide(w, r1, card1, Action.REVIEW_RETURN, "请补充团队成员的获奖情况")
    app = await stored(w, app_id)
    assert (app.status, app.review_level) == ("returned", 1)

    # The applicant's chat: the notice of the return, with 修改申报 (and the timeline).
    returned = await notice(api, APPLICANT, lambda m: Action.RESUME in offered(m))
    assert "请补充团队成员的获奖情况" in (returned.text or "")
    assert Action.TIMELINE in offered(returned)
    # ...revised in the chat: 修改申报, a section from the preview, a new answer, submit.
    section_id, question_id = first_plain_text_question(p)
    replies = await press(api, APPLICANT, returned, data_for(returned, Action.RESUME))
    preview = next(m for m in reversed(replies) if Action.EDIT_PICK in offered(m))
    replies = await press(api, APPLICANT, preview, data_for(preview, Action.EDIT_PICK, section_id))
    picker = next((m for m in reversed(replies) if Action.EDIT_SECTION in offered(m)), None)
    if picker is not None:  # a section of one answer opens it without a picker
        await press(api, APPLICANT, picker, data_for(picker, Action.EDIT_SECTION, section_id))
    changed = text_for(p.question(question_id)) + "改"
    await say(api, APPLICANT, changed)
    walker = Applicant(p, NOW.date(), unit=UNIT)
    for _ in range(200):
        app = await stored(w, app_id)
        if app.submission_no == 2:
            break
        api.mark_seen(APPLICANT)
        await send_move(api, APPLICANT, walker.next_move(app.answers, app.cursor))
        await api.wait_for_reply(APPLICANT, timeout=20)
    else:
        raise AssertionError("the revision was not submitted again")
    assert app.answers[question_id] == changed
    assert (app.status, app.review_level) == ("in_review", 1)

    # The new version reaches the level that returned it, the changed answer named.
    card2 = await nth_card(api, r1, 2)
    assert p.question(question_id).label in (card2.text or "")
    assert changed in (card2.text or "")
    again = button(card2, Action.REVIEW_APPROVE)
    assert (again.p, again.r) == (app_id, 2)
    # The first version's card acts on nothing now: the press is answered with the
    # version waiting instead, and no opinion is asked.
    old = data_for(card1, Action.REVIEW_APPROVE)
    await press(api, r1, card1, old)
    assert toast_of(api, old) is None or toast_of(api, old)  # answered, with or without words
    shown = api.last_message(r1, with_buttons=True)
    assert shown is not None
    assert button(shown, Action.REVIEW_APPROVE).r == 2
    assert (await person(w, r1)).pending == {}
    assert len(cards(api, r0)) == 1  # level 0 is not asked again
    await decide(w, r1, card2, Action.REVIEW_APPROVE, "修改后同意")

    # The last level approves and gives the approved name.
    card3 = await nth_card(api, r2, 1)
    assert button(card3, Action.REVIEW_APPROVE).r == 2
    await decide(w, r2, card3, Action.REVIEW_APPROVE, "同意命名", name="港口设备创新工作室")
    app = await stored(w, app_id)
    assert (app.status, app.named_as) == ("approved", "港口设备创新工作室")

    # The applicant was told at each step, each notice received once, in order.
    named = await notice(api, APPLICANT, lambda m: "港口设备创新工作室" in (m.text or ""))
    all_rows = await settled(w)
    assert all(r.sent_at is not None and r.given_up_at is None for r in all_rows)
    mine = [r for r in all_rows if r.external_id == str(APPLICANT)]
    # (Submitting is answered in the chat directly; the outbox tells of the decisions.)
    assert applicant_outcomes(mine, app_id) == ["routed", "returned", "routed", "named"]
    received = [m.text for m in api.sent_to(APPLICANT)]
    for row in mine:
        assert received.count(row.text) == 1, row.dedupe_key
    assert named.text == mine[-1].text
    # Each reviewer got exactly their cards (level 1: the two versions, and the second
    # again in answer to the old card's press); every press was answered.
    assert [len(cards(api, uid)) for uid in LEVEL_REVIEWERS] == [1, 3, 1]
    assert api.unanswered_callbacks() == []
    acts = await audit(w, app_id)
    assert acts.count(AuditAct.SUBMITTED.value) == 2
    assert acts.count(AuditAct.RETURNED.value) == 1
    assert acts.count(AuditAct.APPROVED.value) == 3
    assert acts[-1] == AuditAct.NAMED.value


# --------------------------------------------------------------------------- forged presses


async def test_forged_callbacks_are_answered_and_change_nothing(world: World) -> None:
    w, api = world, world.api
    await staff_levels(w)
    app_id = await declare(w, APPLICANT, "申报人甲")
    other_id = await declare(w, APPLICANT_2, "申报人乙")
    r0, _r1, r2 = LEVEL_REVIEWERS
    await nth_card(api, r0, 2)
    card = next(m for m in cards(api, r0) if button(m, Action.REVIEW_APPROVE).p == app_id)
    approve = button(card, Action.REVIEW_APPROVE)
    [other_task] = [t for t in await tasks(w, other_id) if t.level == 0]
    await settled(w)
    before_tasks = [(t.id, t.state) for t in await tasks(w, app_id) + await tasks(w, other_id)]
    before_audit = await audit(w, app_id) + await audit(w, other_id)
    before_rows = len(await outbox_rows(w))

    def forged(**change: Any) -> str:
        return approve.model_copy(update=change).pack()

    gone = ZH.t("review.refused.gone")
    expected = {
        # another declaration's task under this declaration's button
        forged(g=other_task.id or 0): gone,
        # no such task, at the top of what the callback data may carry
        forged(g=2**31 - 1): gone,
        # a negative task number
        forged(g=-1): ZH.t("review.refused.stale"),
        # numbers beyond any column, and data that is not ours: unreadable
        f"d2:{int(Action.REVIEW_APPROVE)}:{2**40}:{app_id}:1:": ZH.t("bot.stale"),
        f"d2:{int(Action.REVIEW_APPROVE)}:{approve.g}:{2**40}:1:": ZH.t("bot.stale"),
        f"d2:{int(Action.REVIEW_APPROVE)}:{approve.g}:{app_id}:{2**63}:": ZH.t("bot.stale"),
        "d2:28:abc": ZH.t("bot.stale"),
    }
    for forgery in expected:
        api.press(r0, card, forgery)
    await api.settle(timeout=20)
    for forgery, toast in expected.items():
        assert toast_of(api, forgery) == toast, forgery
    # The genuine button, pressed by a reviewer of another level (from their own chat).
    genuine = approve.pack()
    welcome = api.sent_to(r2)[0]
    await press(api, r2, welcome, genuine)
    assert toast_of(api, genuine) == ZH.t("review.refused.forbidden")
    # The version slot forged: a version that never was.
    future = forged(r=7)
    await press(api, r0, card, future)
    assert toast_of(api, future) == ZH.t("review.refused.stale")

    assert api.unanswered_callbacks() == []
    assert (await person(w, r0)).pending == {}
    assert (await person(w, r2)).pending == {}
    after_tasks = [(t.id, t.state) for t in await tasks(w, app_id) + await tasks(w, other_id)]
    assert after_tasks == before_tasks
    assert await audit(w, app_id) + await audit(w, other_id) == before_audit
    assert len(await outbox_rows(w)) == before_rows
    # The real card still works afterwards.
    await decide(w, r0, card, Action.REVIEW_APPROVE, "同意推荐")
    assert (await stored(w, app_id)).review_level == 1


# --------------------------------------------------------------------------- 403 and 429


async def test_a_reviewer_who_blocked_the_bot_is_marked_and_the_others_get_their_cards(
    world: World,
) -> None:
    w, api = world, world.api
    blocked, colleague, admin = 7101, 7102, 7109
    await join(w, blocked, CHAIN[0], "屏蔽者")
    await join(w, colleague, CHAIN[0], "同事")
    await join(w, admin, CHAIN[0], "工会主席", StaffRole.ADMIN)
    api.block_user(blocked)
    since = len(api.calls)
    app_id = await declare(w, APPLICANT, "申报人甲")

    card = await nth_card(api, colleague, 1)
    assert button(card, Action.REVIEW_APPROVE).p == app_id
    await nth_card(api, admin, 1)  # an administrator decides too
    blocked_name = (await person(w, blocked)).display_name
    told = ZH.t("outbox.unreachable", name=blocked_name, channel=channel_name(ZH, "telegram"))
    await notice(api, admin, lambda m: m.text == told)
    all_rows = await settled(w)
    [lost] = [r for r in all_rows if r.external_id == str(blocked)]
    assert lost.given_up_at is not None
    assert lost.sent_at is None
    assert "blocked" in lost.last_error
    [identity] = await rows(w, ChannelIdentity, ChannelIdentity.external_id == str(blocked))
    assert identity.unreachable_at is not None
    # Tried once: a 403 is not retried.
    to_blocked = [
        c
        for c in api.calls[since:]
        if c.method == "sendmessage" and str(c.params.get("chat_id")) == str(blocked)
    ]
    assert [c.status for c in to_blocked] == [403]
    assert all(r.sent_at is not None for r in all_rows if r is not lost)

    # The colleague decides; the chain goes on.
    await decide(w, colleague, card, Action.REVIEW_APPROVE, "同意推荐")
    app = await stored(w, app_id)
    assert (app.status, app.review_level) == ("in_review", 1)
    [level0] = [t for t in await tasks(w, app_id) if t.level == 0]
    assert level0.decided_by == (await person(w, colleague)).id
    passed = await notice(api, APPLICANT, lambda m: Action.TIMELINE in offered(m))
    assert "同意推荐" in (passed.text or "")
    assert api.unanswered_callbacks() == []


async def test_a_flood_limit_delays_a_card_and_does_not_double_it(world: World) -> None:
    w, api = world, world.api
    r0 = LEVEL_REVIEWERS[0]
    await join(w, r0, CHAIN[0], "审核员")
    api.flood_next("sendMessage", retry_after=2)  # the sender's next message gets 429
    app_id = await declare(w, APPLICANT, "申报人甲")

    card = await nth_card(api, r0, 1)
    all_rows = await settled(w)
    assert all(r.sent_at is not None for r in all_rows)
    calls = api.calls_to("sendMessage")
    [flooded] = [c for c in calls if c.status == 429]
    assert w.sender.stats.floods == 1
    # The flooded message went once, after the pause; nothing went twice.
    [row] = [r for r in all_rows if r.external_id == str(flooded.params["chat_id"])]
    assert row.sent_at is not None
    assert row.sent_at - row.created_at >= dt.timedelta(seconds=2)
    texts_sent = [c.params.get("text") for c in calls if c.status == 200]
    assert texts_sent.count(flooded.params.get("text")) == 1
    for r in all_rows:
        assert [m.text for m in api.sent_to(int(r.external_id))].count(r.text) == 1
    assert len(cards(api, r0)) == 1
    # The delayed card is as good as any.
    await decide(w, r0, card, Action.REVIEW_APPROVE, "同意推荐")
    assert (await stored(w, app_id)).review_level == 1
    assert api.unanswered_callbacks() == []
