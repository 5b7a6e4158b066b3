"""Before and after submitting: one answer (or one field of a table row) changed straight
from the preview, the preview showing every answer whole, 提交 confirmed with the
receiving organisation named, a submitted declaration read from /status, a draft
discarded, and what /cancel says.

Engine tests drive small inline definitions (``tests.test_engine``); the flows run on
the real programs with the example organisation files (``tests.test_review_chain``).
Each test counts the inputs a user needs, since fewer inputs is the point.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from dialogs.qtypes.base import stable_key
from dialogs.schema import Program
from dialogs.service import Conversation
from dialogs.textfit import fit_replies, utf16_length
from dialogs.ui import Action, ButtonIn, CommandIn, Outcome, Reply, TextIn, UserRef
from dialogs.view import Answer, Msg, View, msg
from storage import repo
from storage.models import Application, AuditEntry
from tests.test_engine import (
    BRANCHING,
    GROUP,
    LINEAR,
    TEXT_LIMIT,
    Run,
    define,
    delivered,
    has,
    msgs,
    parts,
    uses,
)
from tests.test_programs_e2e import _event
from tests.test_review_chain import (
    CHAIN_FROM,
    REGISTRY,
    conv,
    person_id,
    press,
    stored,
    unit_name,
)
from tests.walkthrough import Applicant

__all__ = ["conv"]  # the fixture, used by name

COMPLETE_LINEAR = {
    "name": "大连港职工创新工作室",
    "members": 12,
    "site": None,
    "has_room": True,
    "level": "区级",
}
ROWS = [
    {"title": "数控机床改造", "income": "12.5", "savings": "3", "note": None},
    {"title": "焊接工艺优化", "income": "8", "savings": "2", "note": "省级奖"},
]


def key(question_id: str) -> str:
    return stable_key(question_id)


# --------------------------------------------------------------------------- one answer


def test_a_number_typed_in_the_preview_opens_that_answer_alone(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LINEAR), dict(COMPLETE_LINEAR), {"mode": "preview"})
    inputs = 0

    step = run.text("2")
    inputs += 1
    assert (run.mode, run.at, run.cursor["edit"]) == ("ask", "members", "q:members")
    [view] = step.views
    assert view.kind == "question"
    assert has(view, Action.PREVIEW)  # 返回预览 is offered while editing
    assert has(view, Action.KEEP)

    step = run.text("15")
    inputs += 1
    assert run.answers["members"] == 15
    assert run.mode == "preview"
    assert "edit" not in run.cursor
    assert [v.kind for v in step.views] == ["preview"]
    assert inputs <= 3
    # nothing else was touched
    assert {k: v for k, v in run.answers.items() if k != "members"} == {
        k: v for k, v in COMPLETE_LINEAR.items() if k != "members"
    }


def test_typed_numbers_are_forgiving(tmp_path: Path) -> None:
    program = define(tmp_path, LINEAR)
    for typed, at in [("改4", "has_room"), ("第５项", "level"), (" 修改 1 ", "name")]:
        run = Run(program, dict(COMPLETE_LINEAR), {"mode": "preview"})
        run.text(typed)
        assert (run.mode, run.at) == ("ask", at), typed


def test_a_number_out_of_range_or_a_word_changes_nothing(tmp_path: Path) -> None:
    program = define(tmp_path, LINEAR)
    for typed, said in [
        ("99", "preview.no_such"),
        ("2.1", "preview.no_such_row"),
        ("好的", "engine.preview.use_buttons"),
    ]:
        run = Run(program, dict(COMPLETE_LINEAR), {"mode": "preview"})
        step = run.text(typed)
        assert not step.changed
        assert run.mode == "preview"
        assert step.views[0].keys()[0] == said
        assert has(step.views[-1], Action.SUBMIT)


def test_a_section_picker_opens_one_answer_in_three_inputs(tmp_path: Path) -> None:
    program = define(tmp_path, LINEAR)
    run = Run(program, dict(COMPLETE_LINEAR), {"mode": "preview"})
    preview = run.view
    assert preview.expects_text  # a typed number is an answer here, not a button's
    picks = [k for a, _, k in preview.actions() if a is Action.EDIT_PICK]
    assert picks == ["basic", "cond"]

    step = run.press(Action.EDIT_PICK, 0, "cond")
    assert not step.changed  # a picker moves nothing: the preview's buttons stay good
    [picker] = step.views
    assert picker.kind == "pick"
    assert picker.actions() == [
        (Action.EDIT_ANSWER, 0, key("has_room")),
        (Action.EDIT_ANSWER, 0, key("level")),
        (Action.EDIT_SECTION, 0, "cond"),
        (Action.PREVIEW, 0, ""),
    ]
    numbers = [
        b.label.params["n"]
        for row in picker.buttons
        for b in row
        if isinstance(b.label, Msg) and "n" in b.label.params
    ]
    assert numbers[:2] == [4, 5]  # the preview's own numbers

    run.press(Action.EDIT_ANSWER, 0, key("level"))
    assert (run.mode, run.at) == ("ask", "level")
    step = run.choose("企业级")
    assert run.answers["level"] == "企业级"
    assert run.mode == "preview"
    assert [v.kind for v in step.views] == ["preview"]
    # three inputs: the section, the answer, the new value


def test_a_section_of_one_answer_opens_it_without_a_picker(tmp_path: Path) -> None:
    answers = {"has_room": False, "members": 5, "team_note": "分工", "promise": True}
    run = Run(define(tmp_path, BRANCHING), answers, {"mode": "preview"})
    step = run.press(Action.EDIT_PICK, 0, "end")
    assert (run.mode, run.at, run.cursor["edit"]) == ("ask", "promise", "q:promise")
    assert [v.kind for v in step.views] == ["question"]
    run.press(Action.CHOOSE, 0)
    assert run.mode == "preview"
    assert run.answers["promise"] is False


def test_keep_and_back_return_to_the_preview_unchanged(tmp_path: Path) -> None:
    program = define(tmp_path, LINEAR)
    for action in (Action.KEEP, Action.BACK, Action.PREVIEW):
        run = Run(program, dict(COMPLETE_LINEAR), {"mode": "preview"})
        run.text("2")
        step = run.press(action)
        assert run.mode == "preview", action
        assert run.answers == COMPLETE_LINEAR
        assert step.events == []
        assert [v.kind for v in step.views] == ["preview"]


def test_back_on_the_first_question_edited_alone_returns_to_the_preview(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LINEAR), dict(COMPLETE_LINEAR), {"mode": "preview"})
    run.text("1")
    assert run.at == "name"
    run.press(Action.BACK)
    assert run.mode == "preview"
    assert run.answers == COMPLETE_LINEAR


def test_a_follow_up_the_new_answer_opens_is_asked_then_the_preview(tmp_path: Path) -> None:
    answers = {"has_room": False, "members": 2, "promise": True}
    run = Run(define(tmp_path, BRANCHING), answers, {"mode": "preview"})
    run.text("1")
    run.press(Action.CHOOSE, 1)
    assert (run.mode, run.at, run.cursor["edit"]) == ("ask", "room_area", "q:room_area")
    run.text("50")
    assert run.mode == "preview"
    assert str(run.answers["room_area"]) == "50"


def test_forged_or_stale_edit_buttons_are_refused(tmp_path: Path) -> None:
    program = define(tmp_path, GROUP)
    answers = {"achievements": [dict(r) for r in ROWS], "promise": True}
    for action, arg, k in [
        (Action.EDIT_ANSWER, 0, "deadbeef"),
        (Action.EDIT_PICK, 0, "nosuch"),
        (Action.EDIT_ROW, 2, key("achievements")),
        (Action.EDIT_ROW, -1, key("achievements")),
        (Action.EDIT_ROW, 0, key("promise")),
        (Action.EDIT_FIELD, 0, key("achievements") + key("nosuch")),
        (Action.EDIT_FIELD, 5, key("achievements") + key("title")),
        (Action.EDIT_FIELD, 0, key("achievements") + key("total")),  # computed, never asked
    ]:
        run = Run(program, dict(answers), {"mode": "preview"})
        step = run.press(action, arg, k)
        assert step.toast == msg("engine.not_now"), (action, arg, k)
        assert not step.changed
        assert run.mode == "preview"
    # an edit button of the preview pressed while a question is asked is refused too
    run = Run(program, dict(answers), {"mode": "ask", "q": "promise"})
    step = run.press(Action.EDIT_ANSWER, 0, key("promise"))
    assert step.toast == msg("engine.not_now")


# --------------------------------------------------------------------------- one table row


def test_one_field_of_a_table_row_is_changed_in_four_inputs(tmp_path: Path) -> None:
    program = define(tmp_path, GROUP)
    answers: dict[str, Any] = {"achievements": [dict(r) for r in ROWS], "promise": True}
    run = Run(program, answers, {"mode": "preview"})
    rows = [(m.params["n"], m.params["row"]) for m in msgs(run.view, "preview.row")]
    assert rows == [(1, 1), (1, 2)]

    [picker] = run.press(Action.EDIT_PICK, 0, "results").views
    assert picker.actions()[:3] == [
        (Action.EDIT_ANSWER, 0, key("achievements")),  # the whole table: its menu
        (Action.EDIT_ROW, 0, key("achievements")),
        (Action.EDIT_ROW, 1, key("achievements")),
    ]
    step = run.press(Action.EDIT_ROW, 1, key("achievements"))
    assert not step.changed
    [fields] = step.views
    assert fields.kind == "pick"
    assert [(a, g, k[8:]) for a, g, k in fields.actions()] == [
        (Action.EDIT_FIELD, 1, key(f)) for f in ("title", "income", "savings", "note")
    ] + [(Action.PREVIEW, 0, "")]

    run.press(Action.EDIT_FIELD, 1, key("achievements") + key("title"))
    assert (run.at, run.row, run.field) == ("achievements", 1, "title")
    step = run.text("焊接机器人工艺优化")
    assert run.mode == "preview"
    assert [v.kind for v in step.views] == ["preview"]
    assert run.answers["achievements"] == [
        ROWS[0],
        {**ROWS[1], "title": "焊接机器人工艺优化"},
    ]
    # four inputs: the section, the row, the field, the new value


def test_a_row_typed_as_n_dot_r_opens_its_fields(tmp_path: Path) -> None:
    program = define(tmp_path, GROUP)
    answers: dict[str, Any] = {"achievements": [dict(r) for r in ROWS], "promise": True}
    run = Run(program, answers, {"mode": "preview"})
    step = run.text("1.2")
    assert not step.changed
    assert [v.kind for v in step.views] == ["pick"]
    run.press(Action.EDIT_FIELD, 1, key("achievements") + key("note"))
    step = run.press(Action.BACK)  # 上一步 on the field: back to the preview, nothing changed
    assert run.mode == "preview"
    assert run.answers["achievements"] == ROWS
    assert run.text("1.3").views[0].keys()[0] == "preview.no_such_row"


def test_the_whole_table_from_the_picker_returns_to_the_preview(tmp_path: Path) -> None:
    program = define(tmp_path, GROUP)
    answers: dict[str, Any] = {"achievements": [dict(r) for r in ROWS], "promise": True}
    run = Run(program, answers, {"mode": "preview"})
    run.press(Action.EDIT_ANSWER, 0, key("achievements"))
    assert run.view.kind == "group"
    run.press(Action.ROW_ADD)
    for typed in ("新工艺", "1", "1"):
        run.text(typed)
    run.press(Action.SKIP)
    assert (run.mode, run.row) == ("ask", None)  # back on the table's menu
    run.press(Action.DONE)
    assert run.mode == "preview"
    assert len(run.answers["achievements"]) == 3


def test_a_draft_saved_with_a_section_edit_still_reads(tmp_path: Path) -> None:
    run = Run(
        define(tmp_path, LINEAR),
        dict(COMPLETE_LINEAR),
        {"mode": "ask", "q": "name", "edit": "basic"},
    )
    run.press(Action.KEEP)
    assert (run.at, run.cursor["edit"]) == ("members", "basic")


# --------------------------------------------------------------------------- long texts


def test_the_preview_shows_a_long_text_whole_split_into_messages(tmp_path: Path) -> None:
    body = """
    sections:
      - id: story
        title: 工作室简介
        questions:
          - {id: intro, label: 简介, type: longtext, help: h}
          - {id: plan, label: 计划, type: longtext, help: h}
    """
    long = "工作室围绕设备故障诊断开展技术攻关，完成创新成果多项。" * 200  # 5400 characters
    run = Run(define(tmp_path, body), {"intro": long, "plan": "短"}, {"mode": "preview"})
    preview = run.view
    assert [a.clip for a in parts(preview) if isinstance(a, Answer)] == [None, None]
    messages = delivered([preview])
    assert len(messages) >= 2
    assert all(utf16_length(m.text) <= TEXT_LIMIT for m in messages)
    whole = "".join(m.text for m in messages)
    assert long.replace("。", "") in whole.replace("。", "").replace("\n", "")


# --------------------------------------------------------------------------- real programs


async def to_preview(conv: Conversation, user: UserRef, program: Program) -> Outcome:
    """Apply for ``program`` from its example unit and answer until the preview."""
    unit = await unit_name(conv, CHAIN_FROM[program.id][0])
    out = await conv.handle(user, CommandIn("apply"))
    pick = next(b for row in out.replies[0].buttons for b in row if b.key == program.id)
    out = await conv.handle(user, ButtonIn(pick.action, 0, 0, 0, pick.key))
    applicant = Applicant(program, dt_today(conv), unit=unit, rows=3)
    for _ in range(600):
        app = await current(conv, user, program.id)
        if app.cursor.get("mode") == "preview":
            return out
        out = await conv.handle(user, _event(applicant.next_move(app.answers, app.cursor), out))
    raise AssertionError("the walk did not reach the preview")


def dt_today(conv: Conversation) -> dt.date:
    return conv.clock().astimezone(conv.zone).date()


async def open_draft(conv: Conversation, user: UserRef, program: Program) -> Application:
    """A draft of ``program`` with its first answer given."""
    await conv.handle(user, ButtonIn(Action.PICK_PROGRAM, 0, 0, 0, program.id))
    await conv.handle(user, TextIn("大连重工"))
    return await current(conv, user, program.id)


async def current(conv: Conversation, user: UserRef, program_id: str) -> Application:
    pid = await person_id(conv, user)
    async with conv.sessions() as session:
        apps = await repo.list_applications(session, user_id=pid)
    return next(a for a in apps if a.program_id == program_id)


def with_action(out: Outcome, action: Action) -> Reply:
    return next(
        r
        for r in reversed(out.replies)
        if any(b.action is action for row in r.buttons for b in row)
    )


async def test_a_team_member_renamed_from_the_preview_in_four_inputs(conv: Conversation) -> None:
    program = REGISTRY.get("beijing-worker")
    assert program is not None
    user = UserRef("telegram", "leader-bj", "张伟")
    out = await to_preview(conv, user, program)
    members = program.question("members")
    section = program.section_of("members")
    before = await current(conv, user, program.id)
    assert len(before.answers["members"]) >= 2

    inputs = 0
    out = await conv.handle(
        user, press(with_action(out, Action.EDIT_PICK), Action.EDIT_PICK, section.id)
    )
    inputs += 1
    picker = with_action(out, Action.EDIT_ROW)
    rows = [b for row in picker.buttons for b in row if b.action is Action.EDIT_ROW]
    second = next(b for b in rows if b.arg == 1)
    out = await conv.handle(
        user,
        ButtonIn(second.action, second.arg, picker.application_id, picker.revision, second.key),
    )
    inputs += 1
    fields = with_action(out, Action.EDIT_FIELD)
    name_field = next(f for f in members.fields or [] if f.label == "姓名")
    button = next(
        b
        for row in fields.buttons
        for b in row
        if b.action is Action.EDIT_FIELD and b.key.endswith(stable_key(name_field.id))
    )
    out = await conv.handle(
        user,
        ButtonIn(button.action, button.arg, fields.application_id, fields.revision, button.key),
    )
    inputs += 1
    out = await conv.handle(user, TextIn("李娜"))
    inputs += 1
    assert inputs <= 4
    after = await current(conv, user, program.id)
    assert after.cursor == {"mode": "preview"}
    assert after.answers["members"][1][name_field.id] == "李娜"
    assert after.answers["members"][0] == before.answers["members"][0]
    assert any("李娜" in r.text and Action.SUBMIT in actions_of(r) for r in out.replies)


async def test_one_answer_of_a_real_program_is_corrected_in_three_inputs(
    conv: Conversation,
) -> None:
    program = REGISTRY.get("beijing-worker")
    assert program is not None
    user = UserRef("telegram", "leader-bj-one", "张伟")
    out = await to_preview(conv, user, program)
    section, question = next(
        (s, q)
        for s in program.sections
        if len(s.questions) > 1
        for q in s.questions
        if q.type == "text" and q.when is None
    )
    inputs = 0
    preview = with_action(out, Action.EDIT_PICK)
    out = await conv.handle(user, press(preview, Action.EDIT_PICK, section.id))
    inputs += 1
    out = await conv.handle(
        user, press(out.replies[-1], Action.EDIT_ANSWER, stable_key(question.id))
    )
    inputs += 1
    out = await conv.handle(user, TextIn("改正后的回答"))
    inputs += 1
    assert inputs <= 3
    app = await current(conv, user, program.id)
    assert app.answers[question.id] == "改正后的回答"
    assert app.cursor == {"mode": "preview"}
    assert Action.SUBMIT in actions_of(out.replies[-1])


def actions_of(reply: Reply) -> set[Action]:
    return {b.action for row in reply.buttons for b in row}


async def test_submit_is_confirmed_naming_the_program_and_the_receiver(conv: Conversation) -> None:
    program = REGISTRY.get("dalian-worker")
    assert program is not None
    user = UserRef("telegram", "leader-dl", "王强")
    out = await to_preview(conv, user, program)
    preview = with_action(out, Action.SUBMIT)
    out = await conv.handle(user, press(preview, Action.SUBMIT))
    [confirm] = out.replies
    assert program.button_title in confirm.text
    assert program.form_title in confirm.text
    assert await unit_name(conv, CHAIN_FROM[program.id][1][0][0]) in confirm.text
    assert actions_of(confirm) == {Action.SUBMIT_OK, Action.PREVIEW}
    app = await current(conv, user, program.id)
    assert (app.status, app.submission_no) == ("draft", 0)

    # 返回: the preview's buttons again, nothing submitted
    back = await conv.handle(user, press(confirm, Action.PREVIEW))
    assert Action.SUBMIT in actions_of(back.replies[-1])
    assert (await current(conv, user, program.id)).status == "draft"

    await conv.handle(user, press(confirm, Action.SUBMIT_OK))
    app = await current(conv, user, program.id)
    assert app.status == "in_review"
    assert app.submission_no == 1


async def test_a_submitted_declaration_is_read_from_status(conv: Conversation) -> None:
    program = REGISTRY.get("dalian-worker")
    assert program is not None
    user = UserRef("telegram", "leader-read", "王强")
    out = await to_preview(conv, user, program)
    out = await conv.handle(user, press(with_action(out, Action.SUBMIT), Action.SUBMIT))
    await conv.handle(user, press(out.replies[-1], Action.SUBMIT_OK))

    status = await conv.handle(user, CommandIn("status"))
    out = await conv.handle(user, press(status.replies[-1], Action.READ_OWN))
    [page] = out.replies
    first = next(s for s in program.sections)
    assert first.title in page.text
    assert Action.EDIT_PICK not in actions_of(page)  # read only
    nxt = next(b for row in page.buttons for b in row if b.action is Action.READ_OWN)
    out = await conv.handle(user, press(page, Action.READ_OWN, nxt.key))
    following = next(s for s in program.sections if s.id == nxt.key)
    assert following.title in out.replies[0].text


async def test_a_draft_is_discarded_after_a_confirmation_and_kept_for_the_record(
    conv: Conversation,
) -> None:
    program = REGISTRY.get("dalian-worker")
    assert program is not None
    user = UserRef("telegram", "leader-discard", "王强")
    draft = await open_draft(conv, user, program)

    status = await conv.handle(user, CommandIn("status"))
    out = await conv.handle(user, press(status.replies[-1], Action.DISCARD))
    [ask] = out.replies
    assert actions_of(ask) == {Action.DISCARD_OK, Action.STATUS}
    assert (await stored(conv, draft.id or 0)).status == "draft"  # asked, not done

    # a confirmation asked before the draft changed is out of date
    await conv.handle(user, press(status.replies[-1], Action.RESUME))
    await conv.handle(user, TextIn("2026-06-01"))
    out = await conv.handle(user, press(ask, Action.DISCARD_OK))
    assert (await stored(conv, draft.id or 0)).status == "draft"
    draft = await stored(conv, draft.id or 0)
    out = await conv.handle(user, press(await discard_asked(conv, user), Action.DISCARD_OK))
    row = await stored(conv, draft.id or 0)
    assert row.status == "discarded"
    assert row.answers == draft.answers  # the row and its answers stay
    async with conv.sessions() as session:
        acts = (
            (
                await session.execute(
                    select(AuditEntry.act).where(col(AuditEntry.application_id) == draft.id)
                )
            )
            .scalars()
            .all()
        )
    assert "discarded" in acts
    # no longer shown, resumed or listed; /apply starts a new one
    status = await conv.handle(user, CommandIn("status"))
    assert Action.RESUME not in {b.action for r in status.replies for row in r.buttons for b in row}
    out = await conv.handle(user, press(ask, Action.DISCARD_OK))  # pressed again: stale
    assert (await stored(conv, draft.id or 0)).status == "discarded"
    await conv.handle(user, ButtonIn(Action.PICK_PROGRAM, 0, 0, 0, program.id))
    fresh = await current(conv, user, program.id)
    assert fresh.id != draft.id
    assert fresh.answers == {}


async def discard_asked(conv: Conversation, user: UserRef) -> Reply:
    status = await conv.handle(user, CommandIn("status"))
    out = await conv.handle(user, press(status.replies[-1], Action.DISCARD))
    return out.replies[-1]


async def test_cancel_says_what_it_did_and_offers_continue_or_discard(conv: Conversation) -> None:
    program = REGISTRY.get("dalian-worker")
    assert program is not None
    user = UserRef("telegram", "leader-cancel", "王强")
    app = await open_draft(conv, user, program)
    out = await conv.handle(user, CommandIn("cancel"))
    [told] = out.replies
    assert program.button_title in told.text
    assert {Action.RESUME, Action.DISCARD} <= actions_of(told)
    assert (await current(conv, user, program.id)).status == "draft"
    out = await conv.handle(user, press(told, Action.RESUME))
    assert (await current(conv, user, program.id)).id == app.id


def test_views_are_views(tmp_path: Path) -> None:
    """The picker and the preview are drawn by the locale alone (every key exists)."""
    from dialogs.i18n import Locale
    from dialogs.render import render

    program = define(tmp_path, GROUP)
    answers: dict[str, Any] = {"achievements": [dict(r) for r in ROWS], "promise": True}
    run = Run(program, answers, {"mode": "preview"})
    views: list[View] = [run.view, *run.press(Action.EDIT_PICK, 0, "results").views]
    views += run.text("1.1").views
    for lang in ("zh-CN", "en"):
        for view in views:
            assert render(view, Locale(lang)).text
    assert uses(views[0], "preview.item")
    assert fit_replies([Reply(text=render(views[0], Locale("zh-CN")).text)], TEXT_LIMIT)
