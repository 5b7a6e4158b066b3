"""Question types that do not trap a user: a skipped optional upload or table does not
block submission, a long text in progress keeps its way back and its parts, typed
options add to the ticks of a multiple choice, a refused answer keeps the question's
buttons, and a tick edits the Telegram message in place instead of stacking copies.

Engine behaviour on inline definitions (views, actions, cursor, answers), then the
real Yangpu program through the conversation service, then Telegram over HTTP with
the fake Bot API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.callbacks import DialogCallback
from dialogs.i18n import Locale
from dialogs.loader import ProgramRegistry, load_registry
from dialogs.qtypes.base import stable_key
from dialogs.render import render
from dialogs.service import Conversation
from dialogs.ui import Action, ButtonIn, CommandIn, Reply, TextIn, UserRef
from storage import repo
from storage.db import SessionFactory
from storage.files import FileStore
from tests.fakebotapi import FakeBotAPI, SentMessage
from tests.test_engine import HEADER, LOC, Run, define, has, params, uses
from tests.test_programs_e2e import NOW, REGISTRY, _event
from tests.tg_driver import first_question
from tests.walkthrough import Applicant, Move, Press

ZH = Locale("zh-CN")

# --------------------------------------------------------------------------- optional minimums

OPTIONAL_MINIMUMS = """
sections:
  - id: name
    title: 名称
    questions:
      - {id: name, label: 工作室名称, type: text, help: h}
  - id: extras
    title: 附件
    questions:
      - {id: photos, label: 照片, type: photo, required: false, min_files: 3, max_files: 5, help: h}
      - id: team
        label: 团队成员
        type: group
        required: false
        min_rows: 2
        help: h
        fields:
          - {id: who, label: 姓名, type: text, help: h}
"""


def test_skipped_optional_photos_and_table_do_not_block_submission(tmp_path: Path) -> None:
    run = Run(define(tmp_path, OPTIONAL_MINIMUMS))
    run.text("张伟创新工作室")
    assert run.at == "photos"
    assert has(run.view, Action.SKIP)  # before the first file, 跳过 is there
    run.press(Action.SKIP)
    assert run.answers["photos"] is None
    assert run.at == "team"
    run.press(Action.SKIP)
    assert run.cursor == {"mode": "preview"}
    w = run.walker()
    assert w.problems() == []
    assert w.submit()


def test_a_minimum_still_binds_an_optional_question_once_answered(tmp_path: Path) -> None:
    run = Run(define(tmp_path, OPTIONAL_MINIMUMS), {"name": "x", "photos": [1], "team": [{}]})
    problems = run.walker().problems()
    keys = [p.key for p in problems]
    assert "engine.problem.files" in keys
    assert "engine.problem.rows" in keys


def test_done_on_an_optional_upload_without_files_moves_on(tmp_path: Path) -> None:
    run = Run(define(tmp_path, OPTIONAL_MINIMUMS), {"name": "x"}, {"mode": "ask", "q": "photos"})
    run.press(Action.DONE)
    assert run.at == "team"
    run.press(Action.DONE)  # an empty optional table: done is a skip
    assert run.answers["team"] == []
    assert run.cursor == {"mode": "preview"}


def test_text_typed_at_an_optional_upload_keeps_skip_on_screen(tmp_path: Path) -> None:
    run = Run(define(tmp_path, OPTIONAL_MINIMUMS), {"name": "x"}, {"mode": "ask", "q": "photos"})
    [said] = run.text("没有照片").views
    assert said.keys() == ["engine.upload.send_photo"]
    assert has(said, Action.SKIP)
    assert has(said, Action.BACK)
    assert has(said, Action.SAVE_EXIT)


# --------------------------------------------------------------------------- long text

LONG = """
sections:
  - id: s
    title: 简介
    questions:
      - {id: name, label: 工作室名称, type: text, help: h}
      - {id: intro, label: 工作室简介, type: longtext, required: false, min_chars: 10, help: h}
      - {id: after, label: 联系人, type: text, help: h}
