"""A union edits its programs while people are declaring: old buttons and old drafts
keep working, and whatever no longer fits is reported, never silently dropped."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import update
from sqlmodel import select

from dialogs.loader import load_registry
from dialogs.service import CARRY_OVER_PATH, Conversation
from dialogs.ui import Action, ButtonIn, CommandIn, Outcome, Reply, TextIn, UserRef
from storage import repo
from storage.db import SessionFactory
from storage.files import FileStore
from storage.models import AnswerEvent, Application, ChannelIdentity, Person
from tests.stored import answer_history

NOW = dt.datetime(2026, 6, 18, 2, 30, tzinfo=dt.UTC)
WANG = UserRef(channel="telegram", external_id="3001", display_name="王伟")


def program(version: int, options: str, extra: str = "") -> str:
    return f"""\
id: delta
version: {version}
issuer: test-union
seed: "400"
union: 丁市总工会
kind: 职工创新工作室
form_title: 职工创新工作室申报表
notice: 丁市总工会关于职工创新工作室的通知
review_chain:
  - {{id: city, reviewer: 丁市总工会, opinion_label: 市总工会意见, action: 审定命名}}
sections:
  - id: basic
    title: 基本情况
    questions:
      - {{id: name, label: 工作室名称, type: text, help: 通知第一条}}
      - id: field
        label: 专业领域
        type: multichoice
        options: {options}
        help: 通知第二条
      - id: kind
        label: 工作室类型
        type: choice
        options: {options}
        help: 通知第二条
{extra}"""


V1_OPTIONS = "{mech: 机械, elec: 电气, chem: 化工}"
# Reordered, reworded, one option gone, one added: the ids are what stays.
V2_OPTIONS = "{weld: 焊接, elec: 电气自动化, mech: 机械制造}"
V2_EXTRA = "      - {id: leader, label: 领衔人姓名, type: text, help: 通知第三条}\n"


def serve(folder: Path, sessions: SessionFactory, tmp_path: Path) -> Conversation:
    return Conversation(
        registry=load_registry(folder),
        sessions=sessions,
        files=FileStore(tmp_path / "files"),
        clock=lambda: NOW,
    )


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


def find(reply: Reply, label: str) -> ButtonIn:
    for row in reply.buttons:
        for b in row:
            if label in b.label:
                return ButtonIn(b.action, b.arg, reply.application_id, reply.revision, b.key)
    raise LookupError(label)


async def stored(sessions: SessionFactory) -> Application:
    async with sessions() as s:
        return (
            await s.execute(
                select(Application)
                .join(ChannelIdentity, ChannelIdentity.person_id == Application.user_id)  # type: ignore[arg-type]
                .where(ChannelIdentity.external_id == WANG.external_id)
            )
        ).scalar_one()


async def test_an_old_menu_button_opens_its_program_after_a_program_is_added(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "programs"
    write(folder, "delta", program(1, V1_OPTIONS))
    menu = (await serve(folder, sessions, tmp_path).handle(WANG, CommandIn("apply"))).replies[-1]
    old_press = find(menu, "丁市总工会")
    # A sixth program that sorts first now takes the first place in the menu.
    write(
        folder,
        "aaa",
        program(1, V1_OPTIONS)
        .replace("id: delta", "id: aaa")
        .replace('seed: "400"', 'seed: "001"')
        .replace("丁市总工会", "甲市总工会"),
    )
    conv = serve(folder, sessions, tmp_path)
    out = await conv.handle(WANG, old_press)
    app = await stored(sessions)
    assert app.program_id == "delta"
    assert out.replies


async def test_old_option_buttons_and_answers_survive_reordered_and_renamed_options(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "programs"
    write(folder, "delta", program(1, V1_OPTIONS))
    conv = serve(folder, sessions, tmp_path)
    await conv.handle(WANG, CommandIn("apply"))
    await conv.handle(WANG, ButtonIn(Action.PICK_PROGRAM, 0, 0, 0, "delta"))
    await conv.handle(WANG, TextIn("王伟职工创新工作室"))
    ticked = await conv.handle(WANG, TextIn("机械、化工"))  # multichoice, typed: ticked
    out: Outcome = await conv.handle(WANG, find(ticked.replies[-1], "完成"))
    question = out.replies[-1]
    assert (await stored(sessions)).answers["field"] == ["mech", "chem"]
    old_press = find(question, "机械")  # the button for 机械 on the "kind" question

    write(folder, "delta", program(2, V2_OPTIONS, V2_EXTRA))
    conv = serve(folder, sessions, tmp_path)
    out = await conv.handle(WANG, old_press)
    app = await stored(sessions)
    # The old button still means 机械 (now 机械制造), whatever its new place.
    assert app.answers["kind"] == "mech"
    assert app.program_version == 2
    # 化工 is gone from the options: taken out of the ticks, reported, kept in the history.
    assert app.answers["field"] == ["mech"]
    report = out.replies[0].text
    assert "专业领域" in report
    assert "chem" in report  # the old label is gone with the option: its id is what is left
    async with sessions() as s:
        notes = (
            (await s.execute(select(AnswerEvent).where(AnswerEvent.path == CARRY_OVER_PATH)))
            .scalars()
            .all()
        )
        history = await answer_history(s, application_id=app.id or 0)
    assert [n.value["dropped"] for n in notes] == [[{"path": "field", "value": "chem"}]]
    assert any(h.path == "field" and h.value == ["mech", "chem"] for h in history)
    # The draft went on to the question the new version added.
    assert app.cursor["q"] == "leader"


async def test_a_draft_from_before_option_ids_is_read_by_its_labels(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    """Drafts saved when a choice stored its label carry over to the option's id."""
    folder = tmp_path / "programs"
    write(folder, "delta", program(2, V2_OPTIONS, V2_EXTRA))
    conv = serve(folder, sessions, tmp_path)
    async with sessions.begin() as s:
        user = await repo.get_or_create_user(
            s, channel=WANG.channel, external_id=WANG.external_id, display_name="王伟", now=NOW
        )
        app = await repo.create_application(
            s,
            user_id=user.id or 0,
            program_id="delta",
            program_version=1,
            cursor={"mode": "ask", "q": "kind", "sel": ["电气"]},
            now=NOW,
        )
        repo.touch_application(
            app,
            answers={"name": "王伟职工创新工作室", "field": ["电气自动化"], "gone": "旧答案"},
            cursor={"mode": "ask", "q": "kind"},
            now=NOW,
        )
        await s.execute(
            update(Person).where(Person.id == user.id).values(active_application_id=app.id)  # type: ignore[arg-type]
        )
    out = await conv.handle(WANG, CommandIn("start"))
    after = await stored(sessions)
    assert after.answers == {"name": "王伟职工创新工作室", "field": ["elec"]}
    assert after.program_version == 2
    assert any("旧答案" in r.text for r in out.replies)  # the answer to a removed question
    # Carried over once: the next event says nothing more about it.
    again = await conv.handle(WANG, CommandIn("start"))
    assert not any("旧答案" in r.text for r in again.replies)


async def test_status_names_each_declaration_by_its_studio(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    """Where a definition says which answer is the studio's name, /status shows it."""
    folder = tmp_path / "programs"
    named = program(1, V1_OPTIONS).replace(
        "review_chain:",
        "studio_name:\n  field: name\n  pattern: 创新工作室$\n  example: 王伟职工创新工作室\n"
        "  cite: 通知第一条\nreview_chain:",
    )
    write(folder, "delta", named)
    conv = serve(folder, sessions, tmp_path)
    await conv.handle(WANG, CommandIn("apply"))
    await conv.handle(WANG, ButtonIn(Action.PICK_PROGRAM, 0, 0, 0, "delta"))
    before = (await conv.handle(WANG, CommandIn("status"))).replies[0].text
    assert "王伟职工创新工作室" not in before
    await conv.handle(WANG, TextIn("王伟职工创新工作室"))
    after = (await conv.handle(WANG, CommandIn("status"))).replies[0].text
    assert "王伟职工创新工作室" in after
