"""Suggestions a person taps instead of typing (``dialogs/suggest.py``).

Inline definitions for each kind of suggestion (years of the rows, today's date as
the type writes it, an organisation's name, the leader's details in the first team
row, an earlier declaration's answers), then the real programs: CCCC's years in its
「近两年」 rows, Beijing's first team row from the leader, today's date wherever a
declaration date is asked, and a second declaration offered the first one's answers.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from dialogs.engine import Walker
from dialogs.loader import DefinitionError, load_registry
from dialogs.schema import Program
from dialogs.service import Conversation
from dialogs.suggest import recall
from dialogs.ui import Action, Reply, TextIn
from dialogs.view import Answer, Msg, Plain, View, msg
from storage.db import SessionFactory
from storage.files import FileStore
from storage.models import Application, ApplicationStatus
from tests.test_conversation import NOW, conv, last, press, send, start, stored  # noqa: F401
from tests.test_engine import HEADER, TODAY, Run, buttons, define, has

REGISTRY = {p.id: p for p in load_registry()}


class KnownRun(Run):
    """A run whose walker knows the person's earlier answers."""

    def __init__(self, program: Program, known: dict[str, Any], **kw: Any) -> None:
        self.known = known
        super().__init__(program, **kw)

    def walker(self) -> Walker:
        return Walker(self.program, self.answers, self.cursor, today=TODAY, known=self.known)


def offered(view: View) -> list[Any]:
    """What each suggestion button offers: the text of a template, or the label's
    message of an earlier answer."""
    out: list[Any] = []
    for i, b in enumerate(buttons(view, Action.SUGGEST)):
        assert b.arg == i
        assert isinstance(b.label, Msg)
        out.append(b.label.params["text"] if b.label.key == "engine.btn.suggest" else b.label)
    return out


# --------------------------------------------------------------------------- years of rows

YEARS = """
sections:
  - id: money
    title: 经费
    questions:
      - id: funding
        label: 经费投入
        type: group
        help: 近两年，每年一行
        min_rows: 2
        max_rows: 2
        fields:
          - {id: year, label: 年度, type: integer, suggest: ["{year-2}", "{year-1}"]}
          - {id: amount, label: 投入金额, type: money, unit: 万元}
"""


def test_each_row_is_offered_the_year_not_yet_used_first(tmp_path: Path) -> None:
    run = Run(define(tmp_path, YEARS))
    run.press(Action.ROW_ADD)
    assert offered(run.view) == ["2023", "2024"]
    run.press(Action.SUGGEST, 0)
    assert run.field == "amount"
    run.text("5")
    run.press(Action.ROW_ADD)
    assert offered(run.view) == ["2024", "2023"]
    run.press(Action.SUGGEST, 0)
    run.text("6")
    assert [r["year"] for r in run.answers["funding"]] == [2023, 2024]


# --------------------------------------------------------------------------- today's date

TODAY_TYPES = """
date_style: compact
sections:
  - id: basic
    title: 基本情况
    questions:
      - {id: filled_on, label: 填报日期, type: date, suggest: ["{today}"], help: h}
      - {id: month, label: 填报年月, type: yearmonth, suggest: ["{today}"], help: h}
      - {id: year, label: 年度, type: integer, suggest: ["{year}"], help: h}
"""


def test_today_is_written_as_the_type_and_the_form_write_it(tmp_path: Path) -> None:
    run = Run(define(tmp_path, TODAY_TYPES))
    assert offered(run.view) == ["20250618"]
    run.press(Action.SUGGEST, 0)
    assert run.answers["filled_on"] == "2025-06-18"
    assert offered(run.view) == ["202506"]
    run.press(Action.SUGGEST, 0)
    assert run.answers["month"] == "2025-06"
    assert offered(run.view) == ["2025"]
    run.press(Action.SUGGEST, 0)
    assert run.answers["year"] == 2025


# --------------------------------------------------------------------------- the unit, again

UNIT = """
sections:
  - id: basic
    title: 基本情况
    questions:
      - {id: unit, label: 所在单位, type: org, kinds: [unit], help: h}
      - {id: leader_unit, label: 负责人所在单位, type: text, suggest: ["{unit.name}"], help: h}
      - id: members
        label: 成员
        type: group
        help: h
        fields:
          - {id: name, label: 姓名, type: text}
          - {id: unit, label: 所在单位, type: text, suggest: ["{leader_unit}", "{unit.name}"]}
"""


