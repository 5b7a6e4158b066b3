"""The generic Walker on small inline program definitions: no database, a fixed day.

Each test defines the few questions it needs in YAML, loads them through the
real loader (so they are definitions a union could ship), and drives them the
way the conversation service does: a fresh ``Walker`` per event, its answers
and cursor kept only when the step says something changed.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import pytest

from dialogs.engine import Screen, Step, Walker
from dialogs.i18n import Locale
from dialogs.loader import load_program
from dialogs.render import TELEGRAM_LIMIT
from dialogs.schema import Program
from dialogs.ui import Action

TODAY = dt.date(2025, 6, 18)
LOC = Locale("zh-CN")

HEADER = """\
id: t-prog
version: 1
seed: "900"
union: 测试市总工会
kind: 职工创新工作室
form_title: 职工创新工作室申报表
notice: 测试市总工会关于开展职工创新工作室创建活动的通知
review_chain:
  - {id: district, reviewer: 区总工会, opinion_label: 区总工会意见, action: 审核推荐}
  - {id: city, reviewer: 市总工会, opinion_label: 市总工会意见, action: 审定命名}
"""


def define(tmp_path: Path, body: str) -> Program:
    """Load a definition whose sections (and checks) are ``body``, with a fixed header."""
    path = tmp_path / "t-prog.yaml"
    path.write_text(HEADER + textwrap.dedent(body), encoding="utf-8")
    return load_program(path)


class Run:
    """One application driven event by event, as the service drives it."""

    def __init__(
        self,
        program: Program,
        answers: dict[str, Any] | None = None,
        cursor: dict[str, Any] | None = None,
    ) -> None:
        self.program = program
        self.answers: dict[str, Any] = answers or {}
        self.cursor: dict[str, Any] = cursor or {}
        if cursor is None:
            w = self.walker()
            w.start()
            self._keep(w)

    def walker(self) -> Walker:
        return Walker(self.program, self.answers, self.cursor, locale=LOC, today=TODAY)

    def _keep(self, w: Walker) -> None:
        if w.step.changed or w.step.events:
            self.answers, self.cursor = w.answers, w.cur

    def text(self, text: str) -> Step:
        w = self.walker()
        step = w.on_text(text)
        self._keep(w)
        return step

    def press(self, action: Action, arg: int = 0) -> Step:
        w = self.walker()
        step = w.on_button(action, arg)
        self._keep(w)
        return step

    def upload(self, attachment_id: int) -> Step:
        w = self.walker()
        step = w.on_upload(attachment_id)
        self._keep(w)
        return step

    def check_upload(
        self, *, kind: str = "photo", mime: str = "image/jpeg", size: int = 1000
    ) -> str | None:
        return self.walker().on_upload_check(kind=kind, mime_type=mime, size=size)

    def screens(self) -> list[Screen]:
        return self.walker().screens()

    @property
    def screen(self) -> Screen:
        return self.screens()[-1]

    @property
    def at(self) -> str | None:
        return self.cursor.get("q")

    @property
    def mode(self) -> str:
        return str(self.cursor.get("mode", "ask"))


def labels(screen: Screen) -> list[str]:
    return [b.label for row in screen.buttons for b in row]


def actions(screen: Screen) -> list[tuple[Action, int]]:
    return [(b.action, b.arg) for row in screen.buttons for b in row]


def triples(screen: Screen) -> list[tuple[str, Action, int]]:
    return [(b.label, b.action, b.arg) for row in screen.buttons for b in row]


def has(screen: Screen, action: Action, arg: int | None = None) -> bool:
    return any(a == action and (arg is None or n == arg) for a, n in actions(screen))


def unchanged(run: Run, step: Step, answers: dict[str, Any], cursor: dict[str, Any]) -> None:
    """The event was refused: nothing to save and nothing saved."""
    assert not step.changed
    assert step.events == []
    assert run.answers == answers
    assert run.cursor == cursor


def snapshot(run: Run) -> tuple[dict[str, Any], dict[str, Any]]:
    import copy

    return copy.deepcopy(run.answers), copy.deepcopy(run.cursor)


# --------------------------------------------------------------------------- linear walk

LINEAR = """
sections:
  - id: basic
    title: 基本情况
    questions:
      - {id: name, label: 工作室名称, type: text, help: 按通知第一条填写}
      - {id: members, label: 成员人数, type: integer, unit: 人, help: 按通知第二条填写}
      - {id: site, label: 网址, type: text, required: false, help: 没有可以跳过}
  - id: cond
    title: 工作室条件
    questions:
      - {id: has_room, label: 是否有固定活动场所, type: yesno, help: 按通知第三条填写}
      - {id: level, label: 申报级别, type: choice, options: [市级, 区级, 企业级], help: 第四条}
