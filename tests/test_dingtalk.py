"""The DingTalk channel against the fake DingTalk, with the real ``dingtalk-stream`` SDK.

The channel runs as ``studiobot run`` runs it (``dingtalk.app.run_stream``):
it opens a connection at the fake gateway, receives frames over the
WebSocket, replies through the fake OpenAPI and ACKs each frame once its
answer is committed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from dialogs.i18n import Locale
from dialogs.loader import load_registry
from dialogs.reminding import plan_and_write
from dialogs.service import Conversation
from dialogs.ui import (
    Action,
    Button,
    ButtonIn,
    CommandIn,
    Inbound,
    Outcome,
    Reply,
    TextIn,
    UpdateKey,
    UserRef,
)
from dingtalk import payload
from dingtalk.app import run_stream
from dingtalk.config import DingTalkConfig
from reminders.plan import Window
from review import invites, orgs
from storage import outbox, staff
from storage.db import SessionFactory
from storage.models import (
    Application,
    ChannelIdentity,
    OutboxMessage,
    OutboxPriority,
    ReviewTask,
    StaffRole,
)
from studiobot.app import build_conversation
from studiobot.settings import Settings
from tests.fakedingtalk import FakeDingTalk, Sent
from tests.walkthrough import Applicant, Press, Text, Upload

REGISTRY = load_registry()
NOW = dt.datetime(2026, 5, 20, 2, 0, tzinfo=dt.UTC)


STARTED = dt.datetime.now(dt.UTC)


def sender_clock() -> dt.datetime:
    """The sender's clock: the conversation's day, running at the real pace (a row
    waits for its moment and a retry for its delay, as in production)."""
    return NOW + (dt.datetime.now(dt.UTC) - STARTED)


@dataclass
class Running:
    fake: FakeDingTalk
    sessions: SessionFactory
    task: asyncio.Task[None]
    conversation: Conversation


def config_for(fake: FakeDingTalk, *, cards: bool = True) -> DingTalkConfig:
    return DingTalkConfig(
        client_id=fake.client_id,
        client_secret=fake.secret,
        api_url=fake.url,
        gateway_url=fake.url,
        oapi_url=fake.url,
        card_template_id="studiobot.card" if cards else "",
        backoff=0.05,
        backoff_cap=0.2,
        connect_timeout=1.0,
    )


@pytest.fixture
async def running(database_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    fake = await FakeDingTalk().start()
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data")
    conversation, engine = await build_conversation(settings, clock=lambda: NOW)
    task = asyncio.create_task(
        run_stream(config_for(fake), conversation, outbox=conversation.sessions, clock=sender_clock)
    )
    await asyncio.wait_for(fake.connected.wait(), 10)
    try:
        yield Running(fake, conversation.sessions, task, conversation)
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await engine.dispose()
        await fake.stop()


async def application(
    sessions: SessionFactory, user_id: str, program_id: str
) -> Application | None:
    async with sessions() as session:
        result = await session.execute(
            select(Application)
            .join(ChannelIdentity, ChannelIdentity.person_id == Application.user_id)  # type: ignore[arg-type]
            .where(ChannelIdentity.channel == "dingtalk", ChannelIdentity.external_id == user_id)
            .where(Application.program_id == program_id)
        )
        return result.scalars().first()


def last_card(fake: FakeDingTalk, user_id: str) -> Sent:
    return next(s for s in reversed(fake.sent_to(user_id)) if s.card)


def find_button(
    fake: FakeDingTalk, user_id: str, action: Action, arg: int = 0, key: str = ""
) -> tuple[str, str]:
    """The payload of the newest card's button doing this and that card's id."""
    card = last_card(fake, user_id)
    for button in card.buttons:
        press = payload.unpack(button["payload"])
        if press and (press.action, press.arg, press.key) == (action, arg, key):
            return button["payload"], card.track
    raise AssertionError(f"no button {action!r} {arg} {key!r} on the last card")


def find_payload(
    fake: FakeDingTalk, user_id: str, action: Action, arg: int = 0, key: str = ""
) -> str:
    """The payload of the newest card's button doing this, as a person taps it."""
    for button in last_card(fake, user_id).buttons:
        press = payload.unpack(button["payload"])
        if press and (press.action, press.arg, press.key) == (action, arg, key):
            return button["payload"]
    raise AssertionError(f"no button {action!r} {arg} {key!r} on the last card")