"""


def test_long_text_in_progress_offers_back_and_save_but_not_skip(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LONG), {"name": "x"}, {"mode": "ask", "q": "intro"})
    assert has(run.view, Action.SKIP)  # nothing typed yet: an optional text can be skipped
    [progress] = run.text("第一段").views
    assert progress.keys() == ["engine.longtext.progress_min"]
    for action in (Action.DONE, Action.CLEAR, Action.BACK, Action.SAVE_EXIT):
        assert has(progress, action), action
    # 跳过 and 保留当前答案 would throw the typed parts away with one tap
    assert not has(progress, Action.SKIP)
    assert not has(progress, Action.KEEP)
    assert not has(run.view, Action.SKIP)


def test_back_during_a_long_text_keeps_the_parts_for_the_return(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LONG), {"name": "x"}, {"mode": "ask", "q": "intro"})
    for part in ("第一段内容", "第二段内容", "第三段内容"):
        run.text(part)
    parts = ["第一段内容", "第二段内容", "第三段内容"]
    step = run.press(Action.BACK)
    assert run.at == "name"
    assert step.events == []
    assert "s" not in run.cursor
    assert "intro" not in run.answers
    run.press(Action.KEEP)
    assert run.at == "intro"
    assert run.cursor["s"] == {"buf": parts}
    assert "held" not in run.cursor
    assert uses(run.view, "engine.longtext.buffered")
    run.text("第四段")
    step = run.press(Action.DONE)
    assert step.events == [("intro", "\n".join([*parts, "第四段"]))]


def test_a_long_text_held_through_the_preview_and_an_edit(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LONG), {"name": "x"}, {"mode": "ask", "q": "intro", "edit": "s"})
    run.text("写了一半的简介")
    run.press(Action.PREVIEW)
    assert run.cursor["mode"] == "preview"
    run.press(Action.EDIT_SECTION, 0, "s")
    run.press(Action.KEEP)
    assert run.at == "intro"
    assert run.cursor["s"] == {"buf": ["写了一半的简介"]}


def test_clearing_then_skipping_a_long_text_leaves_nothing_behind(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LONG), {"name": "x"}, {"mode": "ask", "q": "intro"})
    run.text("不要了")
    run.press(Action.CLEAR)
    run.press(Action.SKIP)
    assert run.answers["intro"] is None
    assert "held" not in run.cursor
    run.press(Action.BACK)
    assert "s" not in run.cursor


def test_skip_typed_during_a_long_text_skips_and_holds_the_parts(tmp_path: Path) -> None:
    """跳过 is not offered while parts are in, but typed as a word it is the press: the
    question is skipped and the parts wait for a return, rather than being lost."""
    run = Run(define(tmp_path, LONG), {"name": "x"}, {"mode": "ask", "q": "intro"})
    run.text("三段里的第一段")
    run.press(Action.SKIP)
    assert run.at == "after"
    assert run.answers["intro"] is None
    run.press(Action.BACK)
    assert run.cursor["s"] == {"buf": ["三段里的第一段"]}


def long_registry(folder: Path) -> ProgramRegistry:
    folder.mkdir()
    (folder / "long.yaml").write_text(HEADER.replace("t-prog", "long") + LONG, encoding="utf-8")
    return load_registry(folder)


def press(reply: Reply, action: Action) -> ButtonIn:
    [(arg, key)] = [(b.arg, b.key) for row in reply.buttons for b in row if b.action is action]
    return ButtonIn(action, arg, reply.application_id, reply.revision, key)


async def test_save_and_exit_during_a_long_text_then_resume_keeps_the_parts(
    sessions: SessionFactory, file_store: FileStore, tmp_path: Path
) -> None:
    conversation = Conversation(
        registry=long_registry(tmp_path / "programs"), sessions=sessions, files=file_store
    )
    user = UserRef("telegram", "u-long", "测试用户")
    out = await conversation.handle(user, CommandIn("apply"))
    out = await conversation.handle(user, press(out.replies[0], Action.PICK_PROGRAM))
    await conversation.handle(user, TextIn("张伟创新工作室"))
    await conversation.handle(user, TextIn("第一段的内容"))
    out = await conversation.handle(user, TextIn("第二段的内容"))
    [progress] = out.replies
    out = await conversation.handle(user, press(progress, Action.SAVE_EXIT))
    out = await conversation.handle(user, CommandIn("apply"))
    out = await conversation.handle(user, press(out.replies[0], Action.PICK_PROGRAM))
    question = out.replies[-1]
    assert any(b.action is Action.DONE for row in question.buttons for b in row)
    out = await conversation.handle(user, press(question, Action.DONE))
    async with sessions() as session:
        person = await repo.get_or_create_user(
            session, channel="telegram", external_id="u-long", display_name="", now=NOW
        )
        [app] = await repo.list_applications(session, user_id=person.id or 0)
    assert app.answers["intro"] == "第一段的内容\n第二段的内容"


ROW_LONG = """
sections:
  - id: s
    title: 团队
    questions:
      - id: team
        label: 团队成员
        type: group
        help: h
        fields:
          - {id: who, label: 姓名, type: text, help: h}
          - {id: deeds, label: 主要事迹, type: longtext, help: h}
