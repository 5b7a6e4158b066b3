"""One user's events handled by two processes at once are applied one after another.

Two conversation services with engines of their own stand for two bot
processes on one database (each has its own connection pool, so nothing in
process memory orders their work).  The events of one user are sent to both
at once; every event must be applied exactly once, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import col, select

from dialogs.loader import load_registry
from dialogs.service import Conversation
from dialogs.ui import Action, ButtonIn, CommandIn, Outcome, TextIn, UserRef
from storage import repo
from storage.db import SessionFactory, create_engine, session_factory
from storage.files import FileStore
from storage.migrate import upgrade_to_head
from storage.models import AnswerEvent, Application, ChannelIdentity

NOW = dt.datetime(2026, 6, 18, 2, 30, tzinfo=dt.UTC)

PROGRAM = """\
id: gamma
version: 1
issuer: test-union
seed: "300"
union: 丙市总工会
kind: 职工创新工作室
form_title: 职工创新工作室申报表
notice: 丙市总工会关于职工创新工作室的通知
review_chain:
  - {id: city, reviewer: 丙市总工会, opinion_label: 市总工会意见, action: 审定命名}
sections:
  - id: basic
    title: 基本情况
    questions:
      - {id: has_room, label: 是否有固定活动场所, type: yesno, help: 通知第二条}
      - {id: story, label: 工作室简介, type: longtext, help: 通知第三条}
      - {id: q1, label: 问题一, type: text, help: 通知第四条}
      - {id: q2, label: 问题二, type: text, help: 通知第四条}
      - {id: q3, label: 问题三, type: text, help: 通知第四条}
      - {id: q4, label: 问题四, type: text, help: 通知第四条}
