"""The outbox's rows: written with the change that causes them, once per key, handed
out by priority then age to one sender at a time, taken up again after a sender
died (or given up, if it died mid-send).  On every backend."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from dialogs.i18n import Locale
from dialogs.notices import reply_of, tell_admins_unreachable
from dialogs.ui import Action, Button
from storage import outbox, repo
from storage.db import SessionFactory, create_engine, session_factory
from storage.models import (
    ChannelIdentity,
    Membership,
    Organisation,
    OutboxMessage,
    OutboxPriority,
    StaffRole,
)

T0 = dt.datetime(2026, 7, 1, 1, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=60)
PERSONAL, ROUTINE, BULK = OutboxPriority.PERSONAL, OutboxPriority.ROUTINE, OutboxPriority.BULK


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


async def person(
    sessions: SessionFactory, external_id: str, *, channel: str = "telegram", name: str = ""
) -> int:
    async with sessions.begin() as s:
        p = await repo.get_or_create_user(
            s, channel=channel, external_id=external_id, display_name=name or external_id, now=T0
        )
        assert p.id is not None
        return p.id


async def put(
    sessions: SessionFactory, person_id: int, key: str, priority: int = ROUTINE, **kw: Any
) -> bool:
    async with sessions.begin() as s:
        return await outbox.enqueue(
            s,
            person_id=person_id,
            text=kw.pop("text", f"text of {key}"),
            priority=priority,
            dedupe_key=key,
            now=kw.pop("now", T0),
            **kw,
        )


async def rows(sessions: SessionFactory) -> list[OutboxMessage]:
    async with sessions() as s:
        result = await s.execute(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return list(result.scalars().all())


async def claim(
    sessions: SessionFactory, token: str, now: dt.datetime = T0, limit: int = 10
) -> list[OutboxMessage]:
    async with sessions.begin() as s:
        return await outbox.claim_due(
            s, channel="telegram", now=now, limit=limit, lease=LEASE, token=token
        )


async def test_a_rolled_back_transaction_leaves_no_message(sessions: SessionFactory) -> None:
    who = await person(sessions, "1001")

    class Boom(Exception):
        pass

    async def decide_and_fail() -> None:
        async with sessions.begin() as s:
            assert await outbox.enqueue(
                s, person_id=who, text="决定", priority=PERSONAL, dedupe_key="d:1", now=T0
            )
            raise Boom

    with pytest.raises(Boom):
        await decide_and_fail()
    assert await rows(sessions) == []
    assert await put(sessions, who, "d:1")  # the key is free: nothing was kept of it


async def test_a_key_enqueues_once(sessions: SessionFactory) -> None:
    who = await person(sessions, "1001")
    assert await put(sessions, who, "reminder:7:2027-07-31:30", BULK, text="第一次")
    assert not await put(sessions, who, "reminder:7:2027-07-31:30", PERSONAL, text="第二次")
    [row] = await rows(sessions)
    assert (row.text, row.priority) == ("第一次", BULK)  # the first one stands, unchanged


async def test_one_key_enqueued_by_two_writers_at_once_is_one_row(database_url: str) -> None:
    """Like two processes planning the same reminder: both commit, one row exists."""
    from storage.migrate import upgrade_to_head

    await upgrade_to_head(database_url)
    engines = [create_engine(database_url) for _ in range(2)]
    try:
        factories = [session_factory(e) for e in engines]
        who = await person(factories[0], "1001")
        results = await asyncio.gather(*(put(f, who, "same") for f in factories * 3))
        assert sorted(results) == [False] * 5 + [True]
        assert len(await rows(factories[0])) == 1
    finally:
        for engine in engines:
            await engine.dispose()


async def test_the_message_goes_to_a_reachable_identity(sessions: SessionFactory) -> None:
    who = await person(sessions, "1001")
    async with sessions.begin() as s:
        s.add(ChannelIdentity(channel="terminal", external_id="wang", person_id=who, created_at=T0))
    assert await put(sessions, who, "a")  # newest identity: the terminal
    assert await put(sessions, who, "b", channel="telegram")
    async with sessions.begin() as s:
        await outbox.mark_unreachable(s, channel="terminal", external_id="wang", now=T0)
    assert await put(sessions, who, "c")  # the terminal refuses now: Telegram
    got = [(r.dedupe_key, r.channel, r.external_id) for r in await rows(sessions)]
    assert got == [
        ("a", "terminal", "wang"),
        ("b", "telegram", "1001"),
        ("c", "telegram", "1001"),
    ]


async def test_bad_messages_are_refused(sessions: SessionFactory) -> None:
    who = await person(sessions, "1001")
    with pytest.raises(LookupError):
        await put(sessions, who, "x", channel="dingtalk")
    with pytest.raises(LookupError):
        await put(sessions, who + 99, "x")
    with pytest.raises(ValueError, match="text"):
        await put(sessions, who, "x", text="  ")
    with pytest.raises(ValueError, match="key"):
        await put(sessions, who, "k" * 129)
    assert await rows(sessions) == []


async def test_buttons_are_stored_neutral_and_come_back(sessions: SessionFactory) -> None:
    who = await person(sessions, "1001")
    buttons = [[Button("查看", Action.STATUS, 3, "s1"), Button("继续", Action.RESUME, 7)]]
    assert await put(sessions, who, "b", buttons=buttons, application_id=None, revision=4)
    [row] = await rows(sessions)
    assert row.buttons == [
        [
            {"label": "查看", "action": int(Action.STATUS), "arg": 3, "key": "s1"},
            {"label": "继续", "action": int(Action.RESUME), "arg": 7, "key": ""},
        ]
    ]
    reply = reply_of(row)
    assert reply.buttons == buttons
    assert (reply.revision, reply.application_id) == (4, 0)


async def test_rows_go_by_priority_then_age_when_due(sessions: SessionFactory) -> None:
    who = await person(sessions, "1001")
    for n in range(3):
        await put(sessions, who, f"bulk{n}", BULK)
    await put(sessions, who, "later", PERSONAL, not_before=at(30))
    await put(sessions, who, "routine", ROUTINE)
    await put(sessions, who, "personal", PERSONAL)
    first = await claim(sessions, "A", limit=3)
    assert [r.dedupe_key for r in first] == ["personal", "routine", "bulk0"]
    assert [r.dedupe_key for r in await claim(sessions, "B")] == ["bulk1", "bulk2"]
    assert await claim(sessions, "C", now=at(10)) == []  # the rest is held, or not yet due
    assert [r.dedupe_key for r in await claim(sessions, "C", now=at(30))] == ["later"]
    # A's lease runs out: its rows are handed out again (A died before sending them).
    again = await claim(sessions, "D", now=at(61))
    assert [r.dedupe_key for r in again] == ["personal", "routine", "bulk0", "bulk1", "bulk2"]


async def test_a_row_is_sent_by_its_holder_only(sessions: SessionFactory) -> None:
    who = await person(sessions, "1001")
    await put(sessions, who, "x")
    [row] = await claim(sessions, "A")
    [row] = await claim(sessions, "B", now=at(61))  # A's lease ran out before it began
    assert row.id is not None
    async with sessions.begin() as s:
        assert (
            await outbox.mark_sending(s, ids=[row.id], token="A", now=at(62), lease=LEASE) == set()
        )
        assert await outbox.mark_sending(s, ids=[row.id], token="B", now=at(62), lease=LEASE) == {
            row.id
        }
        assert not await outbox.mark_failed(
            s, message_id=row.id, token="A", now=at(62), error="x", retry_at=None
        )
        assert await outbox.mark_sent(s, ids=[row.id], now=at(63)) == 1
    [stored] = await rows(sessions)
    assert (stored.sent_at, stored.attempts, stored.claim_token) == (at(63), 1, None)
    assert await claim(sessions, "C", now=at(500)) == []


async def test_failed_rows_retry_later_or_give_up(sessions: SessionFactory) -> None:
    who = await person(sessions, "1001")
    await put(sessions, who, "retry")
    await put(sessions, who, "hopeless")
    retry, hopeless = await claim(sessions, "A")
    assert retry.id is not None
    assert hopeless.id is not None
    async with sessions.begin() as s:
        await outbox.mark_sending(s, ids=[retry.id, hopeless.id], token="A", now=T0, lease=LEASE)
        assert await outbox.mark_failed(
            s, message_id=retry.id, token="A", now=T0, error="timeout", retry_at=at(8),
            parts_sent=1,
        )  # fmt: skip
        assert await outbox.mark_failed(
            s, message_id=hopeless.id, token="A", now=T0, error="400 bad", retry_at=None
        )
    assert await claim(sessions, "B", now=at(7)) == []
    [again] = await claim(sessions, "B", now=at(8))
    assert (again.dedupe_key, again.attempts, again.parts_sent, again.last_error) == (
        "retry", 1, 1, "timeout",
    )  # fmt: skip
    stored = {r.dedupe_key: r for r in await rows(sessions)}
    assert stored["hopeless"].given_up_at == T0
    assert stored["hopeless"].last_error == "400 bad"


async def test_a_row_caught_mid_send_is_given_up_not_sent_again(
    sessions: SessionFactory,
) -> None:
    """The sender died after marking the row sending: it may have arrived, so it is
    reported and given up once the lease is over; a row only claimed is sent later."""
    who = await person(sessions, "1001")
    await put(sessions, who, "in flight")
    await put(sessions, who, "only claimed")
    flying, _claimed = await claim(sessions, "dead")
    assert flying.id is not None
    async with sessions.begin() as s:
        await outbox.mark_sending(s, ids=[flying.id], token="dead", now=T0, lease=LEASE)
    async with sessions.begin() as s:
        assert await outbox.give_up_interrupted(s, channel="telegram", now=at(59)) == []
    async with sessions.begin() as s:
        [lost] = await outbox.give_up_interrupted(s, channel="telegram", now=at(60))
    assert lost.dedupe_key == "in flight"
    assert lost.last_error == outbox.INTERRUPTED
    assert [r.dedupe_key for r in await claim(sessions, "new", now=at(60))] == ["only claimed"]


async def test_a_stopping_sender_gives_back_what_it_did_not_begin(
    sessions: SessionFactory,
) -> None:
    who = await person(sessions, "1001")
    await put(sessions, who, "a")
    await put(sessions, who, "b")
    a, b = await claim(sessions, "A")
    assert a.id is not None
    assert b.id is not None
    async with sessions.begin() as s:
        await outbox.mark_sending(s, ids=[a.id], token="A", now=T0, lease=LEASE)
        assert await outbox.release(s, ids=[a.id, b.id], token="A") == 1
    assert [r.dedupe_key for r in await claim(sessions, "B")] == ["b"]


async def test_unreachable_is_marked_once_and_cleared_by_a_delivery(
    sessions: SessionFactory,
) -> None:
    await person(sessions, "1001")
    async with sessions.begin() as s:
        first = await outbox.mark_unreachable(s, channel="telegram", external_id="1001", now=T0)
        again = await outbox.mark_unreachable(s, channel="telegram", external_id="1001", now=at(1))
        unknown = await outbox.mark_unreachable(s, channel="telegram", external_id="9", now=T0)
    assert first is not None
    assert first.unreachable_at == T0
    assert again is None
    assert unknown is None
    async with sessions.begin() as s:
        assert await outbox.mark_reachable(s, channel="telegram", external_ids={"1001"}) == 1
        assert await outbox.mark_unreachable(s, channel="telegram", external_id="1001", now=at(2))


async def organisation(sessions: SessionFactory, code: str) -> int:
    async with sessions.begin() as s:
        org = Organisation(code=code, name=code, kind="district", created_at=T0, updated_at=T0)
        s.add(org)
        await s.flush()
        assert org.id is not None
        return org.id


async def grant(sessions: SessionFactory, person_id: int, org: int, role: StaffRole) -> None:
    async with sessions.begin() as s:
        s.add(Membership(person_id=person_id, organisation_id=org, role=role, granted_at=T0))


async def test_the_administrators_of_a_reviewers_organisations(sessions: SessionFactory) -> None:
    reviewer = await person(sessions, "1", name="李审核")
    admin_a, admin_b, gone, elsewhere = [await person(sessions, str(n)) for n in (2, 3, 4, 5)]
    org_a, org_b, org_c = [await organisation(sessions, c) for c in ("dl-a", "dl-b", "dl-c")]
    await grant(sessions, reviewer, org_a, StaffRole.REVIEWER)
    await grant(sessions, reviewer, org_b, StaffRole.ADMIN)
    await grant(sessions, admin_a, org_a, StaffRole.ADMIN)
    await grant(sessions, admin_b, org_b, StaffRole.ADMIN)
    await grant(sessions, admin_b, org_a, StaffRole.ADMIN)
    await grant(sessions, elsewhere, org_c, StaffRole.ADMIN)
    await grant(sessions, gone, org_a, StaffRole.ADMIN)
    async with sessions.begin() as s:
        await s.execute(
            sa.update(Membership).where(col(Membership.person_id) == gone).values(revoked_at=T0)
        )
    async with sessions() as s:
        admins = await outbox.administrators_of(s, person_id=reviewer)
        assert [a.id for a in admins] == [admin_a, admin_b]  # each once, never themselves
        assert await outbox.administrators_of(s, person_id=elsewhere) == []

    async with sessions.begin() as s:
        identity = await outbox.mark_unreachable(s, channel="telegram", external_id="1", now=T0)
        assert identity is not None
        told = await tell_admins_unreachable(s, identity=identity, now=T0, loc=Locale("zh-CN"))
        again = await tell_admins_unreachable(s, identity=identity, now=at(5), loc=Locale())
    assert (told, again) == (2, 2)
    notices = await rows(sessions)
    assert [r.person_id for r in notices] == [admin_a, admin_b]  # the second time added nothing
    assert all("李审核" in r.text and "Telegram" in r.text for r in notices)


async def test_without_an_administrator_it_is_logged(
    sessions: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    await person(sessions, "1001")
    async with sessions.begin() as s:
        identity = await outbox.mark_unreachable(s, channel="telegram", external_id="1001", now=T0)
        assert identity is not None
        assert await tell_admins_unreachable(s, identity=identity, now=T0, loc=Locale()) == 0
    assert "no administrator" in caplog.text
    assert await rows(sessions) == []


async def test_the_terminal_takes_its_rows_at_once(sessions: SessionFactory) -> None:
    me = await person(sessions, "wang", channel="terminal")
    other = await person(sessions, "li", channel="terminal")
    await put(sessions, me, "bulk", BULK)
    await put(sessions, me, "mine", PERSONAL)
    await put(sessions, me, "tomorrow", PERSONAL, not_before=at(86400))
    await put(sessions, other, "theirs", PERSONAL)
    async with sessions.begin() as s:
        taken = await outbox.take_due(s, channel="terminal", external_id="wang", now=at(1))
    assert [r.dedupe_key for r in taken] == ["mine", "bulk"]
    async with sessions.begin() as s:
        assert await outbox.take_due(s, channel="terminal", external_id="wang", now=at(2)) == []
    sent = {r.dedupe_key: r.sent_at for r in await rows(sessions)}
    assert sent == {"bulk": at(1), "mine": at(1), "tomorrow": None, "theirs": None}


async def test_studiobot_chat_prints_the_terminal_users_notifications(
    sessions: SessionFactory, file_store: Any
) -> None:
    """Between turns the terminal shows what the outbox holds for its user, marks it
    sent, and its buttons answer to ``#n`` (a bare number stays an answer)."""
    import io

    from dialogs.loader import load_registry
    from dialogs.service import Conversation
    from studiobot.terminal import chat

    me = await person(sessions, "wang", channel="terminal")
    await put(
        sessions, me, "returned", PERSONAL, text="您的申报被退回修改：请补充团队成员。",
        buttons=[[Button("查看进度", Action.STATUS)]],
    )  # fmt: skip
    await put(sessions, me, "tomorrow", BULK, text="明天的提醒", not_before=at(10**9))
    conversation = Conversation(registry=load_registry(), sessions=sessions, files=file_store)
    out = io.StringIO()
    await chat(conversation, user_name="wang", stdin=io.StringIO("#1\n"), out=out)
    text = out.getvalue()
    assert text.count("您的申报被退回修改") == 1
    assert Locale().t("outbox.terminal_header") in text
    assert "[#1] 查看进度" in text
    assert "明天的提醒" not in text
    sent = {r.dedupe_key: r.sent_at is not None for r in await rows(sessions)}
    assert sent == {"returned": True, "tomorrow": False}


