"""A team of 30 on Telegram: one pasted message, and the .xlsx template sent by the
bot, filled in and sent back as a document (the real polling loop, the fake Bot API)."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from dialogs.ui import Action
from storage.files import MIME_XLSX
from tests import test_bot_programs
from tests.fakebotapi import FakeBotAPI
from tests.test_bot_programs import REGISTRY, Running
from tests.test_tables import BEIJING, NOW, member
from tests.tg_driver import application, open_program, send_move
from tests.walkthrough import Applicant, Move, Press

running = test_bot_programs.running


async def to_members(run: Running, user_id: int) -> None:
    """Open Beijing and answer as the scripted applicant up to the team's menu."""
    program = REGISTRY.get(BEIJING)
    assert program is not None
    await open_program(run.api, REGISTRY, user_id, BEIJING)
    applicant = Applicant(program, NOW.date())
    for _ in range(60):
        app = await application(run.sessions, user_id, BEIJING)
        assert app is not None
        if app.cursor.get("q") == "members":
            return
        await step(run.api, user_id, applicant.next_move(app.answers, app.cursor))
    raise AssertionError("the team's menu was not reached")


async def step(api: FakeBotAPI, user_id: int, move: Move) -> None:
    """One move, then wait until the bot has answered it."""
    before = len(api.sent_to(user_id))
    await send_move(api, user_id, move)
    await api.wait_for(lambda: len(api.sent_to(user_id)) > before, timeout=20)
    await api.settle(quiet=0.05, timeout=20)


async def members(run: Running, user_id: int) -> list[dict[str, object]]:
    app = await application(run.sessions, user_id, BEIJING)
    assert app is not None
    return list(app.answers.get("members") or [])


async def test_a_team_of_thirty_pasted_in_one_message(running: Running) -> None:
    user_id = 8101
    await to_members(running, user_id)
    paste = "\n".join("，".join(member(i)) for i in range(30))
    before = len(running.api.sent_to(user_id))
    running.api.send_text(user_id, paste)
    await running.api.wait_for(lambda: len(running.api.sent_to(user_id)) > before, timeout=20)
    await running.api.settle(quiet=0.05, timeout=20)
    assert all(len(m.text or "") <= 4096 for m in running.api.sent_to(user_id))
    await step(running.api, user_id, Press(Action.TABLE_OK, 30))
    assert [r["name"] for r in await members(running, user_id)] == [member(i)[0] for i in range(30)]


async def test_the_template_sent_filled_in_and_sent_back(running: Running) -> None:
    user_id = 8102
    api = running.api
    await to_members(running, user_id)
    await step(api, user_id, Press(Action.TABLE_TEMPLATE))
    sent = [m for m in api.sent_to(user_id) if m.method == "sendDocument"]
    assert len(sent) == 1
    assert (sent[0].file_name or "").endswith(".xlsx")
    assert sent[0].file_data is not None
    book = load_workbook(io.BytesIO(sent[0].file_data))
    sheet = book.active
    assert sheet is not None
    for i in range(30):
        for c, value in enumerate(member(i), start=1):
            sheet.cell(row=3 + i, column=c, value=value)
    out = io.BytesIO()
    book.save(out)

    before = len(api.sent_to(user_id))
    api.send_document(user_id, out.getvalue(), "我的团队.xlsx", MIME_XLSX)
    await api.wait_for(lambda: len(api.sent_to(user_id)) > before, timeout=20)
    await api.settle(quiet=0.05, timeout=20)
    await step(api, user_id, Press(Action.TABLE_OK, 30))
    assert len(await members(running, user_id)) == 30