"""


def test_linear_walk_of_text_integer_yesno_choice(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LINEAR))
    assert run.cursor == {"mode": "ask", "q": "name"}
    first = run.screen
    assert first.text.startswith("第 1/5 题 · 基本情况\n")
    assert "【工作室名称】" in first.text
    assert "按通知第一条填写" in first.text
    assert first.expects_text
    # The first question has nothing before it, so no 上一步 is offered.
    assert actions(first) == [(Action.SAVE_EXIT, 0)]

    step = run.text("  大连港职工创新工作室 ")
    assert step.changed
    assert step.events == [("name", "大连港职工创新工作室")]
    assert run.answers == {"name": "大连港职工创新工作室"}
    assert step.screens[-1].text.startswith("第 2/5 题 · 基本情况")
    assert "【成员人数】" in step.screens[-1].text

    run.text("１２人")
    assert run.answers["members"] == 12
    site = run.screen
    assert site.text.startswith("第 3/5 题 · 基本情况")
    assert "【网址】（选填）" in site.text
    assert has(site, Action.SKIP)

    step = run.press(Action.SKIP)
    assert step.changed
    assert step.events == [("site", None)]
    assert run.answers["site"] is None
    yesno = run.screen
    assert yesno.text.startswith("第 4/5 题 · 工作室条件")
    assert ("是", Action.CHOOSE, 1) in triples(yesno)
    assert ("否", Action.CHOOSE, 0) in triples(yesno)
    assert not has(yesno, Action.SKIP)

    run.press(Action.CHOOSE, 1)
    assert run.answers["has_room"] is True
    choice = run.screen
    assert choice.text.startswith("第 5/5 题 · 工作室条件")
    assert labels(choice)[:3] == ["市级", "区级", "企业级"]

    step = run.press(Action.CHOOSE, 1)
    assert run.answers == {
        "name": "大连港职工创新工作室",
        "members": 12,
        "site": None,
        "has_room": True,
        "level": "区级",
    }
    assert run.mode == "preview"
    assert "📋 申报预览" in step.screens[0].text


def test_back_keeps_the_answer_and_offers_keep(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LINEAR))
    run.text("大连港职工创新工作室")
    run.text("12")
    assert run.at == "site"

    step = run.press(Action.BACK)
    assert step.changed
    assert step.events == []
    assert run.at == "members"
    assert run.answers["members"] == 12
    back = run.screen
    assert back.text.startswith("第 2/5 题")
    assert "当前答案：12 人" in back.text
    assert has(back, Action.KEEP)
    assert "✅ 保留当前答案" in labels(back)

    step = run.press(Action.KEEP)
    assert step.events == []
    assert run.at == "site"
    assert run.answers["members"] == 12

    # back again and type a new answer: it replaces the old one
    run.press(Action.BACK)
    run.text("15")
    assert run.answers["members"] == 15
    assert run.at == "site"


def test_back_on_the_first_question_only_toasts(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LINEAR))
    run.text("大连港职工创新工作室")
    run.press(Action.BACK)
    answers, cursor = snapshot(run)
    step = run.press(Action.BACK)
    assert step.toast == "已经是第一题了。"
    unchanged(run, step, answers, cursor)
    assert step.screens[-1].text.startswith("第 1/5 题")


def test_skip_and_keep_are_refused_on_a_required_question(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LINEAR))
    run.text("大连港职工创新工作室")
    assert run.at == "members"
    assert not has(run.screen, Action.SKIP)
    assert not has(run.screen, Action.KEEP)  # nothing to keep yet
    answers, cursor = snapshot(run)
    for action in (Action.SKIP, Action.KEEP):
        step = run.press(action)
        assert step.toast == "现在不能进行这个操作。"
        unchanged(run, step, answers, cursor)
        assert "【成员人数】" in step.screens[-1].text


# --------------------------------------------------------------------------- skip logic

BRANCHING = """
sections:
  - id: basic
    title: 基本情况
    questions:
      - {id: has_room, label: 是否有固定活动场所, type: yesno, help: 第三条}
      - id: room_area
        label: 场所面积
        type: number
        unit: 平方米
        help: 第三条
        when: {field: has_room, eq: true}
      - {id: members, label: 成员人数, type: integer, help: 第二条}
  - id: team
    title: 团队说明
    when: {field: members, gte: 3}
    questions:
      - {id: team_note, label: 团队分工, type: text, help: 第二条}
  - id: end
    title: 承诺
    questions:
      - {id: promise, label: 承诺所填属实, type: yesno, help: 第六条}
