"""``studiobot reminders plan|send --at MOMENT`` as an operator runs it: a real
``studiobot`` process on this test's database (SQLite, and PostgreSQL when
configured), ``send`` delivering over HTTP to the project's fake Bot API.

A leader has a draft of ``dalian-model``, whose deadline is July 31: seven days
before, ``plan`` names them and writes nothing, ``send`` delivers the one
reminder with the button that resumes the draft and exits, a second ``send``
sends nothing, and after the deadline nothing is planned.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import col, select

from bot.callbacks import DialogCallback
from dialogs.i18n import Locale
from dialogs.loader import load_registry
from dialogs.service import Conversation
from dialogs.ui import Action, UserRef
from storage.db import SessionFactory
from storage.files import FileStore
from storage.models import Application, ChannelIdentity, OutboxMessage, Person
from tests.fakebotapi import FakeBotAPI
from tests.test_reminders import at, begin_draft

ROOT = Path(__file__).resolve().parents[1]
ZH = Locale("zh-CN")
WEEK_BEFORE = "2027-07-24T09:00+08:00"
AFTER_DEADLINE = "2027-08-01T09:00+08:00"
CHAT = 7001
CLI_TIMEOUT = 120


@dataclass
class Done:
    code: int
    out: str
    err: str

    def lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.strip()]


async def studiobot(
    *args: str, database_url: str, cwd: Path, env: dict[str, str] | None = None
) -> Done:
    """``studiobot ARGS`` in a child process with only this test's settings (no ``.env``:
    the working folder is the test's own), awaited while the event loop goes on
    serving the fake Bot API."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STUDIOBOT_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "studiobot.cli",
        *args,
        cwd=cwd,
        env={
            **clean,
            "PYTHONPATH": str(ROOT),
            "STUDIOBOT_DATABASE_URL": database_url,
            "STUDIOBOT_DATA_DIR": str(cwd / "data"),
            **(env or {}),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"studiobot {' '.join(args)} did not exit") from None
    assert proc.returncode is not None
    return Done(proc.returncode, out.decode(), err.decode())


async def a_leader_with_a_draft(
    sessions: SessionFactory, tmp_path: Path, chat: int = CHAT, name: str = "王师傅"
) -> int:
    """A leader on Telegram who opened a ``dalian-model`` draft in June; its id."""
    conv = Conversation(
        registry=load_registry(),
        sessions=sessions,
        files=FileStore(tmp_path / "files"),
        clock=lambda: at("2027-06-20T10:00"),
    )
    return await begin_draft(conv, UserRef("telegram", str(chat), name), "dalian-model")