def test_the_unit_entered_earlier_is_offered_by_its_name(tmp_path: Path) -> None:
    unit = {"code": "u1", "name": "大连港集团"}
    run = Run(define(tmp_path, UNIT), {"unit": unit}, {"mode": "ask", "q": "leader_unit"})
    assert offered(run.view) == ["大连港集团"]
    run.press(Action.SUGGEST, 0)
    assert run.answers["leader_unit"] == "大连港集团"
    run.press(Action.ROW_ADD)
    run.text("张三")
    # The same name twice is offered once.
    assert offered(run.view) == ["大连港集团"]
    run.press(Action.SUGGEST, 0)
    assert run.answers["members"] == [{"name": "张三", "unit": "大连港集团"}]


@pytest.mark.parametrize(
    ("template", "code"),
    [("{unit}", "E090"), ("{leader_unit.name}", "E090"), ("{unit.phone}", "E090"), ("{x}", "E054")],
)
def test_slots_are_checked_at_load(tmp_path: Path, template: str, code: str) -> None:
    # A column's templates are checked like a question's.
    body = UNIT.replace('suggest: ["{leader_unit}", "{unit.name}"]', f'suggest: ["{template}"]')
    with pytest.raises(DefinitionError) as err:
        define(tmp_path, body)
    assert [p.code for p in err.value.problems] == [code]


def test_a_question_not_answered_by_typing_takes_no_suggestions(tmp_path: Path) -> None:
    body = UNIT.replace("kinds: [unit], help: h}", 'kinds: [unit], help: h, suggest: ["x"]}')
    with pytest.raises(DefinitionError) as err:
        define(tmp_path, body)
    assert [p.code for p in err.value.problems] == ["E095"]


# --------------------------------------------------------------------------- the first team row

TEAM = """
sections:
  - id: leader
    title: 负责人
    questions:
      - {id: unit, label: 所在单位, type: org, kinds: [unit], help: h}
      - {id: leader_name, label: 负责人姓名, type: text, help: h}
      - {id: gender, label: 性别, type: choice, options: {male: 男, female: 女}, help: h}
      - {id: birth, label: 出生年月, type: yearmonth, help: h, required: false}
  - id: team
    title: 团队
    questions:
      - id: members
        label: 团队成员
        type: group
        help: h
        first_row_from: {name: leader_name, gender: gender, birth: birth, unit: unit}
        fields:
          - {id: name, label: 姓名, type: text}
          - {id: gender, label: 性别, type: choice, options: {male: 男, female: 女, other: 其他}}
          - {id: birth, label: 出生年月, type: yearmonth}
          - {id: unit, label: 所在单位, type: text}
          - {id: role, label: 分工, type: text}
"""

LEADER = {"unit": {"code": "u1", "name": "大连港集团"}, "leader_name": "王伟", "gender": "male"}


def test_the_first_row_is_filled_from_the_leader_with_one_tap(tmp_path: Path) -> None:
    run = Run(define(tmp_path, TEAM), dict(LEADER), {"mode": "ask", "q": "members"})
    run.press(Action.ROW_ADD)
    assert has(run.view, Action.ROW_FROM_LEADER, 0)
    step = run.press(Action.ROW_FROM_LEADER, 0)
    assert run.answers["members"] == [{"name": "王伟", "gender": "male", "unit": "大连港集团"}]
    assert sorted(step.events) == [
        ("members[0].gender", "male"),
        ("members[0].name", "王伟"),
        ("members[0].unit", "大连港集团"),
    ]
    # Only what is still missing is asked: the birth (unanswered by the leader), the role.
    assert (run.row, run.field) == (0, "birth")
    assert not has(run.view, Action.ROW_FROM_LEADER)
    run.text("1980-03")
    assert run.field == "role"
    run.text("负责人")
    assert run.row is None
    run.press(Action.ROW_ADD)
    assert not has(run.view, Action.ROW_FROM_LEADER)