"""


def test_question_and_section_conditions_change_the_walk_and_the_total(tmp_path: Path) -> None:
    run = Run(define(tmp_path, BRANCHING))
    # room_area depends on an unanswered question, the team section on another
    assert run.screen.text.startswith("第 1/3 题 · 基本情况")

    run.press(Action.CHOOSE, 1)
    assert run.at == "room_area"
    assert run.screen.text.startswith("第 2/4 题 · 基本情况")
    run.text("50平方米")
    assert run.at == "members"
    assert run.screen.text.startswith("第 3/4 题 · 基本情况")
    run.text("5")
    assert run.at == "team_note"
    assert run.screen.text.startswith("第 4/5 题 · 团队说明")

    # change the first answer: room_area disappears, the walk skips it
    for _ in range(3):
        run.press(Action.BACK)
    assert run.at == "has_room"
    run.press(Action.CHOOSE, 0)
    assert run.at == "members"
    assert run.screen.text.startswith("第 2/4 题 · 基本情况")
    # and fewer members hide the whole team section
    run.text("2")
    assert run.at == "promise"
    assert run.screen.text.startswith("第 3/3 题 · 承诺")

    # going back also skips what is hidden
    run.press(Action.BACK)
    assert run.at == "members"
    run.press(Action.BACK)
    assert run.at == "has_room"


def test_hidden_questions_are_not_in_the_preview_nor_problems(tmp_path: Path) -> None:
    answers = {
        "has_room": False,
        "room_area": "50",
        "members": 2,
        "team_note": "分工",
        "promise": True,
    }
    run = Run(define(tmp_path, BRANCHING), answers, {"mode": "preview"})
    text = "\n".join(s.text for s in run.screens())
    assert "场所面积" not in text
    assert "团队分工" not in text
    assert run.walker().problems() == []
    edit_args = [arg for action, arg in actions(run.screen) if action is Action.EDIT_SECTION]
    assert edit_args == [0, 2]


# --------------------------------------------------------------------------- invalid answers

TYPED = """
sections:
  - id: all
    title: 各类题型
    questions:
      - {id: q_int, label: 成员人数, type: integer, unit: 人, example: "15", help: h}
      - {id: q_num, label: 场所面积, type: number, unit: 平方米, help: h}
      - {id: q_money, label: 投入经费, type: money, help: h}
      - {id: q_ym, label: 出生年月, type: yearmonth, help: h}
      - {id: q_date, label: 命名时间, type: date, help: h}
      - {id: q_phone, label: 联系电话, type: phone, example: "0411-82610410", help: h}
      - {id: q_choice, label: 申报级别, type: choice, options: [市级, 区级], help: h}
      - {id: q_yesno, label: 是否有场所, type: yesno, help: h}
"""

TYPED_ANSWERS = {
    "q_int": 10,
    "q_num": "40",
    "q_money": "5",
    "q_ym": "1980-01",
    "q_date": "2020-01-01",
    "q_phone": "13800138000",
    "q_choice": "市级",
    "q_yesno": False,
}


@pytest.mark.parametrize(
    ("qid", "typed", "example"),
    [
        ("q_int", "十几个", "15"),
        ("q_int", "3.5", "15"),
        ("q_num", "很大", "35.5"),
        ("q_money", "不少", "12.5"),
        ("q_ym", "去年春天", "1985-03"),
        ("q_ym", "2030-01", "1985-03"),
        ("q_date", "2025-02-30", "2018-04-20"),
        ("q_phone", "12345", "0411-82610410"),
        ("q_choice", "省级", "市级"),
        ("q_yesno", "也许吧", "是"),
    ],
)
def test_an_invalid_typed_answer_explains_and_changes_nothing(
    tmp_path: Path, qid: str, typed: str, example: str
) -> None:
    run = Run(define(tmp_path, TYPED), dict(TYPED_ANSWERS), {"mode": "ask", "q": qid})
    answers, cursor = snapshot(run)
    w = run.walker()
    step = w.on_text(typed)
    assert len(step.screens) == 1
    assert f"例如：{example}" in step.screens[0].text
    assert step.screens[0].expects_text
    assert not step.changed
    assert step.events == []
    assert w.answers == answers
    assert w.cur == cursor


@pytest.mark.parametrize(
    ("qid", "typed", "stored"),
    [
        ("q_int", "１５人", 15),
        ("q_num", "35.5平米", "35.5"),
        ("q_money", "3000元", "0.3"),
        ("q_ym", "1985年3月", "1985-03"),
        ("q_date", "今天", TODAY.isoformat()),
        ("q_phone", "138 0013 8000", "13800138000"),
        ("q_choice", "2", "区级"),
        ("q_yesno", "是的", True),
    ],
)
def test_a_valid_typed_answer_is_stored_and_advances(
    tmp_path: Path, qid: str, typed: str, stored: Any
) -> None:
    run = Run(define(tmp_path, TYPED), dict(TYPED_ANSWERS), {"mode": "ask", "q": qid})
    step = run.text(typed)
    assert step.events == [(qid, stored)]
    assert run.answers[qid] == stored
    assert run.at != qid


# --------------------------------------------------------------------------- long text

LONGTEXT = """
sections:
  - id: story
    title: 工作室简介
    questions:
      - {id: intro, label: 工作室简介, type: longtext, min_chars: 50, max_chars: 200, help: h}
      - {id: after, label: 联系人, type: text, help: h}