"""


@pytest.fixture
async def pair(
    database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Conversation, Conversation, SessionFactory]]:
    """Two services over one database, each with an engine of its own."""
    await upgrade_to_head(database_url)
    folder = tmp_path / "programs"
    folder.mkdir()
    (folder / "gamma.yaml").write_text(PROGRAM, encoding="utf-8")
    registry = load_registry(folder)
    engines = [create_engine(database_url) for _ in range(3)]
    a, b = (
        Conversation(
            registry=registry,
            sessions=session_factory(engine),
            files=FileStore(tmp_path / "files"),
            clock=lambda: NOW,
        )
        for engine in engines[:2]
    )
    try:
        yield a, b, session_factory(engines[2])
    finally:
        for engine in engines:
            await engine.dispose()


def user(n: int) -> UserRef:
    return UserRef(channel="telegram", external_id=str(5000 + n), display_name="赵六")


async def stored(sessions: SessionFactory, who: UserRef) -> Application:
    async with sessions() as s:
        return (
            await s.execute(
                select(Application)
                .join(ChannelIdentity, col(ChannelIdentity.person_id) == col(Application.user_id))
                .where(ChannelIdentity.external_id == who.external_id)
            )
        ).scalar_one()


async def events_for(sessions: SessionFactory, app_id: int, path: str) -> int:
    async with sessions() as s:
        result = await s.execute(
            select(func.count())
            .select_from(AnswerEvent)
            .where(AnswerEvent.application_id == app_id, AnswerEvent.path == path)
        )
        return int(result.scalar_one())


async def open_draft(conv: Conversation, who: UserRef) -> Outcome:
    await conv.handle(who, CommandIn("apply"))
    return await conv.handle(who, ButtonIn(Action.PICK_PROGRAM, 0, 0, 0, "gamma"))


async def test_long_text_parts_sent_to_both_processes_are_all_kept(
    pair: tuple[Conversation, Conversation, SessionFactory],
) -> None:
    a, b, reader = pair
    for round_ in range(3):
        who = user(round_)
        await open_draft(a, who)
        first = await stored(reader, who)
        await a.handle(who, ButtonIn(Action.CHOOSE, 1, first.id or 0, first.revision))
        parts = [f"第{round_}轮第{i}段：工作室围绕生产难题开展攻关。" for i in range(12)]
        await asyncio.gather(
            *((a if i % 2 else b).handle(who, TextIn(part)) for i, part in enumerate(parts))
        )
        app = await stored(reader, who)
        assert sorted(app.cursor.get("s", {}).get("buf") or []) == sorted(parts)
        # Every part moved the draft on by one revision: none was written over another.
        assert app.revision == first.revision + 1 + len(parts)


async def test_two_answers_at_once_to_two_processes_are_both_kept(
    pair: tuple[Conversation, Conversation, SessionFactory],
) -> None:
    a, b, reader = pair
    for round_ in range(5):
        who = user(10 + round_)
        await open_draft(a, who)
        app = await stored(reader, who)
        await a.handle(who, ButtonIn(Action.CHOOSE, 1, app.id or 0, app.revision))
        await a.handle(who, TextIn("工作室简介：围绕生产难题开展技术攻关。"))
        app = await stored(reader, who)
        await a.handle(who, ButtonIn(Action.DONE, 0, app.id or 0, app.revision))
        before = await stored(reader, who)
        first, second = f"第{round_}轮答案甲", f"第{round_}轮答案乙"
        await asyncio.gather(a.handle(who, TextIn(first)), b.handle(who, TextIn(second)))
        after = await stored(reader, who)
        # Which answer came first is up to the race; that both are kept is not.
        assert {after.answers.get("q1"), after.answers.get("q2")} == {first, second}
        assert after.revision == before.revision + 2


async def test_the_same_button_pressed_in_both_processes_is_applied_once(
    pair: tuple[Conversation, Conversation, SessionFactory],
) -> None:
    a, b, reader = pair
    for round_ in range(5):
        who = user(20 + round_)
        await open_draft(a, who)
        app = await stored(reader, who)
        press = ButtonIn(Action.CHOOSE, 1, app.id or 0, app.revision)
        outcomes = await asyncio.gather(a.handle(who, press), b.handle(who, press))
        after = await stored(reader, who)
        assert after.answers["has_room"] is True
        assert after.revision == app.revision + 1
        assert await events_for(reader, app.id or 0, "has_room") == 1
        # The press that came second is answered as a stale button, with the question.
        assert sum(1 for out in outcomes if out.toast is not None) == 1
        assert all(out.replies for out in outcomes)


async def test_first_contact_split_across_processes_creates_one_user(
    pair: tuple[Conversation, Conversation, SessionFactory],
) -> None:
    a, b, reader = pair
    for round_ in range(5):
        who = user(40 + round_)
        outcomes = await asyncio.gather(
            a.handle(who, CommandIn("start"), update_key=("telegram:1", str(9000 + 2 * round_))),
            b.handle(who, CommandIn("apply"), update_key=("telegram:1", str(9001 + 2 * round_))),
        )
        assert all(out.replies for out in outcomes)
        async with reader() as s:
            count = (
                await s.execute(
                    select(func.count())
                    .select_from(ChannelIdentity)
                    .where(ChannelIdentity.external_id == who.external_id)
                )
            ).scalar_one()
        assert count == 1


async def test_a_write_based_on_a_stale_read_is_refused(sessions: SessionFactory) -> None:
    """The revision check: whatever skipped the user's lock cannot overwrite newer answers."""
    async with sessions.begin() as s:
        owner = await repo.get_or_create_user(
            s, channel="telegram", external_id="77", display_name="", now=NOW
        )
        created = await repo.create_application(
            s, user_id=owner.id or 0, program_id="p", program_version=1, cursor={}, now=NOW
        )
    stale_id = created.id or 0
    async with sessions() as s:
        stale = await repo.get_application(s, application_id=stale_id)
    assert stale is not None
    async with sessions.begin() as s:
        fresh = await repo.get_application(s, application_id=stale_id)
        assert fresh is not None
        repo.touch_application(fresh, answers={"a": "新"}, cursor={}, now=NOW)
    async with sessions.begin() as s:
        s.add(stale)
        repo.touch_application(stale, answers={"a": "旧"}, cursor={}, now=NOW)
        with pytest.raises(StaleDataError):
            await s.flush()
        await s.rollback()
    async with sessions() as s:
        kept = await repo.get_application(s, application_id=stale_id)
    assert kept is not None
    assert kept.answers == {"a": "新"}
