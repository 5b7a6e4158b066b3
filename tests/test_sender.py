"""The Telegram sender on a real database with a fake bot and a fake clock: order by
priority, pacing (overall and per chat), 429, 403, network errors, crashes and two
senders, all in simulated time (sleeping advances the clock, nothing waits)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendMessage
from aiogram.types import InlineKeyboardMarkup
from sqlmodel import col, select

from bot.callbacks import DialogCallback
from bot.sender import OutboxSender, SenderConfig, classify
from dialogs.ui import Action, Button
from storage import outbox
from storage.db import SessionFactory, create_engine, session_factory
from storage.migrate import upgrade_to_head
from storage.models import Membership, Organisation, OutboxMessage, OutboxPriority, StaffRole
from tests.test_outbox import T0, person, put, rows

PERSONAL, BULK = OutboxPriority.PERSONAL, OutboxPriority.BULK


class FakeTime:
    """A clock that moves only when someone sleeps."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def clock(self) -> dt.datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)
        await asyncio.sleep(0)

    def seconds(self, moment: dt.datetime | None = None) -> float:
        return ((moment or self.now) - T0).total_seconds()


@dataclass
class Sent:
    at: float
    chat_id: int
    text: str
    markup: InlineKeyboardMarkup | None


@dataclass
class FakeBot:
    """Records sends at the fake time; ``faults`` (per chat, or None for any) fail
    the next sends, in order; ``on_send`` runs after each accepted one."""

    time: FakeTime
    sent: list[Sent] = field(default_factory=list)
    calls: int = 0
    faults: dict[int | None, list[Exception]] = field(default_factory=dict)
    on_send: Callable[[Sent], Awaitable[None]] | None = None

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        parse_mode: str | None = None,
        reply_markup: InlineKeyboardMarkup | None = None,
        request_timeout: int | None = None,
    ) -> Any:
        self.calls += 1
        called = self.time.seconds()  # when the request leaves
        await asyncio.sleep(0)
        for key in (chat_id, None):
            if self.faults.get(key):
                raise self.faults[key].pop(0)
        sent = Sent(called, chat_id, text, reply_markup)
        self.sent.append(sent)
        if self.on_send is not None:
            await self.on_send(sent)
        return True

    def texts(self) -> list[str]:
        return [s.text for s in self.sent]


METHOD = SendMessage(chat_id=1, text="x")


def flood(seconds: int) -> Exception:
    return TelegramRetryAfter(METHOD, f"Too Many Requests: retry after {seconds}", seconds)


def blocked() -> Exception:
    return TelegramForbiddenError(METHOD, "Forbidden: bot was blocked by the user")


def timeout() -> Exception:
    return TelegramNetworkError(METHOD, "Request timeout error")


def make_sender(sessions: SessionFactory, bot: FakeBot, **config: Any) -> OutboxSender:
    return OutboxSender(
        sessions, bot, config=SenderConfig(**config), clock=bot.time.clock, sleep=bot.time.sleep
    )


async def run_until(
    sender: OutboxSender,
    done: Callable[[], Awaitable[bool] | bool],
    timeout: float = 30,  # noqa: ASYNC109 - real seconds of patience
) -> None:
    """Run the sender until ``done()`` holds (real seconds of patience), then stop it."""
    sender.start()
    try:
        async with asyncio.timeout(timeout):
            while True:
                result = done()
                if result if isinstance(result, bool) else await result:
                    break
                await asyncio.sleep(0.005)
    finally:
        await sender.stop()


async def people(sessions: SessionFactory, count: int, first: int = 1) -> list[int]:
    return [await person(sessions, str(n)) for n in range(first, first + count)]


def delivered(bot: FakeBot, count: int) -> Callable[[], bool]:
    return lambda: len(bot.sent) >= count


async def settled(sessions: SessionFactory) -> bool:
    """No row is left to send or being sent."""
    return all(r.sent_at or r.given_up_at for r in await rows(sessions))


# --------------------------------------------------------------------------- order