"""


def test_longtext_parts_accumulate_until_done_reaches_the_minimum(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LONGTEXT))
    step = run.text("甲" * 30)
    assert step.changed
    assert step.events == []
    assert step.screens[-1].text == "已收到，共 30 字，至少需要 50 字，还差 20 字。请继续发送。"
    assert has(step.screens[-1], Action.DONE)
    assert has(step.screens[-1], Action.CLEAR)
    assert "intro" not in run.answers

    run.text("乙" * 10)
    joined = "甲" * 30 + "\n" + "乙" * 10
    assert run.cursor["buf"] == ["甲" * 30, "乙" * 10]
    # the question shown again (e.g. after a restart) says what is buffered
    assert f"已暂存 {len(joined)} 字" in run.screen.text

    answers, cursor = snapshot(run)
    step = run.press(Action.DONE)
    assert step.screens[0].text.startswith(f"目前只有 {len(joined)} 字，至少需要 50 字")
    unchanged(run, step, answers, cursor)

    step = run.text("丙" * 20)
    joined += "\n" + "丙" * 20
    assert step.screens[-1].text.startswith(f"已收到，共 {len(joined)} 字。")

    step = run.press(Action.DONE)
    assert step.events == [("intro", joined)]
    assert run.answers["intro"] == joined
    assert run.at == "after"
    assert "buf" not in run.cursor


def test_longtext_clear_empties_the_buffer(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LONGTEXT))
    run.text("写错了的内容")
    step = run.press(Action.CLEAR)
    assert step.changed
    assert "buf" not in run.cursor
    assert "已暂存" not in run.screen.text
    step = run.press(Action.DONE)
    assert step.screens[0].text == "还没有收到内容，请先发送文字。"
    assert "intro" not in run.answers


def test_longtext_over_the_maximum_is_refused_and_the_buffer_kept(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LONGTEXT))
    run.text("甲" * 150)
    answers, cursor = snapshot(run)
    w = run.walker()
    step = w.on_text("乙" * 60)
    assert "最多 200 个字" in step.screens[0].text
    assert "211" in step.screens[0].text
    assert not step.changed
    assert w.cur == cursor
    assert w.answers == answers


# --------------------------------------------------------------------------- multichoice

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


def test_multichoice_toggles_then_done(tmp_path: Path) -> None:
    run = Run(define(tmp_path, MULTI))
    answers, cursor = snapshot(run)
    step = run.press(Action.DONE)
    assert step.screens[0].text == "请至少选择一项，然后点「完成」。"
    unchanged(run, step, answers, cursor)

    for arg in (2, 0, 2, 3):
        run.press(Action.TOGGLE, arg)
    assert run.cursor["sel"] == ["技术攻关", "节能减排"]
    assert "fields" not in run.answers
    assert labels(run.screen)[:5] == [
        "☑ 技术攻关",
        "☐ 工艺改进",
        "☐ 人才培养",
        "☑ 节能减排",
        "✅ 完成（已选 2 项）",
    ]

    step = run.press(Action.TOGGLE, 9)
    assert step.toast == "现在不能进行这个操作。"
    assert not step.changed

    step = run.press(Action.DONE)
    assert step.events == [("fields", ["技术攻关", "节能减排"])]
    assert run.answers["fields"] == ["技术攻关", "节能减排"]
    assert run.at == "after"
    assert "sel" not in run.cursor

    # coming back starts from the stored choice
    run.press(Action.BACK)
    assert labels(run.screen)[:4] == ["☑ 技术攻关", "☐ 工艺改进", "☐ 人才培养", "☑ 节能减排"]


# --------------------------------------------------------------------------- repeating group

GROUP = """
sections:
  - id: results
    title: 创新成果
    questions:
      - id: achievements
        label: 主要创新成果
        type: group
        min_rows: 2
        max_rows: 3
        help: 近三年成果
        fields:
          - {id: title, label: 成果名称, type: text}
          - {id: income, label: 创收, type: money, unit: 万元}
          - {id: savings, label: 节资, type: money, unit: 万元}
          - {id: total, label: 合计, type: sum, unit: 万元, of: [income, savings]}
          - {id: note, label: 备注, type: text, required: false}
  - id: end
    title: 承诺
    questions:
      - {id: promise, label: 承诺所填属实, type: yesno, help: h}