def test_a_filled_row_goes_back_to_the_table(tmp_path: Path) -> None:
    body = TEAM.replace("          - {id: role, label: 分工, type: text}\n", "")
    answers = {**LEADER, "birth": "1980-03"}
    run = Run(define(tmp_path, body), answers, {"mode": "ask", "q": "members"})
    run.press(Action.ROW_ADD)
    step = run.press(Action.ROW_FROM_LEADER, 0)
    assert step.toast == msg("engine.group.row_saved", n=1)
    assert run.row is None
    assert run.at == "members"
    assert run.answers["members"][0]["birth"] == "1980-03"


def test_no_fill_without_the_leaders_answers_or_on_another_row(tmp_path: Path) -> None:
    run = Run(define(tmp_path, TEAM), {}, {"mode": "ask", "q": "members"})
    run.press(Action.ROW_ADD)
    assert not has(run.view, Action.ROW_FROM_LEADER)
    step = run.press(Action.ROW_FROM_LEADER, 0)
    assert step.toast == msg("engine.not_now")
    assert run.answers["members"] == [{}]


@pytest.mark.parametrize(
    ("mapping", "code"),
    [
        ("{nobody: leader_name}", "E092"),
        ("{name: nobody}", "E092"),
        ("{name: gender}", "E093"),
        ("{gender: leader_name}", "E093"),
    ],
)
def test_first_row_mapping_is_checked_at_load(tmp_path: Path, mapping: str, code: str) -> None:
    body = TEAM.replace("{name: leader_name, gender: gender, birth: birth, unit: unit}", mapping)
    with pytest.raises(DefinitionError) as err:
        define(tmp_path, body)
    assert [p.code for p in err.value.problems] == [code]


def test_options_of_the_leader_must_be_options_of_the_column(tmp_path: Path) -> None:
    body = TEAM.replace(
        "options: {male: 男, female: 女}, help: h", "options: {m: 男, f: 女}, help: h"
    )
    with pytest.raises(DefinitionError) as err:
        define(tmp_path, body)
    assert [p.code for p in err.value.problems] == ["E093"]


# --------------------------------------------------------------------------- earlier declarations

EARLIER = """
sections:
  - id: basic
    title: 基本情况
    questions:
      - {id: leader, label: 负责人姓名, type: text, help: h, same_as: leader_name}
      - {id: gender, label: 性别, type: choice, options: {male: 男, female: 女}, help: h}
      - {id: profile, label: 负责人简介, type: longtext, help: h}
      - {id: filled_on, label: 填报日期, type: date, suggest: ["{today}"], help: h}
      - {id: count, label: 成员人数, type: integer, unit: 人, help: h}
"""


def test_an_earlier_answer_is_offered_checked_and_stored(tmp_path: Path) -> None:
    known = {"leader": "王伟", "gender": "female", "profile": "长" * 300, "count": 12}
    run = KnownRun(define(tmp_path, EARLIER), known)
    [label] = offered(run.view)
    assert label == msg("suggest.earlier", value=Answer(run.program.question("leader"), "王伟", 20))
    step = run.press(Action.SUGGEST, 0)
    assert step.toast == msg("suggest.earlier_taken")
    assert step.events == [("leader", "王伟")]
    run.press(Action.SUGGEST, 0)
    assert run.answers["gender"] == "female"
    assert offered(run.view) == [msg("suggest.earlier_long", count=300)]
    run.press(Action.SUGGEST, 0)
    assert run.answers["profile"] == "长" * 300


def test_an_earlier_answer_the_question_cannot_take_is_not_offered(tmp_path: Path) -> None:
    known = {"gender": "unknown", "count": -3}
    program = define(tmp_path, EARLIER.replace("unit: 人,", "unit: 人, min: 0,"))
    run = KnownRun(program, known, answers={}, cursor={"mode": "ask", "q": "gender"})
    assert offered(run.view) == []
    run = KnownRun(program, known, answers={}, cursor={"mode": "ask", "q": "count"})
    assert offered(run.view) == []


def test_an_answered_question_is_not_offered_an_earlier_answer(tmp_path: Path) -> None:
    run = KnownRun(
        define(tmp_path, EARLIER),
        {"leader": "王伟"},
        answers={"leader": "李娜"},
        cursor={"mode": "ask", "q": "leader"},
    )
    assert offered(run.view) == []


