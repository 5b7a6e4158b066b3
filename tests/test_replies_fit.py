"""Whatever the user typed, every reply reaches them: cleaned input, split output,
forged buttons refused, and a refused reply that never leaves the user stuck."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import update

from bot.texts import texts
from dialogs.i18n import Locale
from dialogs.loader import load_registry
from dialogs.service import Conversation
from dialogs.textfit import clean_text, fit_replies, split_text, utf16_length
from dialogs.ui import Action, Button, Outcome, Reply, UserRef
from storage import repo
from storage.db import SessionFactory
from storage.files import FileStore
from storage.models import Person
from tests.fakebotapi import FakeBotAPI, SentMessage
from tests.test_bot_http import USER, Scripted, config_for, polling

ZH = Locale("zh-CN")
BOT = texts("zh-CN")
REGISTRY = load_registry()
NOW = dt.datetime(2026, 5, 6, 2, 0, tzinfo=dt.UTC)


# ---------------------------------------------------------------------- pure functions


def test_clean_text_drops_what_no_database_or_messenger_takes() -> None:
    dirty = "张三\x00李四\ud800\x07\x1b[31m\u0085表\r\n格\r行\t列"
    assert clean_text(dirty) == "张三李四[31m表\n格\n行\t列"
    assert clean_text("工作室🏭名称") == "工作室🏭名称"
    clean_text(dirty).encode("utf-8")  # a lone surrogate would raise here


def test_split_text_keeps_every_character_within_the_limit() -> None:
    text = "\n".join(f"第{i}行：" + "创新工作室骨干成员" * (i % 37) for i in range(600))
    parts = split_text(text, 4096)
    assert all(len(p) <= 4096 for p in parts)
    assert len(parts) > 1
    assert "\n".join(parts) == text  # cut at line ends only: nothing lost, nothing doubled


def test_split_text_counts_as_telegram_does() -> None:
    emoji = "🏭" * 3000  # 6,000 UTF-16 code units in 3,000 characters
    parts = split_text(emoji, 4096, utf16_length)
    assert [utf16_length(p) for p in parts] == [4096, 1904]
    assert "".join(parts) == emoji  # never half of a pair
    one_line = "甲" * 9000
    assert [len(p) for p in split_text(one_line, 4096)] == [4096, 4096, 808]


def test_a_long_reply_keeps_its_buttons_on_the_last_piece() -> None:
    buttons = [[Button("下一步", Action.DONE)]]
    [first, second] = fit_replies(
        [Reply(text="表" * 5000, buttons=buttons, application_id=3, revision=9)], 4096
    )
    assert (first.buttons, second.buttons) == ([], buttons)
    assert (second.application_id, second.revision) == (3, 9)


# ---------------------------------------------------------------------- over HTTP


class Long(Scripted):
    """Replies with whatever reply the test sets."""

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__()
        self.replies = replies

    async def handle(self, user: UserRef, event: Any, *, update_key: Any = None) -> Outcome:
        await super().handle(user, event, update_key=update_key)
        return Outcome(replies=list(self.replies))


def within_limit(messages: list[SentMessage]) -> bool:
    return all(utf16_length(m.text or "") <= 4096 for m in messages)


async def test_a_screen_of_any_length_arrives_in_pieces(api: FakeBotAPI) -> None:
    row = "负责工艺改进与质量攻关" * 20
    screen = "\n".join(f"{i}. 张三；男；1985-03；{row}" for i in range(60))
    buttons = [[Button("完成", Action.DONE)]]
    async with polling(config_for(api), Long([Reply(text=screen, buttons=buttons)])):
        api.send_text(USER, "你好")
        await api.wait_for_messages(USER, 2)
        await api.settle()
    sent = api.sent_to(USER)
    assert len(sent) >= 2
    assert within_limit(sent)
    assert "\n".join(m.text or "" for m in sent) == screen
    assert not any(m.buttons for m in sent[:-1])
    assert sent[-1].labels == ["完成"]


async def test_a_refused_reply_is_replaced_and_the_next_still_sent(
    api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    replies = [
        Reply(text="第一条", buttons=[[Button("继续", Action.DONE)]]),
        Reply(text="第二条"),
    ]
    api.fail_next("sendMessage", status=400, description="Bad Request: can't parse entities")
    with caplog.at_level(logging.WARNING):
        async with polling(config_for(api), Long(replies)):
            api.send_text(USER, "你好")
            await api.wait_for_messages(USER, 2)
            await api.settle()
    notice, second = api.sent_to(USER)
    assert notice.text == BOT.t("bot.reply_refused")
    assert notice.labels == ["继续"]  # the way on is kept
    assert second.text == "第二条"
    assert not any(r.exc_info for r in caplog.records)
    assert BOT.t("bot.error") not in [m.text for m in api.sent_to(USER)]


async def test_a_chat_that_cannot_be_found_ends_the_replies_quietly(
    api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    replies = [Reply(text="第一条"), Reply(text="第二条")]
    api.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    with caplog.at_level(logging.INFO):
        async with polling(config_for(api), Long(replies)):
            api.send_text(USER, "你好")
            await api.wait_for(lambda: api.pending_updates == 0, 10)
            await api.settle()
    assert api.sent_to(USER) == []
    assert not any(r.exc_info for r in caplog.records)


# ---------------------------------------------------------------------- real conversation


@pytest.fixture
async def real(
    api: FakeBotAPI, sessions: SessionFactory, file_store: FileStore
) -> AsyncIterator[FakeBotAPI]:
    conversation = Conversation(registry=REGISTRY, sessions=sessions, files=file_store)
    async with polling(config_for(api), conversation):
        yield api


async def test_a_table_of_long_rows_does_not_lock_the_user_out(
    api: FakeBotAPI, sessions: SessionFactory, file_store: FileStore
) -> None:
    """CCCC's core members: three rows of 480-character fields make a 6,000-character menu."""
    long = "负责工艺改进、质量攻关与青年技工培养，" * 24
    rows = [
        {
            "name": f"成员{i}",
            "gender": "男",
            "birth": "1985-03",
            "education": "大学本科",
            "tech_title": long[:480],
            "department": long[:480],
            "role": long[:480],
        }
        for i in range(3)
    ]
    async with sessions.begin() as s:
        user = await repo.get_or_create_user(
            s, channel="telegram", external_id=str(USER), display_name="王伟", now=NOW
        )
        app = await repo.create_application(
            s,
            user_id=user.id or 0,
            program_id="cccc-model",
            program_version=1,
            cursor={"mode": "ask", "q": "core_members"},
            now=NOW,
        )
        repo.touch_application(
            app, answers={"core_members": rows}, cursor={"mode": "ask", "q": "core_members"},
            now=NOW,
        )
        await s.execute(
            update(Person).where(Person.id == user.id).values(active_application_id=app.id)  # type: ignore[arg-type]
        )
    conversation = Conversation(registry=REGISTRY, sessions=sessions, files=file_store)
    async with polling(config_for(api), conversation):
        for command in ("start", "cancel", "apply"):
            api.mark_seen(USER)
            api.send_command(USER, command)
            await api.wait_for_reply(USER)
            await api.settle()
        api.mark_seen(USER)
        api.press_button(USER, "中国交建工会联合会 · 劳模（工匠人才）创新工作室")
        await api.wait_for_reply(USER)
        await api.settle()
    sent = api.sent_to(USER)
    assert within_limit(sent)
    assert BOT.t("bot.error") not in [m.text for m in sent]
    # The table was shown whole each time, in pieces, and the buttons came with the last piece.
    assert sum(1 for m in sent if rows[2]["role"][:200] in (m.text or "")) >= 3
    assert sent[-1].buttons
    assert api.unanswered_callbacks() == []


async def test_forged_and_oversized_input_gets_a_hint_not_an_apology(real: FakeBotAPI) -> None:
    real.send_command(USER, "x" * 4090)
    [unknown] = await real.wait_for_reply(USER)
    assert utf16_length(unknown.text or "") <= 4096
    real.send_command(USER, "apply")
    await real.wait_for_reply(USER)
    real.press_button(USER, "大连市总工会 · 劳模创新工作室")
    await real.wait_for_reply(USER)
    real.mark_seen(USER)
    real.send_text(USER, "王伟\x00劳模创新工作室\ud800" + "甲" * 5000)
    replies = await real.wait_for_reply(USER)
    assert within_limit(replies)
    assert BOT.t("bot.error") not in [m.text for m in replies]
    question = real.last_message(USER, with_buttons=True)
    for data in ("d1:7:1:2147483648:0", "d1:7:1:1:-5", "d1:7:99999999999:1:1", "d1:99:0:0:0"):
        real.press(USER, question, data)
    await real.settle()
    assert real.unanswered_callbacks() == []
    assert BOT.t("bot.error") not in [m.text for m in real.sent_to(USER)]