"""


def add_row(run: Run, title: str, income: str, savings: str) -> Step:
    run.press(Action.ROW_ADD)
    run.text(title)
    run.text(income)
    run.text(savings)
    return run.press(Action.SKIP)


def test_group_add_row_walks_the_fields_and_saves_the_row(tmp_path: Path) -> None:
    run = Run(define(tmp_path, GROUP))
    menu = run.screen
    assert menu.text.startswith("第 1/2 题 · 创新成果\n")
    assert "已填 0 行（至少 2 行，最多 3 行）。" in menu.text
    assert has(menu, Action.ROW_ADD)
    assert not has(menu, Action.DONE)

    _answers, cursor = snapshot(run)
    step = run.press(Action.DONE)
    assert step.screens[0].text == "至少需要填写 2 行，请点「添加一行」。"
    assert not step.changed
    assert run.cursor == cursor

    run.press(Action.ROW_ADD)
    assert run.screen.text.startswith("第 1/2 题 · 创新成果 · 第 1 行（第 1/4 项）")
    assert "【成果名称】" in run.screen.text
    step = run.text("数控机床改造")
    assert step.events == [("achievements[0].title", "数控机床改造")]
    assert run.screen.text.startswith("第 1/2 题 · 创新成果 · 第 1 行（第 2/4 项）")
    run.text("12.5")
    run.text("3")
    note = run.screen
    assert "第 4/4 项" in note.text
    assert has(note, Action.SKIP)
    step = run.press(Action.SKIP)
    assert step.toast == "第 1 行已保存"
    assert run.cursor == {"mode": "ask", "q": "achievements"}
    assert run.answers["achievements"] == [
        {"title": "数控机床改造", "income": "12.5", "savings": "3", "note": None}
    ]
    menu = step.screens[-1]
    assert "1. 成果名称 数控机床改造；创收 12.5 万元；节资 3 万元；合计 15.5 万元" in menu.text
    assert has(menu, Action.ROW_EDIT, 0)
    assert has(menu, Action.ROW_DELETE, 0)


def test_group_edit_delete_limits(tmp_path: Path) -> None:
    run = Run(define(tmp_path, GROUP))
    add_row(run, "数控机床改造", "12.5", "3")
    add_row(run, "焊接工艺优化", "2", "1")
    assert has(run.screen, Action.DONE)

    # edit: each existing value can be kept
    run.press(Action.ROW_EDIT, 0)
    field = run.screen
    assert field.text.startswith("第 1/2 题 · 创新成果 · 第 1 行（第 1/4 项）")
    assert "当前答案：数控机床改造" in field.text
    assert has(field, Action.KEEP)
    run.press(Action.KEEP)
    run.text("20")
    run.press(Action.KEEP)
    run.press(Action.SKIP)
    assert run.answers["achievements"][0]["income"] == "20"
    assert "合计 23 万元" in run.screen.text

    # a third row fills the group: no more adding
    add_row(run, "叉车节能", "1", "1")
    assert len(run.answers["achievements"]) == 3
    assert not has(run.screen, Action.ROW_ADD)
    answers, cursor = snapshot(run)
    step = run.press(Action.ROW_ADD)
    assert step.screens[0].text == "最多只能填写 3 行。"
    unchanged(run, step, answers, cursor)

    # delete asks first; cancel keeps the row
    run.press(Action.ROW_DELETE, 1)
    confirm = run.screen
    assert confirm.text.startswith("确定删除第 2 行吗？\n成果名称 焊接工艺优化")
    assert actions(confirm) == [(Action.ROW_DELETE_OK, 1), (Action.CANCEL, 0)]
    run.press(Action.CANCEL)
    assert "del" not in run.cursor
    assert len(run.answers["achievements"]) == 3

    # confirming deletes exactly that row
    run.press(Action.ROW_DELETE, 1)
    step = run.press(Action.ROW_DELETE_OK, 1)
    assert step.toast == "第 2 行已删除"
    titles = [r["title"] for r in run.answers["achievements"]]
    assert titles == ["数控机床改造", "叉车节能"]

    # a confirmation for a row that was not asked about is refused
    answers, cursor = snapshot(run)
    step = run.press(Action.ROW_DELETE_OK, 0)
    unchanged(run, step, answers, cursor)

    step = run.press(Action.DONE)
    assert ("achievements", run.answers["achievements"]) in step.events
    assert run.at == "promise"


def test_back_from_the_first_field_of_a_new_row_removes_it(tmp_path: Path) -> None:
    run = Run(define(tmp_path, GROUP))
    add_row(run, "数控机床改造", "12.5", "3")
    run.press(Action.ROW_ADD)
    assert len(run.answers["achievements"]) == 2
    run.press(Action.BACK)
    assert run.cursor == {"mode": "ask", "q": "achievements"}
    assert len(run.answers["achievements"]) == 1
    assert "已填 1 行" in run.screen.text

    # an existing row is never removed by going back out of it
    run.press(Action.ROW_EDIT, 0)
    run.press(Action.BACK)
    assert len(run.answers["achievements"]) == 1


def test_leaving_a_new_empty_row_for_the_preview_removes_it(tmp_path: Path) -> None:
    rows = [
        {"title": "数控机床改造", "income": "1", "savings": "1"},
        {"title": "焊接工艺优化", "income": "2", "savings": "1"},
    ]
    run = Run(define(tmp_path, GROUP), {"achievements": rows, "promise": True}, {"mode": "preview"})
    run.press(Action.EDIT_SECTION, 0)
    run.press(Action.ROW_ADD)
    assert has(run.screen, Action.PREVIEW)
    run.press(Action.PREVIEW)
    assert run.cursor == {"mode": "preview"}
    assert run.answers["achievements"] == rows
    assert run.walker().problems() == []

    # a row with something typed in stays, and the preview says what it lacks
    run.press(Action.EDIT_SECTION, 0)
    run.press(Action.ROW_ADD)
    run.text("叉车节能")
    run.press(Action.PREVIEW)
    assert len(run.answers["achievements"]) == 3
    assert run.walker().problems() == ["1. 主要创新成果：第 3 行缺少 创收、节资"]


def test_group_done_refuses_an_incomplete_row(tmp_path: Path) -> None:
    rows = [
        {"title": "数控机床改造", "income": "1", "savings": "1"},
        {"title": "焊接工艺优化", "income": "2"},
    ]
    run = Run(define(tmp_path, GROUP), {"achievements": rows}, {"mode": "ask", "q": "achievements"})
    answers, cursor = snapshot(run)
    step = run.press(Action.DONE)
    assert step.screens[0].text == "第 2 行还缺：节资。请点「修改第 2 行」补全。"
    unchanged(run, step, answers, cursor)


# --------------------------------------------------------------------------- uploads

UPLOADS = """
sections:
  - id: basic
    title: 基本情况
    questions:
      - {id: name, label: 工作室名称, type: text, help: h}
  - id: media
    title: 附件
    questions:
      - id: photos
        label: 工作室照片
        type: photo
        min_files: 1
        max_files: 2
        max_size_mb: 1
        help: h
      - {id: proof, label: 证明材料, type: file, required: false, help: h}
