"""Each of the five real programs, walked from /apply to submission.

The scripted applicant answers every question validly through the
conversation service; the test then checks that the application is submitted,
that every seed label was shown to the user, and that the review chain and
history were recorded.  Telegram-level walks are in test_bot_programs.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dialogs.loader import load_registry
from dialogs.service import Conversation
from dialogs.ui import ButtonIn, CommandIn, Inbound, Outcome, UserRef
from storage import repo
from storage.db import SessionFactory
from storage.files import FileStore
from tests.stored import answer_history
from tests.test_program_definitions import FORM_LABELS, GROUP_COLUMNS
from tests.walkthrough import Applicant, Press, event_for

NOW = dt.datetime(2026, 5, 20, 2, 0, tzinfo=dt.UTC)
REGISTRY = load_registry()


def _conversation(sessions: SessionFactory, files: FileStore) -> Conversation:
    return Conversation(registry=REGISTRY, sessions=sessions, files=files, clock=lambda: NOW)


def _event(move: Any, last: Outcome) -> Inbound:
    if isinstance(move, Press):
        rev = next((r for r in reversed(last.replies) if r.buttons), last.replies[-1])
        offered = [(b.action, b.arg, b.key) for row in rev.buttons for b in row]
        assert (move.action, move.arg, move.key) in offered, f"{move} not offered: {rev.text}"
    return event_for(move, last)


async def walk(conversation: Conversation, user: UserRef, program_id: str) -> tuple[list[str], int]:
    """Apply for ``program_id`` and answer until submitted; returns all texts shown."""
    program = REGISTRY.get(program_id)
    assert program is not None
    shown: list[str] = []
    out = await conversation.handle(user, CommandIn("apply"))
    index = [p.id for p in REGISTRY].index(program_id)
    menu = out.replies[0]
    assert menu.buttons[index][0].label == program.button_title
    pick = menu.buttons[index][0]
    out = await conversation.handle(user, ButtonIn(pick.action, pick.arg, 0, 0, pick.key))
    applicant = Applicant(program, NOW.date())
    for _ in range(600):
        shown += [r.text for r in out.replies]
        async with conversation.sessions() as session:
            users = await repo.get_or_create_user(
                session,
                channel=user.channel,
                external_id=user.external_id,
                display_name="",
                now=NOW,
            )
            apps = await repo.list_applications(session, user_id=users.id or 0)
            app = next(a for a in apps if a.program_id == program_id)
        if app.status == "submitted":
            return shown, app.id or 0
        move = applicant.next_move(app.answers, app.cursor)
        out = await conversation.handle(user, _event(move, out))
        assert "duplicate" not in str(out.replies)
    raise AssertionError("the walk did not finish")


@pytest.mark.parametrize("program_id", [p.id for p in REGISTRY])
async def test_program_walk_to_submission(
    program_id: str, sessions: SessionFactory, file_store: FileStore
) -> None:
    conversation = _conversation(sessions, file_store)
    user = UserRef("telegram", f"u-{program_id}", "测试用户")
    shown, app_id = await walk(conversation, user, program_id)
    text = "\n".join(shown)
    program = REGISTRY.get(program_id)
    assert program is not None
    columns = [c for cols in GROUP_COLUMNS.get(program_id, {}).values() for c in cols]
    for label in FORM_LABELS[program_id] + columns:
        assert label in text, f"seed label {label!r} never shown in {program_id}"
    assert "📋" in text  # the preview was shown before submission
    assert any("已提交" in s for s in shown)
    async with sessions() as session:
        app = await repo.get_application(session, application_id=app_id)
        history = await answer_history(session, application_id=app_id)
    assert app is not None
    assert app.status == "submitted"
    assert app.submitted_at == NOW
    assert len(history) >= len(program.questions()) - 5
    status = await conversation.handle(user, CommandIn("status"))
    assert program.review_chain[0].reviewer in status.replies[0].text