"""


def test_a_long_text_in_a_row_is_held_when_going_back_a_field(tmp_path: Path) -> None:
    run = Run(define(tmp_path, ROW_LONG))
    run.press(Action.ROW_ADD)
    run.text("张伟")
    assert run.cursor["f"] == "deeds"
    run.text("事迹第一段")
    run.press(Action.BACK)
    assert run.cursor["f"] == "who"
    assert "s" not in run.cursor
    run.text("张伟")
    assert run.cursor["f"] == "deeds"
    assert run.cursor["s"] == {"buf": ["事迹第一段"]}


def test_deleting_a_row_forgets_the_drafts_held_for_its_table(tmp_path: Path) -> None:
    run = Run(define(tmp_path, ROW_LONG))
    run.press(Action.ROW_ADD)
    run.text("张伟")
    run.text("事迹第一段")
    run.press(Action.BACK)
    run.press(Action.BACK)  # to the table
    assert run.cursor["held"] == {"team[0].deeds": {"buf": ["事迹第一段"]}}
    run.press(Action.ROW_DELETE, 0)
    run.press(Action.ROW_DELETE_OK, 0)
    assert "held" not in run.cursor
    run.press(Action.ROW_ADD)
    run.text("李强")
    assert "s" not in run.cursor


# --------------------------------------------------------------------------- multiple choice

MULTI = """
sections:
  - id: work
    title: 创新方向
    questions:
      - id: fields
        label: 创新领域
        type: multichoice
        options: [技术攻关, 工艺改进, 人才培养, 节能减排]
        help: h
      - {id: after, label: 联系人, type: text, help: h}
"""


def test_typed_options_add_to_the_ticks_and_say_what_is_ticked(tmp_path: Path) -> None:
    run = Run(define(tmp_path, MULTI))
    run.press(Action.TOGGLE, 0, stable_key("技术攻关"))
    step = run.text("3")
    assert step.events == []
    assert run.at == "fields"
    assert run.cursor["s"] == {"sel": ["技术攻关", "人才培养"]}
    [said] = step.views
    assert said.keys() == ["types.multichoice.ticked"]
    assert [p.text for p in params(said, "types.multichoice.ticked")["ticked"].parts] == [
        "技术攻关",
        "人才培养",
    ]
    assert {b[2] for b in said.actions() if b[0] is Action.TOGGLE} == {
        stable_key(o) for o in ("技术攻关", "工艺改进", "人才培养", "节能减排")
    }
    assert has(said, Action.DONE)
    assert has(said, Action.BACK) is False  # the first question: nowhere back to
    assert has(said, Action.SAVE_EXIT)
    # an option typed again stays ticked
    run.text("技术攻关、节能减排")
    assert run.cursor["s"] == {"sel": ["技术攻关", "人才培养", "节能减排"]}
    run.press(Action.DONE)
    assert run.answers["fields"] == ["技术攻关", "人才培养", "节能减排"]
    assert run.at == "after"


def test_typing_adds_to_a_stored_answer(tmp_path: Path) -> None:
    run = Run(define(tmp_path, MULTI), {"fields": ["工艺改进"]}, {"mode": "ask", "q": "fields"})
    run.text("4")
    assert run.cursor["s"] == {"sel": ["工艺改进", "节能减排"]}
    assert run.answers["fields"] == ["工艺改进"]


def test_a_tick_replaces_the_pressed_screen_and_moving_on_does_not(tmp_path: Path) -> None:
    run = Run(define(tmp_path, MULTI))
    [ticked] = run.press(Action.TOGGLE, 0, stable_key("工艺改进")).views
    assert ticked.kind == "question"
    assert ticked.replaces
    [done] = run.press(Action.DONE).views
    assert not done.replaces
    # a refused press shows a notice first: nothing is replaced
    run2 = Run(define(tmp_path, MULTI))
    assert not any(v.replaces for v in run2.press(Action.DONE).views)


def test_clearing_a_long_text_replaces_the_pressed_screen(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LONG), {"name": "x"}, {"mode": "ask", "q": "intro"})
    run.text("写错了")
    [cleared] = run.press(Action.CLEAR).views
    assert cleared.replaces


# --------------------------------------------------------------------------- refusals

CHOICE = """
sections:
  - id: s
    title: 基本情况
    questions:
      - {id: name, label: 工作室名称, type: text, help: h}
      - {id: level, label: 申报级别, type: choice, required: false, options: [市级, 区级], help: h}