async def open_program(fake: FakeDingTalk, user_id: str, program_id: str) -> None:
    await fake.acked(await fake.text(user_id, "/apply"))
    await fake.acked(
        await fake.press(user_id, find_payload(fake, user_id, Action.PICK_PROGRAM, key=program_id))
    )


async def walk(
    running: Running,
    user_id: str,
    program_id: str,
    stop_after: int | None = None,
    unit: str = "申报单位示例",
) -> int:
    """Answer as the scripted applicant until submitted (or ``stop_after`` moves)."""
    program = REGISTRY.get(program_id)
    assert program is not None
    applicant = Applicant(program, NOW.date(), unit=unit)
    moves = 0
    fake = running.fake
    while stop_after is None or moves < stop_after:
        app = await application(running.sessions, user_id, program_id)
        assert app is not None
        if app.submission_no >= 1:
            return moves
        move = applicant.next_move(app.answers, app.cursor)
        if isinstance(move, Text):
            frame = await fake.text(user_id, move.text)
        elif isinstance(move, Upload):
            frame = await fake.upload(user_id, move.data, move.file_name, move.mime_type)
        else:
            assert isinstance(move, Press)
            data, track = find_button(fake, user_id, move.action, move.arg, move.key)
            frame = await fake.press(user_id, data, track=track)
        ack = await fake.acked(frame)
        assert ack["code"] == 200
        moves += 1
        assert moves < 800, "the walk does not end"
    return moves


@pytest.mark.parametrize("program_id", sorted(REGISTRY.programs))
async def test_each_program_declared_in_dingtalk(running: Running, program_id: str) -> None:
    """Photos and files downloaded through the robot API; every reply within limits."""
    user = f"lead-{program_id}"
    await open_program(running.fake, user, program_id)
    moves = await walk(running, user, program_id)
    assert moves > 10
    app = await application(running.sessions, user, program_id)
    assert app is not None
    assert app.submission_no == 1
    assert all(len(s.text) <= 5000 for s in running.fake.sent)
    program = REGISTRY.get(program_id)
    assert program is not None
    uploads = [q for _, q in program.questions() if q.type in ("photo", "file") and q.required]
    assert running.fake.downloads >= (1 if uploads else 0)


async def test_a_tick_changes_the_card_in_place(running: Running) -> None:
    program_id = "cccc-model"  # with a multiple choice
    await open_program(running.fake, "staff14", program_id)
    await walk(running, "staff14", program_id)
    app = await application(running.sessions, "staff14", program_id)
    assert app is not None
    assert app.submission_no == 1
    assert any(s.updates for s in running.fake.sent_to("staff14"))


async def test_a_voice_message_is_answered_and_the_draft_kept(running: Running) -> None:
    fake = running.fake
    await open_program(fake, "staff15", "dalian-worker")
    before = await application(running.sessions, "staff15", "dalian-worker")
    sent = len(fake.sent_to("staff15"))
    voice = {"msgtype": "audio", "content": {"downloadCode": "v1", "duration": 3}}
    await fake.acked(await fake.message("staff15", voice))
    assert len(fake.sent_to("staff15")) > sent  # a hint, then the question again
    after = await application(running.sessions, "staff15", "dalian-worker")
    assert before is not None
    assert after is not None
    assert after.answers == before.answers


async def test_a_ping_is_answered_with_its_data(running: Running) -> None:
    frame = await running.fake.ping()
    ack = await running.fake.acked(frame)
    assert ack["code"] == 200
    assert json.loads(ack["data"]) == {"opaque": frame}


