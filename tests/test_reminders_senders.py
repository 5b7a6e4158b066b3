"""A day's reminders delivered by real senders over HTTP (the project's fake Bot
API), on SQLite and PostgreSQL: two senders at once (two engines, as two
processes) deliver each reminder exactly once; a sender killed mid-batch and a
new one started lose nothing and repeat nothing, the rows it was sending
excepted (given up as interrupted, ``storage.outbox.INTERRUPTED``); a 429 pauses
and retries, a 403 gives the reminder up and marks the leader unreachable while
the others still arrive.

The reminders are planned by ``dialogs.reminding.plan_and_write`` at a moment
seven days before ``dalian-model``'s July 31 deadline, for leaders whose drafts
are stored directly; the senders' clocks run on from that moment.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from bot.app import create_sender
from bot.callbacks import DialogCallback
from bot.config import TelegramConfig
from bot.sender import OutboxSender
from dialogs.i18n import Locale
from dialogs.loader import load_registry
from dialogs.reminding import plan_and_write
from dialogs.ui import Action
from reminders.plan import Window
from storage import outbox
from storage.db import SessionFactory, create_engine, session_factory
from storage.migrate import upgrade_to_head
from storage.models import Application, ChannelIdentity, OutboxMessage, Person
from tests.fakebotapi import FakeBotAPI

ZONE = ZoneInfo("Asia/Shanghai")
AT = dt.datetime(2027, 7, 24, 9, 0, tzinfo=ZONE)
FIRST_CHAT = 60_000
REGISTRY = load_registry()
ZH = Locale("zh-CN")

PERSONS = Person.__table__  # type: ignore[attr-defined]


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[list[SessionFactory]]:
    """Two engines on one migrated database, as two processes would have."""
    await upgrade_to_head(database_url)
    made = [create_engine(database_url) for _ in range(2)]
    try:
        yield [session_factory(e) for e in made]
    finally:
        for engine in made:
            await engine.dispose()


def running_from(moment: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock that starts at ``moment`` and runs at the real pace."""
    started = time.monotonic()
    return lambda: moment + dt.timedelta(seconds=time.monotonic() - started)


async def leaders(sessions: SessionFactory, count: int) -> dict[int, int]:
    """``count`` leaders on Telegram with a ``dalian-model`` draft each, in bulk; chat
    id → application id."""
    now = AT - dt.timedelta(days=30)
    async with sessions.begin() as s:
        await s.execute(
            sa.insert(Person),
            [{"display_name": f"负责人{n}", "created_at": now, "updated_at": now}
             for n in range(count)],
        )  # fmt: skip
        ids = [int(i) for i in (await s.execute(sa.select(PERSONS.c.id).order_by("id"))).scalars()]
        await s.execute(
            sa.insert(ChannelIdentity),
            [{"channel": "telegram", "external_id": str(FIRST_CHAT + n), "person_id": pid,
              "created_at": now} for n, pid in enumerate(ids)],
        )  # fmt: skip
        await s.execute(
            sa.insert(Application),
            [{"user_id": pid, "program_id": "dalian-model", "status": "draft", "answers": {},
              "cursor": {}, "revision": 2, "unanswered": 7, "created_at": now,
              "updated_at": now} for pid in ids],
        )  # fmt: skip
        apps = await s.execute(
            sa.select(Application.__table__.c.user_id, Application.__table__.c.id)  # type: ignore[attr-defined]
        )
        by_person = {int(user): int(app) for user, app in apps.all()}
    return {FIRST_CHAT + n: by_person[pid] for n, pid in enumerate(ids)}


async def planned(sessions: SessionFactory, count: int) -> dict[int, int]:
    """``count`` reminders planned into the outbox as the tick would; chat → application."""
    chats = await leaders(sessions, count)
    window = Window(zone=ZONE)
    written = await plan_and_write(sessions, registry=REGISTRY, loc=ZH, window=window, now=AT)
    assert written == count
    return chats