async def outbox_rows(sessions: SessionFactory) -> list[OutboxMessage]:
    async with sessions() as s:
        found = await s.execute(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return list(found.scalars().all())


async def test_plan_names_the_leader_and_writes_nothing(
    database_url: str, sessions: SessionFactory, tmp_path: Path
) -> None:
    await a_leader_with_a_draft(sessions, tmp_path)
    done = await studiobot("reminders", "plan", "--at", WEEK_BEFORE, database_url=database_url,
                           cwd=tmp_path)  # fmt: skip
    assert done.code == 0, done.err
    [line, summary] = done.lines()
    kind = ZH.t("remind.settings.kind.deadline")
    assert line.startswith(f"2027-07-24 09:00  {kind}  王师傅：")
    assert "2027-07-31" in line
    assert summary == ZH.t("remind.cli.planned", count=1, at="2027-07-24T09:00:00+08:00")
    assert await outbox_rows(sessions) == []


async def test_send_delivers_the_reminder_once_and_exits(
    database_url: str, sessions: SessionFactory, api: FakeBotAPI, tmp_path: Path
) -> None:
    app_id = await a_leader_with_a_draft(sessions, tmp_path)
    env = {"STUDIOBOT_BOT_TOKEN": api.token, "STUDIOBOT_TELEGRAM_API_URL": api.url}

    done = await studiobot("reminders", "send", "--at", WEEK_BEFORE, database_url=database_url,
                           cwd=tmp_path, env=env)  # fmt: skip
    assert done.code == 0, done.err
    assert done.lines() == [
        ZH.t("remind.cli.written", count=1, at="2027-07-24T09:00:00+08:00"),
        ZH.t("remind.cli.sent", sent=1, failed=0),
    ]
    [message] = api.sent_to(CHAT)
    assert "2027-07-31" in (message.text or "")
    assert message.labels == [ZH.t("remind.btn.resume")]
    async with sessions() as s:
        app = await s.get(Application, app_id)
        assert app is not None
    data = message.button(0).callback_data
    assert data is not None
    assert data == DialogCallback(a=Action.RESUME, g=app_id, p=app_id, r=app.revision, k="").pack()
    [row] = await outbox_rows(sessions)
    assert row.sent_at is not None
    assert row.attempts == 1

    again = await studiobot("reminders", "send", "--at", WEEK_BEFORE, database_url=database_url,
                            cwd=tmp_path, env=env)  # fmt: skip
    assert again.code == 0, again.err
    assert again.lines() == [
        ZH.t("remind.cli.written", count=0, at="2027-07-24T09:00:00+08:00"),
        ZH.t("remind.cli.sent", sent=0, failed=0),
    ]
    assert len(api.calls_to("sendMessage")) == 1
    assert len(await outbox_rows(sessions)) == 1


async def test_after_the_deadline_nothing_is_planned_or_sent(
    database_url: str, sessions: SessionFactory, api: FakeBotAPI, tmp_path: Path
) -> None:
    await a_leader_with_a_draft(sessions, tmp_path)
    done = await studiobot("reminders", "plan", "--at", AFTER_DEADLINE, database_url=database_url,
                           cwd=tmp_path)  # fmt: skip
    assert done.code == 0, done.err
    assert done.lines() == [ZH.t("remind.cli.planned", count=0, at="2027-08-01T09:00:00+08:00")]
    env = {"STUDIOBOT_BOT_TOKEN": api.token, "STUDIOBOT_TELEGRAM_API_URL": api.url}
    sent = await studiobot("reminders", "send", "--at", AFTER_DEADLINE, database_url=database_url,
                           cwd=tmp_path, env=env)  # fmt: skip
    assert sent.code == 0, sent.err
    assert api.calls_to("sendMessage") == []
    assert await outbox_rows(sessions) == []


async def test_plan_without_a_zone_is_refused(
    database_url: str, sessions: SessionFactory, tmp_path: Path
) -> None:
    done = await studiobot("reminders", "plan", "--at", "2027-07-24T09:00",
                           database_url=database_url, cwd=tmp_path)  # fmt: skip
    assert done.code == 2
    assert "+08:00" in done.err


async def many_leaders(sessions: SessionFactory, count: int, first_chat: int) -> None:
    """``count`` leaders with a ``dalian-model`` draft each, stored directly."""
    now = at("2027-06-20T10:00")
    async with sessions.begin() as s:
        for n in range(count):
            person = Person(display_name=f"负责人{n}", created_at=now, updated_at=now)
            s.add(person)
            await s.flush()
            assert person.id is not None
            s.add(
                ChannelIdentity(
                    channel="telegram", external_id=str(first_chat + n), person_id=person.id,
                    created_at=now,
                )
            )  # fmt: skip
            s.add(
                Application(
                    user_id=person.id, program_id="dalian-model", status="draft", unanswered=3,
                    created_at=now, updated_at=now,
                )
            )  # fmt: skip


async def test_send_delivers_every_reminder_planned_before_it_exits(
    database_url: str, sessions: SessionFactory, api: FakeBotAPI, tmp_path: Path
) -> None:
    """At the product's own pace (25 a second) 120 reminders take about five seconds:
    the command must not exit while the sender still holds some of them."""
    await many_leaders(sessions, 120, first_chat=8000)
    env = {"STUDIOBOT_BOT_TOKEN": api.token, "STUDIOBOT_TELEGRAM_API_URL": api.url}
    done = await studiobot("reminders", "send", "--at", WEEK_BEFORE, database_url=database_url,
                           cwd=tmp_path, env=env)  # fmt: skip
    assert done.code == 0, done.err
    got = [len(api.sent_to(8000 + n)) for n in range(120)]
    rows = await outbox_rows(sessions)
    assert len(rows) == 120
    assert [r.dedupe_key for r in rows if r.sent_at is None] == []
    assert got == [1] * 120