def test_recall_matches_the_same_question(tmp_path: Path) -> None:
    this = define(tmp_path, EARLIER, name="this")
    other = define(
        tmp_path,
        """
sections:
  - id: s
    title: 基本情况
    questions:
      - {id: who, label: 团队带头人姓名, type: text, help: h, same_as: leader_name}
      - {id: sex, label: 性 别, type: choice, options: {male: 男, female: 女}, help: h}
      - {id: profile, label: 负责人简介, type: text, help: h}
      - {id: filled, label: 填报日期, type: date, help: h}
      - {id: members, label: 成员人数, type: integer, help: h}
""",
        name="other",
    ).model_copy(update={"id": "other"})
    answers = {"who": "王伟", "sex": "male", "profile": "短", "filled": "2024-01-01", "members": 9}
    # Another program: by same_as, or by label (spaces aside) with the same type and unit.
    assert recall(this, [(other, answers)]) == {"leader": "王伟", "gender": "male"}
    # The same program: by id, the newest declaration first; the date of the day never.
    older = {"leader": "旧名", "count": 3, "filled_on": "2024-05-01"}
    newer = {"leader": "王伟", "count": 5}
    assert recall(this, [(this, newer), (this, older)]) == {"leader": "王伟", "count": 5}


def test_same_as_is_refused_where_nothing_is_recalled(tmp_path: Path) -> None:
    body = EARLIER.replace(
        'suggest: ["{today}"], help: h}', 'suggest: ["{today}"], help: h, same_as: d}'
    )
    with pytest.raises(DefinitionError) as err:
        define(tmp_path, body)
    assert [p.code for p in err.value.problems] == ["E094"]


# --------------------------------------------------------------------------- the real programs


def real(
    pid: str, answers: dict[str, Any], cursor: dict[str, Any], known: dict[str, Any] | None = None
) -> Run:
    return KnownRun(REGISTRY[pid], known or {}, answers=answers, cursor=cursor)


@pytest.mark.parametrize("group", ["funding", "benefit"])
def test_cccc_rows_are_offered_the_two_years_before_this_one(group: str) -> None:
    run = real("cccc-model", {}, {"mode": "ask", "q": group})
    run.press(Action.ROW_ADD)
    assert offered(run.view) == ["2023", "2024"]
    run.press(Action.SUGGEST, 0)
    run.text("3")
    run.text("1") if group == "benefit" else run.text("单位自筹")
    if group == "benefit":
        run.text("2")
    assert run.row is None
    run.press(Action.ROW_ADD)
    assert offered(run.view) == ["2024", "2023"]
    run.press(Action.SUGGEST, 0)
    assert [r["year"] for r in run.answers[group]] == [2023, 2024]


def test_beijing_first_member_is_the_leader() -> None:
    answers = {"unit": {"code": "bj-x", "name": "北京城建集团"}, "leader_name": "张伟"}
    run = real("beijing-worker", answers, {"mode": "ask", "q": "members"})
    run.press(Action.ROW_ADD)
    run.press(Action.ROW_FROM_LEADER, 0)
    assert run.answers["members"] == [{"name": "张伟", "unit": "北京城建集团"}]
    assert run.field == "gender"
    run.choose("male")
    run.text("电气工程")
    run.text("高级工程师")
    assert run.row is None
    assert run.answers["members"][0] == {
        "name": "张伟",
        "unit": "北京城建集团",
        "gender": "male",
        "specialty": "电气工程",
        "title": "高级工程师",
    }
    # The next rows are offered the unit by name.
    run.press(Action.ROW_ADD)
    run.text("李四")
    run.choose("female")
    run.text("机械")
    run.text("技师")
    assert offered(run.view) == ["北京城建集团"]


