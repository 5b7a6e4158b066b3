"""The outbox over real HTTP, against the project's fake Bot API server: the sender
in process (429, 403, 5xx as the server answers them), and real ``studiobot run``
processes, polling and webhook, that deliver what is in the outbox, once, also
when one is killed with SIGKILL mid-delivery and started again."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
from pathlib import Path

from sqlmodel import select

from bot.app import create_sender
from bot.config import TelegramConfig
from storage import outbox, repo
from storage.db import SessionFactory
from storage.models import Membership, Organisation, OutboxMessage, OutboxPriority, StaffRole
from tests.fakebotapi import FakeBotAPI
from tests.test_restart import BotProcess
from tests.webhook_process import WebhookWorker, start_all, stop_all

FIRST_CHAT = 5001


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def enqueue_many(
    sessions: SessionFactory, chats: int, per_chat: int, priority: int = OutboxPriority.BULK
) -> set[str]:
    """``per_chat`` messages to each of ``chats`` Telegram users; their texts (unique)."""
    texts = set()
    async with sessions.begin() as s:
        for c in range(chats):
            person = await repo.get_or_create_user(
                s, channel="telegram", external_id=str(FIRST_CHAT + c), display_name="", now=now()
            )
            assert person.id is not None
            for n in range(per_chat):
                text = f"通知 {c}-{n}"
                await outbox.enqueue(
                    s, person_id=person.id, text=text, priority=priority,
                    dedupe_key=f"t:{c}:{n}", now=now(),
                )  # fmt: skip
                texts.add(text)
    return texts


def received(api: FakeBotAPI, chats: int) -> list[str]:
    """Every text the fake server accepted for the chats, duplicates included."""
    return [
        m.text or ""
        for c in range(chats)
        for m in api.sent_to(FIRST_CHAT + c)
    ]  # fmt: skip


async def stored(sessions: SessionFactory) -> list[OutboxMessage]:
    async with sessions() as s:
        return list((await s.execute(select(OutboxMessage))).scalars().all())


async def until_settled(sessions: SessionFactory, timeout: float = 60) -> list[OutboxMessage]:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while True:
            rows = await stored(sessions)
            if all(r.sent_at or r.given_up_at for r in rows):
                return rows
            await asyncio.sleep(0.1)


# --------------------------------------------------------------------------- in process


async def test_the_sender_rides_out_429_403_and_5xx(
    sessions: SessionFactory, api: FakeBotAPI
) -> None:
    texts = await enqueue_many(sessions, chats=6, per_chat=2, priority=OutboxPriority.PERSONAL)
    async with sessions.begin() as s:  # chat 5003 is a reviewer; 5099 administers their union
        admin = await repo.get_or_create_user(
            s, channel="telegram", external_id="5099", display_name="王主席", now=now()
        )
        reviewer = await repo.get_or_create_user(
            s, channel="telegram", external_id="5003", display_name="李审核", now=now()
        )
        org = Organisation(code="dl", name="大连", kind="city", created_at=now(), updated_at=now())
        s.add(org)
        await s.flush()
        for who, role in ((reviewer, StaffRole.REVIEWER), (admin, StaffRole.ADMIN)):
            assert who.id is not None
            assert org.id is not None
            s.add(Membership(person_id=who.id, organisation_id=org.id, role=role, granted_at=now()))
    api.flood_next(retry_after=1)
    api.fail_next("sendMessage", 1, status=502, description="Bad Gateway")
    api.block_user(5003)
    config = TelegramConfig(token=api.token, api_url=api.url, send_rate=30)
    sender = create_sender(config, sessions)
    sender.config = dataclasses.replace(sender.config, backoff=0.2)
    sender.start()
    try:
        rows = await until_settled(sessions, 30)
    finally:
        await sender.stop()
        await sender.bot.session.close()  # type: ignore[attr-defined]
    got = received(api, 6)
    assert sorted(got) == sorted(t for t in texts if not t.startswith("通知 2-"))
    assert len(got) == len(set(got))
    [notice] = api.sent_to(5099)
    assert "李审核" in (notice.text or "")
    refused = {r.dedupe_key: r.last_error for r in rows if r.given_up_at}
    assert set(refused) == {"t:2:0", "t:2:1"}
    assert all("blocked" in error for error in refused.values())
    assert sender.stats.floods == 1
    assert sender.stats.retried >= 2
    assert [c.status for c in api.calls_to("sendMessage")].count(429) == 1


# --------------------------------------------------------------------------- real processes


async def test_studiobot_run_delivers_the_outbox(
    database_url: str, sessions: SessionFactory, api: FakeBotAPI, tmp_path: Path
) -> None:
    texts = await enqueue_many(sessions, chats=20, per_chat=3)
    bot = BotProcess(api, database_url, tmp_path / "data")
    bot.env["STUDIOBOT_SEND_RATE"] = "100"
    try:
        await bot.start()
        await api.wait_for(lambda: len(received(api, 20)) >= len(texts), 30)
        rows = await until_settled(sessions, 30)
    finally:
        await bot.stop()
    got = received(api, 20)
    assert sorted(got) == sorted(texts)
    assert all(r.sent_at is not None for r in rows)
    # Each chat heard its messages in order, a second apart at least.
    for c in range(20):
        messages = api.sent_to(FIRST_CHAT + c)
        assert [m.text for m in messages] == [f"通知 {c}-{n}" for n in range(3)]


async def test_killed_mid_delivery_and_restarted_loses_none_and_doubles_none(
    database_url: str, sessions: SessionFactory, api: FakeBotAPI, tmp_path: Path
) -> None:
    """SIGKILL while the outbox drains; the restarted process takes up what the dead
    one held once its lease ran out.  Nothing is received twice; what is not
    received is only what was caught in mid-send, given up and reported."""
    chats = 40
    texts = await enqueue_many(sessions, chats=chats, per_chat=5)
    bot = BotProcess(api, database_url, tmp_path / "data")
    bot.env.update({"STUDIOBOT_SEND_RATE": "40", "STUDIOBOT_SEND_LEASE": "2"})
    try:
        await bot.start()
        await api.wait_for(lambda: len(received(api, chats)) >= 60, 30)
        await bot.kill()
        before = len(received(api, chats))
        assert before < len(texts)  # killed mid-delivery
        await bot.start()
        rows = await until_settled(sessions, 60)
    finally:
        await bot.stop()
    got = received(api, chats)
    duplicates = [t for t, n in collections.Counter(got).items() if n > 1]
    assert duplicates == []
    missing = texts - set(got)
    interrupted = {r.text for r in rows if r.last_error == outbox.INTERRUPTED}
    assert missing <= interrupted  # nothing lost but what was in flight at the kill
    assert len(interrupted) <= 5
    assert {r.text for r in rows if r.sent_at} <= set(got)


async def test_two_webhook_workers_deliver_each_row_once(
    database_url: str, sessions: SessionFactory, api: FakeBotAPI, tmp_path: Path
) -> None:
    texts = await enqueue_many(sessions, chats=50, per_chat=4)
    workers = [
        WebhookWorker(
            name=name,
            token=api.token,
            api_url=api.url,
            database_url=database_url,
            data_dir=tmp_path / name,
            log_path=tmp_path / f"{name}.log",
            secret="s3cret",
            extra_env={"STUDIOBOT_SEND_RATE": "50"},
        )
        for name in ("worker-a", "worker-b")
    ]
    try:
        await start_all(workers)
        rows = await until_settled(sessions, 60)
    finally:
        await stop_all(workers)
    got = received(api, 50)
    assert sorted(got) == sorted(texts)
    assert all(r.sent_at is not None for r in rows)
    assert [p for w in workers for p in w.problems()] == []