async def test_a_claim_spreads_over_chats(sessions: SessionFactory) -> None:
    """At most ``per_chat`` rows of one chat, and no bulk for the chats the sender
    holds already; personal rows are never held back."""
    a, b, c = [await person(sessions, str(n)) for n in (1, 2, 3)]
    for n in range(5):
        await put(sessions, a, f"a{n}", BULK)
    for n in range(5):
        await put(sessions, b, f"b{n}", BULK)
    await put(sessions, c, "c0", BULK)
    await put(sessions, a, "a-personal", PERSONAL)
    async with sessions.begin() as s:
        first = await outbox.claim_due(
            s, channel="telegram", now=T0, limit=4, lease=LEASE, token="A", per_chat=2
        )
    assert [r.dedupe_key for r in first] == ["a-personal", "a0", "b0", "b1"]
    async with sessions.begin() as s:
        second = await outbox.claim_due(
            s, channel="telegram", now=T0, limit=10, lease=LEASE, token="A", per_chat=2,
            busy={"1", "2"},
        )  # fmt: skip
    assert [r.dedupe_key for r in second] == ["c0"]
    await put(sessions, b, "b-personal", PERSONAL)
    async with sessions.begin() as s:
        third = await outbox.claim_due(
            s, channel="telegram", now=T0, limit=10, lease=LEASE, token="A", per_chat=2,
            busy={"1", "2", "3"},
        )  # fmt: skip
    assert [r.dedupe_key for r in third] == ["b-personal"]


async def test_a_renewed_claim_is_not_handed_out(sessions: SessionFactory) -> None:
    who = await person(sessions, "1001")
    await put(sessions, who, "x")
    [row] = await claim(sessions, "A")
    assert row.id is not None
    async with sessions.begin() as s:
        assert await outbox.renew(s, ids=[row.id], token="A", now=at(50), lease=LEASE) == 1
        assert await outbox.renew(s, ids=[row.id], token="B", now=at(50), lease=LEASE) == 0
    assert await claim(sessions, "B", now=at(61)) == []
    assert len(await claim(sessions, "B", now=at(110))) == 1


async def test_a_sender_with_bulk_in_hand_still_finds_personal_rows(
    sessions: SessionFactory,
) -> None:
    who = await person(sessions, "1001")
    await put(sessions, who, "bulk", BULK)
    await put(sessions, who, "routine", ROUTINE)
    await put(sessions, who, "personal", PERSONAL)
    async with sessions.begin() as s:
        urgent = await outbox.claim_due(
            s, channel="telegram", now=T0, limit=10, lease=LEASE, token="A",
            priority_up_to=PERSONAL,
        )  # fmt: skip
    assert [r.dedupe_key for r in urgent] == ["personal"]