@pytest.mark.parametrize(
    ("pid", "filled"),
    [
        ("dalian-model", {"name", "gender", "birth", "education", "title", "unit"}),
        ("cccc-model", {"name", "gender", "birth", "education", "tech_title"}),
        ("dalian-worker", {"name"}),
    ],
)
def test_other_team_tables_fill_from_the_leader(pid: str, filled: set[str]) -> None:
    program = REGISTRY[pid]
    group = next(q for _, q in program.questions() if q.first_row_from)
    leader = {
        "leader_name": "王伟",
        "gender": "male",
        "birth": "1975-04",
        "education": "bachelor",
        "title": "高级技师",
        "tech_title": "高级工程师",
        "leader_unit": "大连港集团",
    }
    run = real(pid, leader, {"mode": "ask", "q": group.id})
    run.press(Action.ROW_ADD)
    run.press(Action.ROW_FROM_LEADER, 0)
    assert set(run.answers[group.id][0]) == filled


def test_yangpu_team_excludes_the_leader() -> None:
    # 「团队成员（除带头人外）」: no button to put the leader in it.
    assert REGISTRY["yangpu-model"].question("members").first_row_from is None


@pytest.mark.parametrize("pid", sorted(REGISTRY))
def test_every_declaration_date_offers_today(pid: str) -> None:
    program = REGISTRY[pid]
    dates = [q for _, q in program.questions() if q.label.endswith(("申报日期", "填报日期"))]
    assert dates
    for q in dates:
        run = real(pid, {}, {"mode": "ask", "q": q.id})
        [text] = offered(run.view)
        assert text == ("20250618" if program.date_style == "compact" else "2025-06-18")
        run.press(Action.SUGGEST, 0)
        assert run.answers[q.id] == "2025-06-18"


def test_the_leader_declaring_in_another_program_is_offered_the_earlier_answers() -> None:
    dalian = {"leader_name": "王伟", "gender": "male", "birth": "1975-04", "education": "college"}
    known = recall(REGISTRY["cccc-model"], [(REGISTRY["dalian-model"], dalian)])
    assert known == {
        "leader_name": "王伟",
        "gender": "male",
        "birth": "1975-04",
        "education": "college",
    }
    run = real("cccc-model", {}, {"mode": "ask", "q": "leader_name"}, known=known)
    run.press(Action.SUGGEST, 0)
    assert run.answers["leader_name"] == "王伟"


# --------------------------------------------------------------------------- over the conversation


async def test_a_second_declaration_is_offered_the_firsts_answers(
    conv: Conversation,  # noqa: F811
    sessions: SessionFactory,
) -> None:
    out = await start(conv, 0)  # alpha: 工作室名称 first
    await send(conv, TextIn("王伟创新工作室"))
    await send(conv, TextIn("王伟"))
    out = await start(conv, 1)  # beta: 工作室名称, same label
    [label] = [b.label for row in last(out).buttons for b in row if b.action is Action.SUGGEST]
    assert "王伟创新工作室" in label
    out = await press(conv, last(out), Action.SUGGEST, 0)
    beta = next(a for a in await stored(sessions) if a.program_id == "beta")
    assert beta.answers == {"studio": "王伟创新工作室"}
    # 成员人数 has a unit (人) in alpha and none in beta: not the same question.
    assert not [b for row in last(out).buttons for b in row if b.action is Action.SUGGEST]


async def test_declaring_again_a_year_after_a_rejection_offers_last_years_answers(
    conv: Conversation,  # noqa: F811
    sessions: SessionFactory,
) -> None:
    await start(conv, 0)  # alpha
    await send(conv, TextIn("王伟创新工作室"))
    async with sessions() as s, s.begin():
        [first] = (await s.execute(select(Application))).scalars().all()
        first.status = ApplicationStatus.REJECTED.value
        first.submitted_at = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    out = await start(conv, 0)  # alpha again, in 2025
    assert has_suggestion(last(out), "王伟创新工作室")
    await press(conv, last(out), Action.SUGGEST, 0)
    apps = await stored(sessions)
    assert sorted(a.status for a in apps) == ["draft", "rejected"]
    draft = next(a for a in apps if a.status == "draft")
    assert draft.answers == {"name": "王伟创新工作室"}


async def test_a_rejection_of_this_year_is_not_declared_again(
    conv: Conversation,  # noqa: F811
    sessions: SessionFactory,
) -> None:
    await start(conv, 0)
    async with sessions() as s, s.begin():
        [first] = (await s.execute(select(Application))).scalars().all()
        first.status = ApplicationStatus.REJECTED.value
        first.submitted_at = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    await start(conv, 0)
    assert len(await stored(sessions)) == 1