async def test_a_personal_row_goes_before_500_bulk_rows(sessions: SessionFactory) -> None:
    readers = await people(sessions, 50)
    for n in range(500):
        await put(sessions, readers[n % 50], f"bulk:{n}", BULK, text=f"bulk {n}")
    late = await person(sessions, "777")
    await put(sessions, late, "decision", PERSONAL, text="您的申报已通过")
    bot = FakeBot(FakeTime())
    await run_until(make_sender(sessions, bot), delivered(bot, 20))
    assert "您的申报已通过" in bot.texts()[:3]


async def test_a_personal_row_arriving_mid_broadcast_waits_seconds_at_most(
    sessions: SessionFactory,
) -> None:
    readers = await people(sessions, 100)
    for n in range(1000):
        await put(sessions, readers[n % 100], f"bulk:{n}", BULK, text=f"bulk {n}")
    late = await person(sessions, "777")
    time = FakeTime()
    enqueued: list[float] = []

    async def decide(sent: Sent) -> None:
        if len(bot.sent) == 200:  # 8 s into the broadcast, a reviewer decides
            enqueued.append(time.seconds())
            await put(sessions, late, "decision", PERSONAL, text="您的申报已通过", now=time.now)

    bot = FakeBot(time, on_send=decide)
    await run_until(make_sender(sessions, bot), lambda: "您的申报已通过" in bot.texts())
    [decision] = [s for s in bot.sent if s.text == "您的申报已通过"]
    assert decision.at - enqueued[0] <= 2.0  # behind at most the bulk already in hand


# --------------------------------------------------------------------------- pace


def most_in_any_window(times: list[float], window: float) -> int:
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


async def test_the_overall_rate_is_kept_and_reached(sessions: SessionFactory) -> None:
    readers = await people(sessions, 200)
    for n, who in enumerate(readers):
        await put(sessions, who, f"r:{n}", BULK)
    bot = FakeBot(FakeTime())
    sender = make_sender(sessions, bot, rate=25)
    await run_until(sender, delivered(bot, 200))
    times = [s.at for s in bot.sent]
    assert most_in_any_window(times, 1.0) <= 25 + sender.config.burst_size + 1
    achieved = (len(times) - 1) / (times[-1] - times[0])
    assert achieved >= 0.95 * 25
    assert len(set(bot.texts())) == 200


async def test_one_chat_gets_one_message_a_second(sessions: SessionFactory) -> None:
    busy, *others = await people(sessions, 11)
    for n in range(5):
        await put(sessions, busy, f"busy:{n}", PERSONAL, text=f"busy {n}")
    for n, who in enumerate(others):
        await put(sessions, who, f"other:{n}", BULK, text=f"other {n}")
    bot = FakeBot(FakeTime())
    await run_until(make_sender(sessions, bot, rate=25), delivered(bot, 15))
    chat = [s for s in bot.sent if s.chat_id == 1]
    assert [s.text for s in chat] == [f"busy {n}" for n in range(5)]  # in order
    gaps = [b.at - a.at for a, b in itertools.pairwise(chat)]
    assert min(gaps) >= 1.0
    # The other chats did not wait for the busy one.
    assert max(s.at for s in bot.sent if s.chat_id != 1) < 1.0


async def test_a_long_text_goes_in_parts_a_second_apart_buttons_last(
    sessions: SessionFactory,
) -> None:
    who = await person(sessions, "1001")
    text = "\n".join(f"第{n}段：" + "申报内容" * 200 for n in range(8))  # ~6,500 characters
    buttons = [[Button("查看全文", Action.STATUS, 0, "full")]]
    await put(sessions, who, "long", PERSONAL, text=text, buttons=buttons, revision=3)
    bot = FakeBot(FakeTime())
    await run_until(make_sender(sessions, bot), lambda: settled(sessions))
    assert len(bot.sent) == 2
    first, last = bot.sent
    assert first.text + "\n" + last.text == text or first.text + last.text == text
    assert first.markup is None
    assert last.markup is not None
    [[button]] = last.markup.inline_keyboard
    assert button.text == "查看全文"
    assert button.callback_data is not None
    data = DialogCallback.unpack(button.callback_data)
    assert (data.a, data.k, data.r, data.p) == (Action.STATUS, "full", 3, 0)
    assert last.at - first.at >= 1.0