async def test_a_reply_lost_to_the_network_comes_again(running: Running) -> None:
    fake = running.fake
    await open_program(fake, "staff16", "dalian-worker")
    shown = len(fake.sent_to("staff16"))
    fake.broken = 1
    frame = await fake.text("staff16", "创新工作室乙", msg_id="answer-1")
    with pytest.raises(TimeoutError):
        await fake.acked(frame, wait=0.5)  # not acknowledged: DingTalk sends it again
    assert len(fake.sent_to("staff16")) == shown
    saved = await application(running.sessions, "staff16", "dalian-worker")
    await fake.acked(await fake.text("staff16", "创新工作室乙", msg_id="answer-1"))
    assert len(fake.sent_to("staff16")) > shown  # where the person is, shown again
    again = await application(running.sessions, "staff16", "dalian-worker")
    assert saved is not None
    assert again is not None
    assert (again.revision, again.answers) == (saved.revision, saved.answers)


async def test_a_repeated_message_is_handled_once(running: Running) -> None:
    fake = running.fake
    await open_program(fake, "staff02", "dalian-worker")
    app = await application(running.sessions, "staff02", "dalian-worker")
    assert app is not None
    first = await fake.text("staff02", "创新工作室甲", msg_id="same")
    await fake.acked(first)
    after_first = await application(running.sessions, "staff02", "dalian-worker")
    again = await fake.text("staff02", "创新工作室甲", msg_id="same")
    await fake.acked(again)
    after_again = await application(running.sessions, "staff02", "dalian-worker")
    assert after_first is not None
    assert after_again is not None
    assert after_again.revision == after_first.revision
    assert after_again.answers == after_first.answers


async def test_forged_or_stale_presses_change_nothing(running: Running) -> None:
    fake = running.fake
    await open_program(fake, "staff03", "dalian-worker")
    before = await application(running.sessions, "staff03", "dalian-worker")
    assert before is not None
    for forged in ["k1:9999:0:0:0:", "k1:4:0:99999999999:0:", "d2:4:0:1:1:", "k1:4:0:1:1:a b", 7]:
        await fake.acked(await fake.press("staff03", forged))
    stale = payload.pack(Button("x", Action.SKIP), application_id=before.id or 0, revision=0)
    await fake.acked(await fake.press("staff03", stale))
    after = await application(running.sessions, "staff03", "dalian-worker")
    assert after is not None
    assert (after.revision, after.answers) == (before.revision, before.answers)


@pytest.mark.parametrize(
    "forged",
    [
        "k1:9999:0:0:0:",
        "k1:1:0:-1:0:",
        "k1:1:0:0:2147483648:",
        "k1:1:1:1:1:" + "k" * 25,
        "",
        None,
        "k1:1:0:0:0",
    ],
)
def test_payload_checks(forged: object) -> None:
    assert payload.unpack(forged) is None


def test_payload_round_trip() -> None:
    button = Button("go", Action.PICK_PROGRAM, -5, "dalian-worker")
    press = payload.unpack(payload.pack(button, application_id=2**31 - 1, revision=7))
    assert press is not None
    assert (press.action, press.arg, press.application_id, press.revision, press.key) == (
        Action.PICK_PROGRAM, -5, 2**31 - 1, 7, "dalian-worker",
    )  # fmt: skip


async def test_a_declaration_survives_reconnects(running: Running) -> None:
    fake = running.fake
    await open_program(fake, "staff04", "dalian-worker")
    await walk(running, "staff04", "dalian-worker", stop_after=5)
    opens = fake.opens
    await fake.drop()  # lost without notice; the next open fails, then one hangs
    fake.fail_opens = 1
    fake.hang_opens = 1
    await asyncio.wait_for(fake.connected.wait(), 15)
    assert fake.opens >= opens + 3
    await fake.disconnect()  # DingTalk's announced close
    await asyncio.sleep(0.1)
    await asyncio.wait_for(fake.connected.wait(), 15)
    await walk(running, "staff04", "dalian-worker", stop_after=5)
    app = await application(running.sessions, "staff04", "dalian-worker")
    assert app is not None
    assert app.answers


async def person_of(sessions: SessionFactory, user_id: str) -> ChannelIdentity:
    async with sessions() as session:
        found = await session.execute(
            select(ChannelIdentity).where(
                ChannelIdentity.channel == "dingtalk", ChannelIdentity.external_id == user_id
            )
        )
        return found.scalars().one()