"""


def test_upload_checks(tmp_path: Path) -> None:
    program = define(tmp_path, UPLOADS)
    run = Run(program)
    assert run.check_upload() == "engine.upload.not_now"

    run = Run(program, {"name": "x"}, {"mode": "ask", "q": "photos"})
    assert run.check_upload() is None
    assert run.check_upload(kind="document", mime="image/png") is None
    assert run.check_upload(kind="document", mime="application/pdf") == "engine.upload.need_photo"
    assert run.check_upload(size=2 * 1024 * 1024) == "engine.upload.too_big"
    assert run.check_upload(size=1024 * 1024) is None

    full = Run(program, {"name": "x", "photos": [1, 2]}, {"mode": "ask", "q": "photos"})
    assert full.check_upload() == "engine.upload.too_many"

    preview = Run(program, {"name": "x"}, {"mode": "preview"})
    assert preview.check_upload() == "engine.upload.not_now"

    # a file question takes any document, within the default size
    files = Run(program, {"name": "x"}, {"mode": "ask", "q": "proof"})
    assert files.check_upload(kind="document", mime="application/pdf") is None
    assert files.check_upload(kind="document", mime="application/pdf", size=21 * 1024 * 1024) == (
        "engine.upload.too_big"
    )


def test_uploads_collect_and_advance_at_max_files(tmp_path: Path) -> None:
    run = Run(define(tmp_path, UPLOADS), {"name": "x"}, {"mode": "ask", "q": "photos"})
    answers, cursor = snapshot(run)
    step = run.text("照片稍后发")
    assert step.screens[0].text == "这一题需要照片：请直接发送照片（不要发文字）。"
    unchanged(run, step, answers, cursor)
    step = run.press(Action.DONE)
    assert step.screens[0].text == "目前 0 个，至少需要 1 个，请继续发送。"
    unchanged(run, step, answers, cursor)

    step = run.upload(7)
    assert step.events == [("photos", [7])]
    assert step.screens[-1].text == "已收到第 1 个（需要 1–2 个）。可继续发送，或点「完成」。"
    assert run.at == "photos"
    assert has(step.screens[-1], Action.DONE)

    step = run.upload(8)
    assert run.answers["photos"] == [7, 8]
    # Said as a message: a photo is no button press.
    assert step.screens[0].text == "已收到 2 个，本题完成。"
    assert run.at == "proof"
    assert "【证明材料】（选填）" in step.screens[-1].text


# --------------------------------------------------------------------------- suggestions

SUGGEST = """
sections:
  - id: basic
    title: 基本情况
    questions:
      - {id: leader, label: 领衔人姓名, type: text, help: h}
      - id: studio
        label: 工作室名称
        type: text
        help: h
        suggest: ["{leader}创新工作室", "{leader}劳模创新工作室"]
      - {id: filled_on, label: 填表日期, type: date, suggest: ["{today}"], help: h}