"""


def test_a_refused_answer_keeps_the_buttons_without_the_question_again(tmp_path: Path) -> None:
    program = define(tmp_path, CHOICE)
    run = Run(program, {"name": "x"}, {"mode": "ask", "q": "level"})
    [refused] = run.text("省级").views
    assert refused.keys() == ["validation.choice"]
    for action in (Action.CHOOSE, Action.SKIP, Action.BACK, Action.SAVE_EXIT):
        assert has(refused, action), action
    assert refused.actions() == run.view.actions()
    assert refused.kind == "notice"
    assert not uses(refused, "engine.label")  # not the whole question again
    assert len(render(refused, LOC).text) < 4096


def test_a_refusal_after_a_huge_paste_still_fits_a_message(tmp_path: Path) -> None:
    run = Run(define(tmp_path, CHOICE), {"name": "x"}, {"mode": "ask", "q": "level"})
    [refused] = run.text("省" * 5000).views
    assert has(refused, Action.CHOOSE)
    assert len(render(refused, LOC).text) <= 4096


# --------------------------------------------------------------------------- the real Yangpu


class SkipsUploads(Applicant):
    """The scripted applicant, who skips optional photos and files."""

    def _upload(self, q: Any, count: int) -> Move:
        if not q.required and count == 0:
            return Press(Action.SKIP)
        return super()._upload(q, count)


async def test_yangpu_with_its_photos_skipped_is_submitted(
    sessions: SessionFactory, file_store: FileStore
) -> None:
    conversation = Conversation(
        registry=REGISTRY, sessions=sessions, files=file_store, clock=lambda: NOW
    )
    user = UserRef("telegram", "u-yangpu-skip", "测试用户")
    program = REGISTRY.get("yangpu-model")
    assert program is not None
    out = await conversation.handle(user, CommandIn("apply"))
    pick = next(b for row in out.replies[0].buttons for b in row if b.key == program.id)
    out = await conversation.handle(user, ButtonIn(pick.action, pick.arg, 0, 0, pick.key))
    applicant = SkipsUploads(program, NOW.date())
    skipped = False
    for _ in range(600):
        async with sessions() as session:
            person = await repo.get_or_create_user(
                session, channel="telegram", external_id=user.external_id, display_name="", now=NOW
            )
            [app] = await repo.list_applications(session, user_id=person.id or 0)
        if app.status == "submitted":
            break
        move = applicant.next_move(app.answers, app.cursor)
        if move == Press(Action.SKIP) and app.cursor.get("q") == "photos":
            skipped = True
        out = await conversation.handle(user, _event(move, out))
    else:
        raise AssertionError("the walk did not finish")
    assert skipped
    assert app.answers["photos"] is None
    assert app.status == "submitted"


# --------------------------------------------------------------------------- Telegram

ONE_MULTI = HEADER.replace("t-prog", "tick") + MULTI


def tick_registry(folder: Path) -> ProgramRegistry:
    folder.mkdir()
    (folder / "tick.yaml").write_text(ONE_MULTI, encoding="utf-8")
    return load_registry(folder)


@asynccontextmanager
async def tick_bot(
    api: FakeBotAPI, sessions: SessionFactory, files: FileStore, folder: Path, user: int
) -> AsyncIterator[SentMessage]:
    """The real bot polling the fake Bot API for a one-question program; yields the
    multiple-choice question as the user received it."""
    async with first_question(api, tick_registry(folder), sessions, files, user) as question:
        yield question


def revision(message: SentMessage) -> int:
    return DialogCallback.unpack(message.button(0).callback_data or "").r


async def test_four_ticks_edit_one_telegram_message(
    api: FakeBotAPI, sessions: SessionFactory, file_store: FileStore, tmp_path: Path
) -> None:
    user = 2002
    async with tick_bot(api, sessions, file_store, tmp_path / "programs", user) as question:
        revisions = [revision(question)]
        for label in ("技术攻关", "人才培养", "技术攻关", "节能减排"):
            api.press_button(user, label, message=question)
            await api.settle()
            assert api.new_messages(user) == []  # nothing new in the chat
            revisions.append(revision(question))
        assert question.edits == 4
        edits = [
            c
            for c in api.calls_to("editMessageReplyMarkup")
            if c.params.get("message_id") == str(question.message_id)
        ]
        assert len(edits) == 4
        # the edited buttons carry each new revision, so the next tick is not stale
        assert revisions == sorted(set(revisions))
        assert "☑ 人才培养" in question.labels
        assert "☑ 节能减排" in question.labels
        assert "☐ 技术攻关" in question.labels
        api.press_button(user, "完成", message=question)
        [after] = await api.wait_for_reply(user)
        assert (after.text or "").startswith("第 2/")
        assert question.buttons == []  # moving on: the old keyboard is removed as before


async def test_a_failed_edit_sends_the_screen_anew(
    api: FakeBotAPI, sessions: SessionFactory, file_store: FileStore, tmp_path: Path
) -> None:
    user = 2003
    async with tick_bot(api, sessions, file_store, tmp_path / "programs", user) as question:
        api.fail_next(
            "editMessageReplyMarkup", status=400, description="Bad Request: message can't be edited"
        )
        api.press_button(user, "工艺改进", message=question)
        [again] = await api.wait_for_reply(user)
        assert "☑ 工艺改进" in again.labels
        assert question.buttons == []  # the old keyboard is removed instead


async def test_a_typed_option_answers_with_the_buttons_on_telegram(
    api: FakeBotAPI, sessions: SessionFactory, file_store: FileStore, tmp_path: Path
) -> None:
    user = 2004
    async with tick_bot(api, sessions, file_store, tmp_path / "programs", user):
        api.send_text(user, "2")
        [said] = await api.wait_for_reply(user)
        assert "☑ 工艺改进" in said.labels
        api.press_button(user, "人才培养", message=said)
        await api.settle()
        assert api.new_messages(user) == []
        assert "☑ 人才培养" in said.labels


async def test_quick_taps_on_the_same_screen_are_not_out_of_date(
    api: FakeBotAPI, sessions: SessionFactory, file_store: FileStore, tmp_path: Path
) -> None:
    """Two options tapped before the first edit reached the screen: the second tap
    carries the revision of before, and still ticks its option in the same message."""
    user = 2005
    async with tick_bot(api, sessions, file_store, tmp_path / "programs", user) as question:
        first = question.button("技术攻关").callback_data or ""
        second = question.button("人才培养").callback_data or ""
        api.press(user, question, first)
        api.press(user, question, second)
        await api.settle()
        assert api.new_messages(user) == []
        assert "☑ 技术攻关" in question.labels
        assert "☑ 人才培养" in question.labels
        stale = ZH.t("engine.stale")
        assert all(c.text != stale for c in api.answered_callbacks)
        api.press_button(user, "完成", message=question)
        await api.wait_for_reply(user)
        # once the user moved on, a button of the old screen is out of date as before
        api.press(user, question, first)
        await api.wait_for_reply(user)
        assert api.answered_callbacks[-1].text == stale