# --------------------------------------------------------------------------- refusals


async def test_429_waits_retry_after_and_slows_down(sessions: SessionFactory) -> None:
    readers = await people(sessions, 20)
    for n, who in enumerate(readers):
        await put(sessions, who, f"r:{n}", BULK, text=f"r {n}")
    bot = FakeBot(FakeTime(), faults={None: [flood(5)]})
    sender = make_sender(sessions, bot, rate=25)
    await run_until(sender, delivered(bot, 20))
    assert bot.calls == 21
    # The flood answer came at 0 s (with the first sends, in flight together):
    # nothing started during the pause it asked for.
    assert not [s.at for s in bot.sent if 0 < s.at < 5.0]
    assert len([s for s in bot.sent if s.at >= 5.0]) >= 17
    assert sorted(bot.texts()) == sorted(f"r {n}" for n in range(20))
    assert sender.stats.floods == 1
    assert sender.pacer.rate < 25


async def test_403_marks_unreachable_and_tells_the_administrator(
    sessions: SessionFactory,
) -> None:
    reviewer = await person(sessions, "1", name="李审核")
    admin = await person(sessions, "2", name="王主席")
    async with sessions.begin() as s:
        org = Organisation(
            code="dl", name="大连市总工会", kind="city", created_at=T0, updated_at=T0
        )
        s.add(org)
        await s.flush()
        assert org.id is not None
        for who, role in ((reviewer, StaffRole.REVIEWER), (admin, StaffRole.ADMIN)):
            s.add(Membership(person_id=who, organisation_id=org.id, role=role, granted_at=T0))
    await put(sessions, reviewer, "new item 1", PERSONAL)
    await put(sessions, reviewer, "new item 2", PERSONAL)
    bot = FakeBot(FakeTime(), faults={1: [blocked(), blocked()]})
    await run_until(make_sender(sessions, bot), lambda: settled(sessions))
    [notice] = bot.sent
    assert notice.chat_id == 2
    assert "李审核" in notice.text
    stored = {r.dedupe_key: r for r in await rows(sessions)}
    assert stored["new item 1"].given_up_at is not None
    assert "blocked" in stored["new item 1"].last_error
    assert len(stored) == 3  # one notice for two bounced messages
    async with sessions() as s:
        identity = await outbox.identity_for(s, person_id=reviewer)
        assert identity is not None
        assert identity.unreachable_at is not None

    # They unblock the bot: the next message reaches them and clears the mark.
    await put(sessions, reviewer, "new item 3", PERSONAL, now=bot.time.now)
    await run_until(make_sender(sessions, bot), delivered(bot, 2))
    async with sessions() as s:
        identity = await outbox.identity_for(s, person_id=reviewer)
        assert identity is not None
        assert identity.unreachable_at is None


async def test_a_message_telegram_will_not_take_is_given_up_at_once(
    sessions: SessionFactory,
) -> None:
    who = await person(sessions, "1001")
    await put(sessions, who, "bad")
    bad = TelegramBadRequest(METHOD, "Bad Request: can't parse entities")
    bot = FakeBot(FakeTime(), faults={None: [bad]})
    await run_until(make_sender(sessions, bot), lambda: settled(sessions))
    [row] = await rows(sessions)
    assert row.given_up_at is not None
    assert row.attempts == 1
    assert "can't parse" in row.last_error


async def test_network_errors_retry_with_backoff_then_succeed(sessions: SessionFactory) -> None:
    who = await person(sessions, "1001")
    await put(sessions, who, "flaky", text="终于到了")
    server_error = TelegramServerError(METHOD, "Bad Gateway")
    bot = FakeBot(FakeTime(), faults={None: [timeout(), server_error]})
    await run_until(make_sender(sessions, bot, backoff=2), delivered(bot, 1))
    assert bot.sent[0].at >= 2 + 4  # waited 2 s, then 4 s
    [row] = await rows(sessions)
    assert row.sent_at is not None
    assert row.attempts == 3