async def notify(sessions: SessionFactory, person_id: int, key: str, *, button: bool) -> None:
    """A notice as the review flow writes one: a row of the outbox."""
    buttons = [[Button("查看", Action.INBOX)]] if button else []
    async with sessions() as session, session.begin():
        await outbox.enqueue(
            session, person_id=person_id, text=f"通知 {key}", buttons=buttons,
            priority=OutboxPriority.PERSONAL, dedupe_key=key, now=NOW,
        )  # fmt: skip


async def row(sessions: SessionFactory, key: str) -> OutboxMessage:
    async with sessions() as session:
        found = await session.execute(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
        return found.scalars().one()


async def settled(sessions: SessionFactory, key: str) -> OutboxMessage:
    for _ in range(200):
        message = await row(sessions, key)
        if message.sent_at or message.given_up_at:
            return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"row {key} neither sent nor given up")


async def test_notices_leave_through_the_outbox(running: Running) -> None:
    fake = running.fake
    await fake.acked(await fake.text("staff05", "/help"))
    identity = await person_of(running.sessions, "staff05")
    await notify(running.sessions, identity.person_id, "notice-1", button=True)
    await notify(running.sessions, identity.person_id, "notice-2", button=False)
    assert (await settled(running.sessions, "notice-1")).sent_at is not None
    assert (await settled(running.sessions, "notice-2")).sent_at is not None
    sent = fake.sent_to("staff05")
    card = next(s for s in sent if "notice-1" in s.text)
    assert card.card
    press = payload.unpack(card.buttons[0]["payload"])
    assert press is not None
    assert press.action == Action.INBOX
    assert any("notice-2" in s.text and not s.card for s in sent)


async def test_a_long_notice_cut_off_between_parts_sends_only_the_rest(running: Running) -> None:
    fake = running.fake
    await fake.acked(await fake.text("staff06", "/help"))
    identity = await person_of(running.sessions, "staff06")
    fake.break_at = len(fake.sent) + 1  # the second part meets an outage
    async with running.sessions() as session, session.begin():
        await outbox.enqueue(
            session, person_id=identity.person_id, text="通知。" * 1500,
            priority=OutboxPriority.PERSONAL, dedupe_key="long-1", now=NOW,
        )  # fmt: skip
    message = await settled(running.sessions, "long-1")
    assert message.sent_at is not None
    assert message.attempts == 2  # the outage cut it off after its first part
    parts = [s.text for s in fake.sent_to("staff06") if "通知" in s.text]
    assert message.parts_sent == len(parts) == 2  # 4,500 characters in two parts
    assert "".join(parts).count("通知") == 1500  # the first part not sent again


async def test_the_token_is_kept_and_asked_again_when_refused(running: Running) -> None:
    fake = running.fake
    for n in range(3):
        await fake.acked(await fake.text("staff13", f"/help {n}"))
    assert fake.token_requests == 1
    fake.tokens.clear()  # revoked (or the app's secret was reset)
    await fake.acked(await fake.text("staff13", "/help"))
    assert fake.token_requests == 2
    assert len(fake.sent_to("staff13")) == 4


async def test_a_rate_limit_delays_and_an_unknown_person_is_marked(running: Running) -> None:
    fake = running.fake
    await fake.acked(await fake.text("staff06", "/help"))
    await fake.acked(await fake.text("staff07", "/help"))
    six = await person_of(running.sessions, "staff06")
    seven = await person_of(running.sessions, "staff07")
    fake.throttle = 1
    await notify(running.sessions, six.person_id, "throttled", button=False)
    delivered = await settled(running.sessions, "throttled")
    assert delivered.sent_at is not None
    assert delivered.attempts == 2
    fake.invalid_staff.add("staff07")
    await notify(running.sessions, seven.person_id, "left", button=False)
    refused = await settled(running.sessions, "left")
    assert refused.given_up_at is not None
    assert (await person_of(running.sessions, "staff07")).unreachable_at is not None