async def stored(sessions: SessionFactory) -> list[OutboxMessage]:
    async with sessions() as s:
        found = await s.execute(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return list(found.scalars().all())


async def settled(sessions: SessionFactory, timeout: float = 60) -> list[OutboxMessage]:  # noqa: ASYNC109
    """The rows once every one was sent or given up."""
    async with asyncio.timeout(timeout):
        while True:
            rows = await stored(sessions)
            if all(r.sent_at or r.given_up_at for r in rows):
                return rows
            await asyncio.sleep(0.1)


def sender_for(
    api: FakeBotAPI, sessions: SessionFactory, *, rate: float, lease: float = 60.0,
    clock: Callable[[], dt.datetime],
) -> OutboxSender:  # fmt: skip
    """The sender ``studiobot run`` builds (its own aiogram bot), talking to the fake API."""
    config = TelegramConfig(token=api.token, api_url=api.url, send_rate=rate, send_lease=lease)
    return create_sender(config, sessions, clock=clock)


async def close(sender: OutboxSender) -> None:
    await sender.bot.session.close()  # type: ignore[attr-defined]


def received(api: FakeBotAPI, chats: dict[int, int]) -> collections.Counter[int]:
    """How many reminders each chat got."""
    return collections.Counter({chat: len(api.sent_to(chat)) for chat in chats})


def assert_resumes(api: FakeBotAPI, chat: int, app_id: int) -> None:
    """The reminder the chat got carries the button that resumes its own draft."""
    [message] = api.sent_to(chat)
    data = message.button(ZH.t("remind.btn.resume")).callback_data
    assert data is not None
    button = DialogCallback.unpack(data)
    assert (button.a, button.g, button.p) == (Action.RESUME, app_id, app_id)


# --------------------------------------------------------------------------- two senders


async def test_two_senders_deliver_300_reminders_each_exactly_once(
    engines: list[SessionFactory], api: FakeBotAPI
) -> None:
    chats = await planned(engines[0], 300)
    clock = running_from(AT)
    senders = [sender_for(api, sessions, rate=60, clock=clock) for sessions in engines]
    for sender in senders:
        sender.start()
    try:
        rows = await settled(engines[0])
    finally:
        for sender in senders:
            await sender.stop()
            await close(sender)
    got = received(api, chats)
    assert set(got.values()) == {1}  # every leader once, none twice
    assert len(api.calls_to("sendMessage")) == 300
    assert all(r.sent_at is not None for r in rows)
    assert [s.stats.sent for s in senders] != [300, 0]
    assert [s.stats.sent for s in senders] != [0, 300]  # both took part
    assert sum(s.stats.sent for s in senders) == 300
    for chat in list(chats)[::50]:
        assert_resumes(api, chat, chats[chat])


# --------------------------------------------------------------------------- a kill


def kill(sender: OutboxSender) -> None:
    """End the sender as SIGKILL would: its loop and its requests in flight stop where
    they are, nothing is recorded or given back (no ``stop()``)."""
    state = sender._state
    assert sender._task is not None
    for task in [sender._task, *state.tasks]:
        task.cancel()


async def test_a_sender_killed_mid_batch_loses_and_repeats_nothing_but_its_sends_in_flight(
    engines: list[SessionFactory], api: FakeBotAPI
) -> None:
    chats = await planned(engines[0], 300)
    clock = running_from(AT)
    first = sender_for(api, engines[0], rate=60, lease=2, clock=clock)
    first.start()
    try:
        await api.wait_for(lambda: len(api.calls_to("sendMessage")) >= 100, 30)
        kill(first)
        with contextlib.suppress(asyncio.CancelledError):
            await first._task  # type: ignore[misc]
        held = [r for r in await stored(engines[0]) if r.claim_token == first.token]
        before = sum(received(api, chats).values())
    finally:
        await close(first)
    assert before < 300  # killed mid-delivery
    assert held  # it held rows (claimed, or being sent) when it died
    second = sender_for(api, engines[1], rate=60, lease=2, clock=clock)
    second.start()
    try:
        rows = await settled(engines[1])
    finally:
        await second.stop()
        await close(second)
    got = received(api, chats)
    assert max(got.values()) == 1  # nothing twice
    missing = {chat for chat in chats if got[chat] == 0}
    by_chat = {int(r.external_id): r for r in rows}
    interrupted = {chat for chat, r in by_chat.items() if r.last_error == outbox.INTERRUPTED}
    assert missing <= interrupted  # lost: only what was in mid-send at the kill
    assert len(interrupted) <= first.config.max_in_flight
    assert {chat for chat, r in by_chat.items() if r.given_up_at} == interrupted
    assert second.stats.interrupted == len(interrupted)
    # The rows it had only claimed went later, once, by the second sender.
    assert all(by_chat[int(r.external_id)].sent_at for r in held if r.sending_at is None)
    assert {chat for chat, r in by_chat.items() if r.sent_at} <= {c for c in chats if got[c]}


# --------------------------------------------------------------------------- refusals


async def test_429_pauses_and_retries_and_403_marks_the_leader_unreachable(
    engines: list[SessionFactory], api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    chats = await planned(engines[0], 40)
    blocked = FIRST_CHAT + 7
    api.block_user(blocked)
    api.flood_next(retry_after=1)
    sender = sender_for(api, engines[0], rate=30, clock=running_from(AT))
    sender.start()
    try:
        rows = await settled(engines[0])
    finally:
        await sender.stop()
        await close(sender)
    got = received(api, chats)
    assert got[blocked] == 0
    assert {got[c] for c in chats if c != blocked} == {1}  # the others, once each
    statuses = collections.Counter(c.status for c in api.calls_to("sendMessage"))
    assert statuses == {200: 39, 429: 1, 403: 1}
    assert sender.stats.floods == 1
    assert sender.pacer.rate < 30  # slowed down after the flood answer
    by_chat = {int(r.external_id): r for r in rows}
    refused = by_chat[blocked]
    assert refused.given_up_at is not None
    assert refused.sent_at is None
    assert "blocked" in refused.last_error
    assert [c for c, r in by_chat.items() if r.given_up_at] == [blocked]
    assert sorted(r.attempts for r in rows).count(2) == 1  # the flooded one, tried again
    async with engines[0]() as s:
        identities = await s.execute(
            select(ChannelIdentity.external_id).where(
                col(ChannelIdentity.unreachable_at).is_not(None)
            )
        )
        assert identities.scalars().all() == [str(blocked)]
    assert "flood limit" in caplog.text


async def test_a_leader_who_blocked_the_bot_is_tried_again_at_the_next_step(
    engines: list[SessionFactory], api: FakeBotAPI
) -> None:
    """The mark does not silence them: the 3-day reminder goes to the same chat, and
    once they unblocked the bot it arrives and clears the mark."""
    chats = await planned(engines[0], 3)
    blocked = FIRST_CHAT + 1
    api.block_user(blocked)
    sender = sender_for(api, engines[0], rate=30, clock=running_from(AT))
    sender.start()
    try:
        await settled(engines[0])
    finally:
        await sender.stop()
        await close(sender)
    api.block_user(blocked, blocked=False)
    later = AT + dt.timedelta(days=4)  # 2027-07-28: three days before
    written = await plan_and_write(
        engines[0], registry=REGISTRY, loc=ZH, window=Window(zone=ZONE), now=later
    )
    assert written == 3
    sender = sender_for(api, engines[0], rate=30, clock=running_from(later))
    sender.start()
    try:
        await settled(engines[0])
    finally:
        await sender.stop()
        await close(sender)
    got = received(api, chats)
    assert got == {FIRST_CHAT: 2, blocked: 1, FIRST_CHAT + 2: 2}
    async with engines[0]() as s:
        marks = await s.execute(select(ChannelIdentity.unreachable_at))
        assert set(marks.scalars().all()) == {None}