"""


def test_suggestions_are_filled_from_answers_and_today(tmp_path: Path) -> None:
    run = Run(define(tmp_path, SUGGEST))
    run.text("王伟")
    studio = run.screen
    assert ("💡 王伟创新工作室", Action.SUGGEST, 0) in triples(studio)
    assert "💡 王伟劳模创新工作室" in labels(studio)
    step = run.press(Action.SUGGEST, 0)
    assert step.events == [("studio", "王伟创新工作室")]

    assert "💡 2025-06-18" in labels(run.screen)
    run.press(Action.SUGGEST, 0)
    assert run.answers["filled_on"] == "2025-06-18"
    assert run.mode == "preview"


def test_a_suggestion_missing_its_answer_is_not_offered(tmp_path: Path) -> None:
    run = Run(define(tmp_path, SUGGEST), {}, {"mode": "ask", "q": "studio"})
    assert not has(run.screen, Action.SUGGEST)
    answers, cursor = snapshot(run)
    step = run.press(Action.SUGGEST, 0)
    unchanged(run, step, answers, cursor)


# --------------------------------------------------------------------------- preview


def many_sections(count: int) -> str:
    out = ["sections:"]
    for i in range(count):
        out += [
            f"  - id: s{i}",
            f"    title: 第{i + 1}部分",
            "    questions:",
            f"      - {{id: a{i}, label: 第{i + 1}部分概述, type: longtext, help: h}}",
            f"      - {{id: b{i}, label: 第{i + 1}部分成果, type: longtext, help: h}}",
            f"      - {{id: c{i}, label: 第{i + 1}部分备注, type: text, required: false, help: h}}",
        ]
    out += [
        "  - id: hidden",
        "    title: 隐藏部分",
        "    when: {field: c0, answered: true}",
        "    questions:",
        "      - {id: h0, label: 隐藏题, type: text, help: h}",
    ]
    return "\n".join(out) + "\n"


def test_a_long_preview_is_split_and_only_the_last_message_has_buttons(tmp_path: Path) -> None:
    program = define(tmp_path, many_sections(30))
    answers: dict[str, Any] = {}
    for i in range(30):
        answers[f"a{i}"] = f"第{i + 1}部分概述：" + "工作室围绕设备故障诊断开展技术攻关。" * 20
        answers[f"b{i}"] = f"第{i + 1}部分成果：" + "完成创新成果十二项，获得国家专利三项。" * 20
        answers[f"c{i}"] = None
    run = Run(program, answers, {"mode": "preview"})
    screens = run.screens()
    assert len(screens) >= 3
    assert all(len(s.text) <= TELEGRAM_LIMIT for s in screens)
    assert all(not s.buttons for s in screens[:-1])
    assert screens[0].text.startswith("📋 申报预览 ·《职工创新工作室申报表》（测试市总工会）")
    whole = "\n\n".join(s.text for s in screens)
    positions = [whole.index(f"【第{i + 1}部分】") for i in range(30)]
    assert positions == sorted(positions)
    assert "第1部分备注：（未填）" in whole
    assert "隐藏部分" not in whole
    # a section is never cut between two messages
    for s in screens:
        if "【第7部分】" in s.text:
            assert "第7部分备注" in s.text
    assert "✅ 必填项已全部完成" in screens[-1].text

    edit = [
        (b.label, b.arg) for r in screens[-1].buttons for b in r if b.action is Action.EDIT_SECTION
    ]
    assert edit == [(f"✏️ 修改：第{i + 1}部分", i) for i in range(30)]
    assert has(screens[-1], Action.SUBMIT)


def test_edit_section_returns_to_the_preview(tmp_path: Path) -> None:
    answers = {
        "name": "大连港职工创新工作室",
        "members": 12,
        "site": None,
        "has_room": True,
        "level": "市级",
    }
    run = Run(define(tmp_path, LINEAR), answers, {"mode": "preview"})

    run.press(Action.EDIT_SECTION, 1)
    assert run.cursor == {"mode": "ask", "q": "has_room", "edit": "cond"}
    screen = run.screen
    assert "当前答案：是" in screen.text
    assert has(screen, Action.PREVIEW)
    assert has(screen, Action.KEEP)
    run.press(Action.CHOOSE, 0)
    assert run.at == "level"
    step = run.press(Action.CHOOSE, 2)
    assert run.cursor == {"mode": "preview"}
    assert run.answers["has_room"] is False
    assert run.answers["level"] == "企业级"
    assert "📋 申报预览" in step.screens[0].text

    # the preview button leaves the section early, changing nothing
    run.press(Action.EDIT_SECTION, 0)
    assert run.at == "name"
    step = run.press(Action.PREVIEW)
    assert step.events == []
    assert run.cursor == {"mode": "preview"}
    assert run.answers["name"] == "大连港职工创新工作室"


# --------------------------------------------------------------------------- problems, submission

COMPLETE = """
sections:
  - id: basic
    title: 基本情况
    questions:
      - {id: name, label: 工作室名称, type: text, help: h}
      - {id: site, label: 网址, type: text, required: false, help: h}
  - id: story
    title: 工作室简介
    questions:
      - {id: intro, label: 简介, type: longtext, min_chars: 20, help: h}
  - id: team
    title: 团队成员
    questions:
      - id: members
        label: 成员
        type: group
        min_rows: 2
        help: h
        fields:
          - {id: name, label: 姓名, type: text}
          - {id: age, label: 年龄, type: integer}
  - id: media
    title: 照片
    questions:
      - {id: photos, label: 工作室照片, type: photo, min_files: 2, help: h}