class Flaky:
    """A conversation whose first answer fails (the database went away, say)."""

    def __init__(self) -> None:
        self.calls: list[tuple[UserRef, Inbound, UpdateKey | None]] = []

    async def handle(
        self, user: UserRef, event: Inbound, *, update_key: UpdateKey | None = None
    ) -> Outcome:
        self.calls.append((user, event, update_key))
        if len(self.calls) == 1:
            raise RuntimeError("database unavailable")
        return Outcome([Reply("ok")])


async def test_a_message_is_acknowledged_only_once_answered() -> None:
    fake = await FakeDingTalk().start()
    flaky = Flaky()
    task = asyncio.create_task(run_stream(config_for(fake), flaky))
    try:
        frame = await fake.text("staff08", "你好", msg_id="m-1")
        with pytest.raises(TimeoutError):
            await fake.acked(frame, wait=0.5)
        assert fake.sent_to("staff08") == []
        again = await fake.text("staff08", "你好", msg_id="m-1")  # DingTalk delivers it again
        assert (await fake.acked(again))["code"] == 200
        assert [s.text for s in fake.sent_to("staff08")] == ["ok"]
        user, event, key = flaky.calls[-1]
        assert (user.channel, user.external_id, user.display_name) == (
            "dingtalk", "staff08", "用户staff08",
        )  # fmt: skip
        assert event == TextIn("你好")
        assert key == ("dingtalk", "m-1")
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await fake.stop()


async def test_without_a_card_template_buttons_are_typed_numbers(
    database_url: str, tmp_path: Path
) -> None:
    fake = await FakeDingTalk().start()
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data")
    conversation, engine = await build_conversation(settings, clock=lambda: NOW)
    config = config_for(fake, cards=False)
    task = asyncio.create_task(run_stream(config, conversation, outbox=conversation.sessions))
    try:
        await fake.acked(await fake.text("staff09", "/apply"))
        menu = fake.sent_to("staff09")[-1]
        assert not menu.card
        line = next(x for x in menu.text.splitlines() if "大连市总工会" in x and "职工" in x)
        number = line.split(".", 1)[0]
        await fake.acked(await fake.text("staff09", number))
        app = await application(conversation.sessions, "staff09", "dalian-worker")
        assert app is not None
        await fake.acked(await fake.text("staff09", "999"))  # no such button: typed text
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await engine.dispose()
        await fake.stop()


CODE = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}")


async def test_one_person_on_telegram_and_dingtalk(running: Running) -> None:
    telegram = UserRef("telegram", "4242", "Lin")
    handle = running.conversation.handle
    await handle(telegram, CommandIn("apply"))
    picked = await handle(telegram, ButtonIn(Action.PICK_PROGRAM, 0, 0, 0, "dalian-worker"))
    assert picked.replies
    asked = await handle(telegram, CommandIn("link"))
    found = CODE.search(asked.replies[-1].text)
    assert found is not None
    fake = running.fake
    await fake.acked(await fake.text("staff10", f"/link {found.group(0).lower()}"))
    mine = await application(running.sessions, "staff10", "dalian-worker")
    assert mine is not None  # the Telegram draft, seen from DingTalk
    async with running.sessions() as session:
        ids = await session.execute(
            select(ChannelIdentity.channel).where(ChannelIdentity.person_id == mine.user_id)
        )
        assert sorted(ids.scalars()) == ["dingtalk", "telegram"]
    # Used once; and an account with a declaration of its own is never merged.
    await fake.acked(await fake.text("staff11", f"/link {found.group(0)}"))
    assert (await person_of(running.sessions, "staff11")).person_id != mine.user_id
    await open_program(fake, "staff12", "dalian-worker")
    second = CODE.search((await handle(telegram, CommandIn("link"))).replies[-1].text)
    assert second is not None
    await fake.acked(await fake.text("staff12", f"/link {second.group(0)}"))
    assert (await person_of(running.sessions, "staff12")).person_id != mine.user_id


EXAMPLES = Path(__file__).resolve().parent.parent / "review" / "examples"