async def test_network_errors_give_up_after_max_attempts(sessions: SessionFactory) -> None:
    who = await person(sessions, "1001")
    await put(sessions, who, "doomed")
    bot = FakeBot(FakeTime(), faults={None: [timeout() for _ in range(10)]})
    sender = make_sender(sessions, bot, max_attempts=4, backoff=1)
    await run_until(sender, lambda: settled(sessions))
    [row] = await rows(sessions)
    assert row.given_up_at is not None
    assert row.sent_at is None
    assert (row.attempts, bot.calls) == (4, 4)
    assert "timeout" in row.last_error
    assert sender.stats.given_up == 1


def test_errors_are_judged_by_kind() -> None:
    assert classify(flood(3)) == "flood"
    assert classify(blocked()) == "unreachable"
    assert classify(TelegramBadRequest(METHOD, "Bad Request: chat not found")) == "unreachable"
    assert classify(TelegramBadRequest(METHOD, "Bad Request: message is too long")) == "refused"
    assert classify(timeout()) == "transient"
    assert classify(TelegramServerError(METHOD, "Internal Server Error")) == "transient"
    assert classify(OSError("connection reset")) == "transient"


# --------------------------------------------------------------------------- crashes


async def test_rows_of_a_sender_killed_before_sending_go_later_exactly_once(
    sessions: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    readers = await people(sessions, 6)
    for n, who in enumerate(readers):
        await put(sessions, who, f"r:{n}", PERSONAL, text=f"r {n}")
    async with sessions.begin() as s:  # a sender claims everything, marks one, and dies
        held = await outbox.claim_due(
            s, channel="telegram", now=T0, limit=10, lease=dt.timedelta(seconds=60), token="dead"
        )
        in_flight = held[0].id
        assert in_flight is not None
        await outbox.mark_sending(
            s, ids=[in_flight], token="dead", now=T0, lease=dt.timedelta(seconds=60)
        )
    bot = FakeBot(FakeTime())
    sender = make_sender(sessions, bot, lease=60)
    await run_until(sender, lambda: settled(sessions))
    assert min(s.at for s in bot.sent) >= 60  # only after the dead sender's lease
    assert sorted(bot.texts()) == [f"r {n}" for n in range(1, 6)]  # each once
    stored = {r.dedupe_key: r for r in await rows(sessions)}
    assert stored["r:0"].last_error == outbox.INTERRUPTED  # reported, never resent
    assert "given up, not sent again" in caplog.text
    assert sender.stats.interrupted == 1


async def test_a_stopped_sender_gives_back_its_rows(sessions: SessionFactory) -> None:
    readers = await people(sessions, 30)
    for n, who in enumerate(readers):
        await put(sessions, who, f"r:{n}", BULK)
    bot = FakeBot(FakeTime())
    await run_until(make_sender(sessions, bot, rate=10), delivered(bot, 5))
    pending = [r for r in await rows(sessions) if r.sent_at is None]
    assert pending
    assert all(r.claim_token is None and r.sending_at is None for r in pending)
    second = FakeBot(bot.time)
    await run_until(make_sender(sessions, second, rate=10), lambda: settled(sessions))
    assert len(bot.sent) + len(second.sent) == 30
    assert not set(bot.texts()) & set(second.texts())


async def test_two_senders_on_one_database_send_each_row_once(database_url: str) -> None:
    """Two engines, as two processes would have: every row goes out exactly once."""
    await upgrade_to_head(database_url)
    engines = [create_engine(database_url) for _ in range(2)]
    try:
        factories = [session_factory(e) for e in engines]
        readers = await people(factories[0], 100)
        for n in range(400):
            await put(factories[0], readers[n % 100], f"r:{n}", BULK, text=f"r {n}")
        time = FakeTime()
        bots = [FakeBot(time), FakeBot(time)]
        senders = [
            make_sender(f, b, rate=100, batch=20) for f, b in zip(factories, bots, strict=True)
        ]
        for sender in senders[1:]:
            sender.start()
        await run_until(senders[0], lambda: settled(factories[0]))
        await senders[1].stop()
        texts = bots[0].texts() + bots[1].texts()
        assert sorted(texts) == sorted(f"r {n}" for n in range(400))
        assert bots[0].sent
        assert bots[1].sent
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_row_that_cannot_be_read_is_given_up(sessions: SessionFactory) -> None:
    who = await person(sessions, "1001")
    await put(sessions, who, "future")
    async with sessions.begin() as s:  # written by a newer version, with an unknown action
        row = (await s.execute(select(OutboxMessage))).scalar_one()
        row.buttons = [[{"label": "x", "action": 999, "arg": 0, "key": ""}]]
    bot = FakeBot(FakeTime())
    await run_until(make_sender(sessions, bot), lambda: settled(sessions))
    assert bot.sent == []
    [row] = await rows(sessions)
    assert row.given_up_at is not None
    assert "not sendable" in row.last_error


async def test_sent_rows_are_never_claimed_again(sessions: SessionFactory) -> None:
    readers = await people(sessions, 3)
    for n, who in enumerate(readers):
        await put(sessions, who, f"r:{n}", PERSONAL)
    bot = FakeBot(FakeTime())
    await run_until(make_sender(sessions, bot), lambda: settled(sessions))
    await run_until(make_sender(sessions, bot), lambda: bot.time.seconds() > 300)
    assert len(bot.sent) == 3
    async with sessions() as s:
        ids = await s.execute(select(OutboxMessage.id).where(col(OutboxMessage.sent_at).is_(None)))
        assert ids.all() == []


async def test_many_reminders_per_person_still_go_at_the_rate(sessions: SessionFactory) -> None:
    """40 people with 10 reminders each: chats take one a second, so the sender must
    hold rows of many chats at once to keep near 25 a second (16 s at best; the
    oldest people's rows go first, so the last seconds have fewer chats than 25
    to send to).  Holding whole batches of a few chats would give 5 to 8 a second."""
    readers = await people(sessions, 40)
    for who in readers:
        for n in range(10):
            await put(sessions, who, f"r:{who}:{n}", BULK, text=f"r {who} {n}")
    bot = FakeBot(FakeTime())
    await run_until(make_sender(sessions, bot, rate=25), delivered(bot, 400))
    times = [s.at for s in bot.sent]
    assert (len(times) - 1) / (times[-1] - times[0]) >= 0.75 * 25
    by_chat: dict[int, list[Sent]] = {}
    for sent in bot.sent:
        by_chat.setdefault(sent.chat_id, []).append(sent)
    for chat, sent in by_chat.items():
        assert [s.text for s in sent] == [f"r {chat} {n}" for n in range(10)]
        assert min(b.at - a.at for a, b in itertools.pairwise(sent)) >= 1.0


async def test_a_flood_of_one_reviewers_items_starves_nobody(sessions: SessionFactory) -> None:
    reviewer, *others = await people(sessions, 41)
    for n in range(60):
        await put(sessions, reviewer, f"item:{n}", PERSONAL, text=f"item {n}")
    for n, who in enumerate(others):
        await put(sessions, who, f"bulk:{n}", BULK, text=f"bulk {n}")
    bot = FakeBot(FakeTime())
    sender = make_sender(sessions, bot, rate=25, lease=10)
    await run_until(sender, delivered(bot, 100))
    bulk = [s.at for s in bot.sent if s.text.startswith("bulk")]
    assert max(bulk) < 5.0  # the others went at once, beside the reviewer's one a second
    items = [s.text for s in bot.sent if s.chat_id == 1]
    assert items == [f"item {n}" for n in range(60)]  # once each, in order, past the lease