"""


def test_problems_list_everything_that_blocks_submission(tmp_path: Path) -> None:
    answers = {"intro": "太短了", "members": [{"name": "张三"}], "photos": [1]}
    run = Run(define(tmp_path, COMPLETE), answers, {"mode": "preview"})
    problems = [
        "1. 工作室名称：未填写",
        "3. 简介：至少 20 字，目前 3 字",
        "4. 成员：至少 2 行，目前 1 行",
        "4. 成员：第 1 行缺少 年龄",
        "5. 工作室照片：至少 2 个文件，目前 1 个",
    ]
    assert run.walker().problems() == problems
    preview = "\n".join(s.text for s in run.screens())
    assert "❗ 还有 5 项未完成，完成后才能提交：" in preview
    assert all(f"• {p}" in preview for p in problems)

    answers_before, cursor = snapshot(run)
    w = run.walker()
    assert w.submit() is False
    assert not w.step.submitted
    assert not w.step.changed
    refused = w.step.screens[0]
    assert refused.text.splitlines() == [
        "还不能提交，以下 5 项需要先完成：",
        *[f"• {p}" for p in problems],
    ]
    assert actions(refused) == [(Action.EDIT_SECTION, 0)]
    assert labels(refused) == ["✏️ 修改：基本情况"]
    assert w.cur == cursor
    assert w.answers == answers_before

    # the button goes to the first section that still has a problem
    answers["name"] = "大连港职工创新工作室"
    w = Run(define(tmp_path, COMPLETE), answers, {"mode": "preview"}).walker()
    assert w.submit() is False
    assert actions(w.step.screens[0]) == [(Action.EDIT_SECTION, 1)]


def test_submit_is_accepted_when_complete(tmp_path: Path) -> None:
    answers = {
        "name": "大连港职工创新工作室",
        "site": None,
        "intro": "工作室围绕设备故障诊断开展技术攻关，成果丰硕。",
        "members": [{"name": "张三", "age": 40}, {"name": "李四", "age": 35}],
        "photos": [1, 2],
    }
    w = Run(define(tmp_path, COMPLETE), answers, {"mode": "preview"}).walker()
    assert w.problems() == []
    assert w.submit() is True
    assert w.step.submitted
    assert w.step.changed
    assert w.cur == {"mode": "done"}
    assert w.screens()[0].text.startswith("这份申报已经提交")


# --------------------------------------------------------------------------- eligibility warnings

CHECKS = """
sections:
  - id: basic
    title: 基本情况
    questions:
      - {id: leader, label: 领衔人姓名, type: text, help: h}
      - {id: studio, label: 工作室名称, type: text, help: h}
      - {id: area, label: 场所面积, type: number, unit: 平方米, help: h}
      - {id: is_model, label: 领衔人是否劳模, type: yesno, help: h}
      - {id: honour, label: 荣誉级别, type: choice, options: [省部级, 市级, 其他], help: h}
      - id: members
        label: 团队成员
        type: group
        help: h
        fields:
          - {id: name, label: 姓名, type: text}
checks:
  - id: few_members
    when: {field: members, rows_lt: 3}
    message: 团队成员应不少于3人
    cite: 通知第二条第（三）项
  - id: small_room
    when: {field: area, lt: 30}
    message: 活动场所面积应不少于30平方米
    cite: 通知第二条第（四）项
  - id: name_pattern
    when: {field: studio, matches: "^{leader}$"}
    message: 工作室名称不能只写领衔人姓名
    cite: 通知第三条
  - id: leader_level
    when:
      all:
        - not: {field: is_model, eq: true}
        - any:
            - {field: honour, eq: 其他}
            - {field: honour, eq: 市级}
    message: 领衔人应为省部级以上劳模
    cite: 通知第二条第（一）项
"""


def test_eligibility_warnings_appear_in_the_preview_with_their_cite(tmp_path: Path) -> None:
    program = define(tmp_path, CHECKS)
    weak = {
        "leader": "王伟",
        "studio": "王伟",
        "area": "25",
        "is_model": False,
        "honour": "市级",
        "members": [{"name": "甲"}, {"name": "乙"}],
    }
    run = Run(program, weak, {"mode": "preview"})
    assert [m for m, _ in run.walker().warnings()] == [
        "团队成员应不少于3人",
        "活动场所面积应不少于30平方米",
        "工作室名称不能只写领衔人姓名",
        "领衔人应为省部级以上劳模",
    ]
    last = run.screens()[-1].text
    assert "⚠️ 申报条件提示（不影响提交，请核对）：" in last
    assert "• 团队成员应不少于3人\n  依据：通知第二条第（三）项" in last
    assert "• 工作室名称不能只写领衔人姓名\n  依据：通知第三条" in last
    assert "✅ 必填项已全部完成" in last  # warnings do not block

    strong = {
        "leader": "王伟",
        "studio": "王伟创新工作室",
        "area": "30",
        "is_model": True,
        "honour": "市级",
        "members": [{"name": "甲"}, {"name": "乙"}, {"name": "丙"}],
    }
    run = Run(program, strong, {"mode": "preview"})
    assert run.walker().warnings() == []
    assert "⚠️" not in "\n".join(s.text for s in run.screens())

    # nothing is said about what has not been answered yet
    assert Run(program, {}, {"mode": "preview"}).walker().warnings() == []


def test_a_cursor_left_by_an_older_definition_is_repaired(tmp_path: Path) -> None:
    """A union edits its program while drafts are open: a draft whose question is
    gone resumes at the first unanswered question, with every answer kept."""
    program = define(tmp_path, LINEAR)
    first = program.questions()[0][1].id
    answers = {first: "大连港职工创新工作室", "removed_question": "kept"}
    walker = Walker(
        program, answers, {"mode": "ask", "q": "removed_question"}, locale=LOC, today=TODAY
    )
    assert walker.step.changed
    assert walker.cur == {"mode": "ask", "q": program.questions()[1][1].id}
    assert walker.answers == answers
    stale_row = {"mode": "ask", "q": first, "row": 3, "f": "gone"}
    assert Walker(program, answers, stale_row, locale=LOC, today=TODAY).cur["q"] != first