def has_suggestion(reply: Reply, text: str) -> bool:
    return any(b.action is Action.SUGGEST and text in b.label for row in reply.buttons for b in row)


# --------------------------------------------------------------------------- the organisation again

ORG = """
sections:
  - id: basic
    title: 基本情况
    questions:
      - {id: unit, label: 所在单位, type: org, kinds: [unit], help: h, same_as: applicant_unit}
      - {id: leader, label: 负责人姓名, type: text, help: h}
"""


def test_an_earlier_organisation_is_offered_by_name_and_looked_for_again(tmp_path: Path) -> None:
    known = {"unit": {"code": "dl-1", "name": "大连港集团"}}
    run = KnownRun(define(tmp_path, ORG), known)
    [label] = offered(run.view)
    assert label == msg("suggest.earlier", value=Plain("大连港集团"))
    # Without a search (the flow runs it), the name is as if typed: nothing found,
    # and the typed name may be kept.
    run.press(Action.SUGGEST, 0)
    assert run.cursor["s"]["typed"] == "大连港集团"
    assert has(run.view, Action.CHOOSE, key="typed")


def _orgs_conversation(sessions: SessionFactory, tmp_path: Path) -> Conversation:
    folder = tmp_path / "orgs"
    folder.mkdir()
    for pid, label in (("first", "申报单位（公章）"), ("second", "所在单位")):
        body = ORG.replace("label: 所在单位", f"label: {label}")
        text = HEADER.replace("id: t-prog", f"id: {pid}") + body
        (folder / f"{pid}.yaml").write_text(text, encoding="utf-8")
    return Conversation(
        registry=load_registry(folder),
        sessions=sessions,
        files=FileStore(tmp_path / "files"),
        clock=lambda: NOW,
    )


async def test_a_second_declaration_is_offered_the_first_ones_unit(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    two = _orgs_conversation(sessions, tmp_path)
    await start(two, 0)
    # No organisation list for this union: the typed name is the answer.
    await send(two, TextIn("大连港集团"))
    out = await start(two, 1)
    assert has_suggestion(last(out), "大连港集团")
    await press(two, last(out), Action.SUGGEST, 0)
    second = next(a for a in await stored(sessions) if a.program_id == "second")
    assert second.answers == {"unit": {"code": None, "name": "大连港集团"}}
    assert second.cursor["q"] == "leader"


# --------------------------------------------------------------------------- forged buttons


def test_a_forged_suggestion_or_fill_is_refused(tmp_path: Path) -> None:
    run = KnownRun(define(tmp_path, EARLIER), {"leader": "王伟"})
    before = (dict(run.answers), dict(run.cursor))
    for action, arg in ((Action.SUGGEST, 1), (Action.SUGGEST, -1), (Action.ROW_FROM_LEADER, 0)):
        step = run.press(action, arg)
        assert step.toast == msg("engine.not_now")
        assert step.events == []
        assert (run.answers, run.cursor) == before
    team = Run(define(tmp_path, TEAM, name="team"), dict(LEADER), {"mode": "ask", "q": "members"})
    team.press(Action.ROW_ADD)
    step = team.press(Action.ROW_FROM_LEADER, 1)
    assert step.toast == msg("engine.not_now")
    assert team.answers["members"] == [{}]


SAME_AS = {
    "leader_name": {
        "beijing-worker",
        "cccc-model",
        "dalian-model",
        "dalian-worker",
        "yangpu-model",
    },
    "applicant_unit": {
        "beijing-worker",
        "cccc-model",
        "dalian-model",
        "dalian-worker",
        "yangpu-model",
    },
    "leader_title": {"cccc-model", "dalian-model"},
    "leader_profile": {"beijing-worker", "yangpu-model"},
    "venue": {"beijing-worker", "yangpu-model"},
    "venue_area": {"cccc-model", "dalian-model"},
}


def test_the_same_question_across_programs_is_declared_once_per_program() -> None:
    seen: dict[str, set[str]] = {}
    for pid, program in REGISTRY.items():
        keys = [q.same_as for _, q in program.questions() if q.same_as]
        assert len(keys) == len(set(keys)), pid
        for key in keys:
            seen.setdefault(key, set()).add(pid)
    assert seen == SAME_AS