async def test_a_reviewer_decides_from_a_dingtalk_card(running: Running) -> None:
    fake, sessions = running.fake, running.sessions
    async with sessions() as session, session.begin():
        await orgs.import_file(session, path=EXAMPLES / "dalian.yaml", now=NOW)
        org = await staff.organisation(session, code="dl-xg-gk-gh")
        assert org is not None
        invited = await invites.create(
            session, organisation=org, role=StaffRole.REVIEWER, days=7, now=NOW
        )
    await fake.acked(await fake.text("rev0", f"/start {invited.token}"))
    await open_program(fake, "lead0", "dalian-worker")
    await walk(running, "lead0", "dalian-worker", unit="大连港口设备有限公司")
    app = await application(sessions, "lead0", "dalian-worker")
    assert app is not None
    assert app.status == "in_review"
    for _ in range(200):  # the reviewer's card comes through the outbox
        offered = [payload.unpack(b["payload"]) for s in fake.sent_to("rev0") for b in s.buttons]
        if any(p and p.action == Action.REVIEW_APPROVE for p in offered):
            break
        await asyncio.sleep(0.05)
    approve = find_payload(fake, "rev0", Action.REVIEW_APPROVE, *approve_of(fake, "rev0"))
    await fake.acked(await fake.press("rev0", approve))
    await fake.acked(await fake.text("rev0", "同意推荐"))
    async with sessions() as session:
        found = await session.execute(
            select(ReviewTask).where(ReviewTask.application_id == app.id, ReviewTask.level == 0)
        )
        task = found.scalars().one()
    assert (task.state, task.opinion) == ("approved", "同意推荐")


def approve_of(fake: FakeDingTalk, user_id: str) -> tuple[int, str]:
    """The arg and key of the newest card's 同意 button."""
    for button in last_card(fake, user_id).buttons:
        press = payload.unpack(button["payload"])
        if press and press.action == Action.REVIEW_APPROVE:
            return press.arg, press.key
    raise AssertionError("no 同意 on the last card")


async def test_a_deadline_reminder_reaches_dingtalk(running: Running) -> None:
    """Dalian 001's July 31 comes near: the tick plans the leader's reminder into the
    outbox, and the DingTalk sender delivers it with the button that resumes the draft."""
    fake, sessions = running.fake, running.sessions
    await open_program(fake, "lead7", "dalian-model")
    app = await application(sessions, "lead7", "dalian-model")
    assert app is not None
    week_before = dt.datetime(2026, 7, 24, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    written = await plan_and_write(
        sessions,
        registry=REGISTRY,
        loc=Locale("zh-CN"),
        window=Window(zone=ZoneInfo("Asia/Shanghai")),
        now=week_before,
    )
    assert written >= 1
    async with sessions() as session, session.begin():  # the week has passed: it is due
        rows = (await session.execute(select(OutboxMessage))).scalars().all()
        reminders = [r for r in rows if r.application_id == app.id]
        assert reminders
        for r in reminders:
            r.not_before = NOW
    for r in reminders:
        assert (await settled(sessions, r.dedupe_key)).sent_at is not None
    resumes = [payload.unpack(b["payload"]) for s in fake.sent_to("lead7") for b in s.buttons]
    assert any(p and (p.action, p.arg) == (Action.RESUME, app.id) for p in resumes)


async def test_the_form_arrives_in_dingtalk_as_files(running: Running) -> None:
    """下载申报表 in DingTalk: the Word file (and the PDF where LibreOffice is) uploaded
    and sent as files, their bytes as made."""
    fake = running.fake
    await open_program(fake, "lead8", "dalian-worker")
    await walk(running, "lead8", "dalian-worker")
    app = await application(running.sessions, "lead8", "dalian-worker")
    assert app is not None
    await fake.acked(await fake.text("lead8", "/status"))
    await fake.acked(
        await fake.press("lead8", find_payload(fake, "lead8", Action.TIMELINE, app.id or 0))
    )
    await fake.acked(
        await fake.press("lead8", find_payload(fake, "lead8", Action.FORM_OWN, app.id or 0))
    )
    files = [s for s in fake.sent_to("lead8") if s.file is not None]
    assert files
    assert files[0].text.endswith(".docx")
    assert files[0].file is not None
    assert files[0].file[:2] == b"PK"
