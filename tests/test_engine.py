"""The generic Walker on small inline program definitions: no database, a fixed day.

Each test defines the few questions it needs in YAML, loads them through the
real loader (so they are definitions a union could ship), and drives them the
way the conversation service does: a fresh ``Walker`` per event, its answers
and cursor kept only when the step says something changed.

The tests assert behaviour, not wording: which view is shown (its ``kind``),
which question is asked (the cursor), which locale keys with which parameters
the view uses, which buttons it offers (action, argument, stable key), what
was stored and which history events were recorded.  The fully drawn Chinese
text of a few screens is checked in one place only, ``test_golden_screens.py``,
so that a change of wording shows up there once, on purpose.
"""

from __future__ import annotations

import copy
import datetime as dt
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dialogs.engine import Step, Walker
from dialogs.i18n import Locale
from dialogs.loader import load_program
from dialogs.qtypes import kind
from dialogs.qtypes.base import stable_key
from dialogs.render import draw, render
from dialogs.schema import Program
from dialogs.textfit import fit_replies, utf16_length
from dialogs.ui import Action, Reply
from dialogs.view import Answer, ButtonView, Joined, Msg, Part, Plain, Refusal, View, msg

TODAY = dt.date(2025, 6, 18)
TEXT_LIMIT = 4096
"""Telegram's longest message in UTF-16 code units (``bot.delivery.TEXT_LIMIT``; not
imported, to keep these tests free of the Telegram client)."""
LOC = Locale("zh-CN")

HEADER = """\
id: t-prog
version: 1
issuer: test-union
seed: "900"
union: 测试市总工会
kind: 职工创新工作室
form_title: 职工创新工作室申报表
notice: 测试市总工会关于开展职工创新工作室创建活动的通知
review_chain:
  - {id: district, reviewer: 区总工会, opinion_label: 区总工会意见, action: 审核推荐}
  - {id: city, reviewer: 市总工会, opinion_label: 市总工会意见, action: 审定命名}
"""


def define(tmp_path: Path, body: str, name: str = "t-prog") -> Program:
    """Load a definition whose sections (and checks) are ``body``, with a fixed header."""
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    path = folder / "t-prog.yaml"
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
        self.last: Walker | None = None
        """The walker of the last event, with whatever it did to its own copies."""
        if cursor is None:
            w = self.walker()
            w.start()
            self._keep(w)

    def walker(self) -> Walker:
        return Walker(self.program, self.answers, self.cursor, today=TODAY)

    def _keep(self, w: Walker) -> None:
        self.last = w
        if w.step.changed or w.step.events:
            self.answers, self.cursor = w.answers, w.cur

    def text(self, text: str) -> Step:
        w = self.walker()
        step = w.on_text(text)
        self._keep(w)
        return step

    def press(self, action: Action, arg: int = 0, key: str = "") -> Step:
        w = self.walker()
        step = w.on_button(action, arg, key)
        self._keep(w)
        return step

    def choose(self, option_id: str) -> Step:
        """Press the button of a choice's option, as its button carries it."""
        return self.press(Action.CHOOSE, 0, stable_key(option_id))

    def toggle(self, option_id: str) -> Step:
        return self.press(Action.TOGGLE, 0, stable_key(option_id))

    def upload(self, attachment_id: int) -> Step:
        w = self.walker()
        step = w.on_upload(attachment_id)
        self._keep(w)
        return step

    def check_upload(
        self, *, sent_as: str = "photo", mime: str = "image/jpeg", size: int = 1000
    ) -> str | None:
        return self.walker().on_upload_check(sent_as=sent_as, mime_type=mime, size=size)

    def views(self) -> list[View]:
        return self.walker().views()

    @property
    def view(self) -> View:
        return self.views()[-1]

    @property
    def at(self) -> str | None:
        return self.cursor.get("q")

    @property
    def mode(self) -> str:
        return str(self.cursor.get("mode", "ask"))

    @property
    def row(self) -> int | None:
        """The row of a group being filled (None on the group's menu or elsewhere)."""
        return self.cursor.get("row")

    @property
    def field(self) -> str | None:
        return self.cursor.get("f")


# --------------------------------------------------------------------------- view helpers


def parts(view: View) -> Iterator[Any]:
    """Every part of a view's lines, parameters that are parts included."""

    def walk(part: Any) -> Iterator[Any]:
        yield part
        if isinstance(part, Msg):
            for value in part.params.values():
                yield from walk(value)
        elif isinstance(part, Joined):
            for sub in part.parts:
                yield from walk(sub)

    for line in view.lines:
        yield from walk(line)


def msgs(view: View, key: str) -> list[Msg]:
    """The messages of ``view`` with ``key``, in order."""
    return [p for p in parts(view) if isinstance(p, Msg) and p.key == key]


def one(view: View, key: str) -> Msg:
    found = msgs(view, key)
    assert len(found) == 1, (key, view.keys())
    return found[0]


def uses(view: View, key: str) -> bool:
    """Whether ``view`` uses the locale message ``key`` anywhere."""
    used = view.keys()
    return key in used


def params(view: View, key: str) -> dict[str, Any]:
    return dict(one(view, key).params)


def plain_texts(view: View) -> list[str]:
    """Text shown as it is (labels, help from the definition)."""
    return [p.text for p in parts(view) if isinstance(p, Plain)]


def place(view: View) -> tuple[int, int, str]:
    """Question ``n`` of ``total`` in ``section``, as the view says it."""
    p = params(view, "engine.progress")
    return p["n"], p["total"], p["section"]


def row_place(view: View) -> tuple[int, int, int]:
    """Row, field number and number of fields, inside a group's row."""
    p = params(view, "engine.row_progress")
    return p["row"], p["f"], p["nf"]


def asked_label(view: View) -> str:
    return str(params(view, "engine.label")["label"])


def actions(view: View) -> list[Action]:
    return [a for a, _, _ in view.actions()]


def has(view: View, action: Action, arg: int | None = None, key: str | None = None) -> bool:
    return any(
        a == action and (arg is None or n == arg) and (key is None or k == key)
        for a, n, k in view.actions()
    )


def buttons(view: View, action: Action) -> list[ButtonView]:
    return [b for row in view.buttons for b in row if b.action is action]


def cells(summary: Part) -> list[tuple[str, Any]]:
    """A group row's summary as (column label, stored value) pairs."""
    if isinstance(summary, Msg) and summary.key == "engine.group.empty_row":
        return []
    assert isinstance(summary, Joined)
    out = []
    for cell in summary.parts:
        assert isinstance(cell, Msg)
        assert cell.key == "engine.group.cell"
        value = cell.params["value"]
        assert isinstance(value, Answer)
        out.append((cell.params["label"], value.value))
    return out


def menu_rows(view: View) -> list[list[tuple[str, Any]]]:
    """The rows a group's menu lists, each as its cells."""
    assert view.kind == "group"
    return [
        cells(m.params["text"])
        for m in view.lines
        if isinstance(m, Msg) and m.key == "engine.numbered"
    ]


def numbered(n: int, label: str) -> Msg:
    """How a problem names question ``n``."""
    return msg("engine.numbered", n=n, text=label)


def fields_list(*labels: str) -> Joined:
    """Column labels listed, as a problem or a refusal names them."""
    return Joined(tuple(Plain(label) for label in labels), sep="engine.sep.list")


def snapshot(run: Run) -> tuple[dict[str, Any], dict[str, Any]]:
    return copy.deepcopy(run.answers), copy.deepcopy(run.cursor)


def unchanged(run: Run, step: Step, before: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """The event was refused: nothing to save, and the walker changed nothing either
    (its own answers and cursor, not only what the service would have kept)."""
    answers, cursor = before
    assert not step.changed
    assert step.events == []
    assert run.last is not None
    assert run.last.answers == answers
    assert run.last.cur == cursor


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
    assert (run.mode, run.at) == ("ask", "name")
    first = run.view
    assert first.kind == "question"
    assert place(first) == (1, 5, "基本情况")
    assert asked_label(first) == "工作室名称"
    assert "按通知第一条填写" in plain_texts(first)
    assert uses(first, "engine.hint.text")
    assert not uses(first, "engine.optional")
    assert first.expects_text
    # The first question has nothing before it, so no 上一步 is offered.
    assert first.actions() == [(Action.SAVE_EXIT, 0, "")]

    step = run.text("  大连港职工创新工作室 ")
    assert step.changed
    assert step.events == [("name", "大连港职工创新工作室")]
    assert run.answers == {"name": "大连港职工创新工作室"}
    assert run.at == "members"
    assert place(step.views[-1]) == (2, 5, "基本情况")
    assert asked_label(step.views[-1]) == "成员人数"
    assert has(step.views[-1], Action.BACK)

    run.text("１２人")
    assert run.answers["members"] == 12
    site = run.view
    assert run.at == "site"
    assert place(site) == (3, 5, "基本情况")
    assert uses(site, "engine.optional")
    assert has(site, Action.SKIP)

    step = run.press(Action.SKIP)
    assert step.changed
    assert step.events == [("site", None)]
    assert run.answers["site"] is None
    yesno = run.view
    assert run.at == "has_room"
    assert place(yesno) == (4, 5, "工作室条件")
    assert [(b.arg, b.label) for b in buttons(yesno, Action.CHOOSE)] == [
        (1, msg("engine.btn.yes")),
        (0, msg("engine.btn.no")),
    ]
    assert not has(yesno, Action.SKIP)

    run.press(Action.CHOOSE, 1)
    assert run.answers["has_room"] is True
    choice = run.view
    assert run.at == "level"
    assert place(choice) == (5, 5, "工作室条件")
    # Bare labels are their own ids; each button carries its option's stable key.
    assert [(b.key, b.label) for b in buttons(choice, Action.CHOOSE)] == [
        (stable_key("市级"), Plain("市级")),
        (stable_key("区级"), Plain("区级")),
        (stable_key("企业级"), Plain("企业级")),
    ]

    step = run.choose("区级")
    assert step.events == [("level", "区级")]
    assert run.answers == {
        "name": "大连港职工创新工作室",
        "members": 12,
        "site": None,
        "has_room": True,
        "level": "区级",
    }
    assert run.mode == "preview"
    assert [v.kind for v in step.views] == ["preview"]


def test_back_keeps_the_answer_and_offers_keep(tmp_path: Path) -> None:
    program = define(tmp_path, LINEAR)
    run = Run(program)
    run.text("大连港职工创新工作室")
    run.text("12")
    assert run.at == "site"

    step = run.press(Action.BACK)
    assert step.changed
    assert step.events == []
    assert run.at == "members"
    assert run.answers["members"] == 12
    back = run.view
    assert place(back)[:2] == (2, 5)
    assert params(back, "engine.current")["value"] == Answer(
        program.question("members"), 12, clip=120
    )
    assert has(back, Action.KEEP)
    assert buttons(back, Action.KEEP)[0].label == msg("engine.btn.keep")

    step = run.press(Action.KEEP)
    assert step.events == []
    assert run.at == "site"
    assert run.answers["members"] == 12

    # back again and type a new answer: it replaces the old one
    run.press(Action.BACK)
    step = run.text("15")
    assert step.events == [("members", 15)]
    assert run.answers["members"] == 15
    assert run.at == "site"


def test_back_on_the_first_question_only_toasts(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LINEAR))
    run.text("大连港职工创新工作室")
    run.press(Action.BACK)
    assert run.at == "name"
    before = snapshot(run)
    step = run.press(Action.BACK)
    assert step.toast == msg("engine.first_question")
    unchanged(run, step, before)
    assert place(step.views[-1])[:2] == (1, 5)
    assert asked_label(step.views[-1]) == "工作室名称"


def test_skip_and_keep_are_refused_on_a_required_question(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LINEAR))
    run.text("大连港职工创新工作室")
    assert run.at == "members"
    assert not has(run.view, Action.SKIP)
    assert not has(run.view, Action.KEEP)  # nothing to keep yet
    before = snapshot(run)
    for action in (Action.SKIP, Action.KEEP):
        step = run.press(action)
        assert step.toast == msg("engine.not_now")
        unchanged(run, step, before)
        assert asked_label(step.views[-1]) == "成员人数"


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
    assert place(run.view) == (1, 3, "基本情况")

    run.press(Action.CHOOSE, 1)
    assert run.at == "room_area"
    assert place(run.view) == (2, 4, "基本情况")
    run.text("50平方米")
    assert run.at == "members"
    assert place(run.view) == (3, 4, "基本情况")
    run.text("5")
    assert run.at == "team_note"
    assert place(run.view) == (4, 5, "团队说明")

    # change the first answer: room_area disappears, the walk skips it
    for _ in range(3):
        run.press(Action.BACK)
    assert run.at == "has_room"
    run.press(Action.CHOOSE, 0)
    assert run.at == "members"
    assert place(run.view) == (2, 4, "基本情况")
    # and fewer members hide the whole team section
    run.text("2")
    assert run.at == "promise"
    assert place(run.view) == (3, 3, "承诺")

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
    [preview] = run.views()
    assert preview.kind == "preview"
    items = [(m.params["n"], m.params["label"]) for m in msgs(preview, "preview.item")]
    assert items == [(1, "是否有固定活动场所"), (2, "成员人数"), (3, "承诺所填属实")]
    sections = [m.params["title"] for m in msgs(preview, "engine.preview.section")]
    assert sections == ["基本情况", "承诺"]
    assert run.walker().problems() == []
    assert uses(preview, "engine.preview.ready")
    edit_keys = [k for a, _, k in preview.actions() if a is Action.EDIT_PICK]
    assert edit_keys == ["basic", "end"]


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
    ("qid", "typed", "key", "key_params", "example"),
    [
        ("q_int", "十几个", "validation.integer", {}, "15"),
        ("q_int", "3.5", "validation.integer", {}, "15"),
        ("q_num", "很大", "validation.number", {}, "35.5"),
        ("q_money", "不少", "validation.money", {}, "12.5"),
        ("q_ym", "去年春天", "validation.yearmonth", {}, "1985-03"),
        ("q_ym", "2030-01", "validation.future", {"latest": "2025-06"}, "1985-03"),
        ("q_date", "2025-02-30", "validation.date", {}, "2018-04-20"),
        ("q_phone", "12345", "validation.phone", {}, "0411-82610410"),
        ("q_choice", "省级", "validation.choice", {}, "市级"),
        ("q_yesno", "也许吧", "validation.yesno", {}, "是"),
    ],
)
def test_an_invalid_typed_answer_explains_and_changes_nothing(
    tmp_path: Path, qid: str, typed: str, key: str, key_params: dict[str, Any], example: str
) -> None:
    program = define(tmp_path, TYPED)
    run = Run(program, dict(TYPED_ANSWERS), {"mode": "ask", "q": qid})
    before = snapshot(run)
    step = run.text(typed)
    [refused] = step.views
    assert refused.lines == (Refusal(program.question(qid), key, key_params),)
    assert refused.expects_text
    unchanged(run, step, before)
    # the refusal is drawn with the question's example (its own, else its type's)
    assert kind(program.question(qid)).example(program.question(qid), loc=LOC) == example
    assert example in render(refused, LOC).text


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
    [progress] = step.views
    assert progress.lines == (msg("engine.longtext.progress_min", count=30, min=50, left=20),)
    assert progress.expects_text
    assert has(progress, Action.DONE)
    assert has(progress, Action.CLEAR)
    assert "intro" not in run.answers

    run.text("乙" * 10)
    joined = "甲" * 30 + "\n" + "乙" * 10
    assert run.cursor["s"] == {"buf": ["甲" * 30, "乙" * 10]}
    assert run.at == "intro"
    # the question shown again (e.g. after a restart) says what is buffered; the
    # line break between the parts is no character
    assert params(run.view, "engine.longtext.buffered") == {"count": 40}
    assert has(run.view, Action.DONE)

    before = snapshot(run)
    step = run.press(Action.DONE)
    assert step.views[0].lines == (msg("engine.longtext.too_short", count=40, min=50),)
    unchanged(run, step, before)

    step = run.text("丙" * 20)
    joined += "\n" + "丙" * 20
    assert step.views[-1].lines == (msg("engine.longtext.progress", count=60),)

    step = run.press(Action.DONE)
    assert step.events == [("intro", joined)]
    assert run.answers["intro"] == joined
    assert run.at == "after"
    assert "s" not in run.cursor


def test_longtext_clear_empties_the_buffer(tmp_path: Path) -> None:
    run = Run(define(tmp_path, LONGTEXT))
    run.text("写错了的内容")
    assert run.cursor["s"] == {"buf": ["写错了的内容"]}
    step = run.press(Action.CLEAR)
    assert step.changed
    assert step.events == []
    assert "s" not in run.cursor
    assert not uses(run.view, "engine.longtext.buffered")
    assert not has(run.view, Action.DONE)
    before = snapshot(run)
    step = run.press(Action.DONE)
    assert step.views[0].lines == (msg("engine.longtext.empty"),)
    unchanged(run, step, before)
    assert "intro" not in run.answers


def test_longtext_over_the_maximum_is_refused_and_the_buffer_kept(tmp_path: Path) -> None:
    program = define(tmp_path, LONGTEXT)
    run = Run(program)
    run.text("甲" * 150)
    before = snapshot(run)
    step = run.text("乙" * 60)
    [refused] = step.views
    assert refused.lines == (
        Refusal(program.question("intro"), "validation.too_long", {"max": 200, "length": 210}),
    )
    unchanged(run, step, before)
    assert run.cursor["s"] == {"buf": ["甲" * 150]}


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

MULTI_OPTIONS = ["技术攻关", "工艺改进", "人才培养", "节能减排"]


def ticks(view: View) -> list[tuple[str, bool]]:
    """The options of a multichoice as shown: (option key, ticked)."""
    return [
        (b.key, isinstance(b.label, Msg) and b.label.key == "engine.btn.checked")
        for b in buttons(view, Action.TOGGLE)
    ]


def ticked(*chosen: str) -> list[tuple[str, bool]]:
    return [(stable_key(o), o in chosen) for o in MULTI_OPTIONS]


def done_count(view: View) -> int:
    [done] = buttons(view, Action.DONE)
    assert isinstance(done.label, Msg)
    assert done.label.key == "engine.btn.done_count"
    return int(done.label.params["count"])


def test_multichoice_toggles_then_done(tmp_path: Path) -> None:
    run = Run(define(tmp_path, MULTI))
    assert ticks(run.view) == ticked()
    before = snapshot(run)
    step = run.press(Action.DONE)
    assert step.views[0].lines == (msg("engine.choose_one"),)
    unchanged(run, step, before)

    for option in ("人才培养", "技术攻关", "人才培养", "节能减排"):
        step = run.toggle(option)
        assert step.changed
        assert step.events == []
    assert run.cursor["s"] == {"sel": ["技术攻关", "节能减排"]}
    assert "fields" not in run.answers
    assert ticks(run.view) == ticked("技术攻关", "节能减排")
    labels = [b.label for b in buttons(run.view, Action.TOGGLE)]
    assert [(m.key, dict(m.params)) for m in labels if isinstance(m, Msg)] == [
        ("engine.btn.checked", {"label": "技术攻关"}),
        ("engine.btn.unchecked", {"label": "工艺改进"}),
        ("engine.btn.unchecked", {"label": "人才培养"}),
        ("engine.btn.checked", {"label": "节能减排"}),
    ]
    assert done_count(run.view) == 2

    step = run.press(Action.DONE)
    assert step.events == [("fields", ["技术攻关", "节能减排"])]
    assert run.answers["fields"] == ["技术攻关", "节能减排"]
    assert run.at == "after"
    assert "s" not in run.cursor

    # coming back starts from the stored choice
    run.press(Action.BACK)
    assert run.at == "fields"
    assert ticks(run.view) == ticked("技术攻关", "节能减排")
    assert done_count(run.view) == 2


def test_multichoice_unticking_everything_is_refused_and_shown_unticked(tmp_path: Path) -> None:
    """Untick every option of a stored answer and press 完成: the answer stays, and the
    screen shows the ticks as they are (none), not the stored answer."""
    run = Run(define(tmp_path, MULTI), {"fields": ["技术攻关"]}, {"mode": "ask", "q": "fields"})
    run.toggle("技术攻关")
    assert run.cursor["s"] == {"sel": []}
    before = snapshot(run)
    step = run.press(Action.DONE)
    assert step.views[0].lines == (msg("engine.choose_one"),)
    unchanged(run, step, before)
    assert ticks(step.views[-1]) == ticked()
    assert done_count(step.views[-1]) == 0
    assert run.answers["fields"] == ["技术攻关"]
    # keeping the stored answer forgets the unticking
    run.press(Action.KEEP)
    assert run.at == "after"
    assert run.answers["fields"] == ["技术攻关"]
    assert "s" not in run.cursor


# --------------------------------------------------------------------------- option ids and keys

OPTIONS_V1 = """
sections:
  - id: basic
    title: 基本情况
    questions:
      - id: level
        label: 申报级别
        type: choice
        options: {city: 市级, district: 区级, company: 企业级}
        help: h
      - id: fields
        label: 创新领域
        type: multichoice
        options: [{id: tech, label: 技术攻关}, {id: craft, label: 工艺改进}]
        help: h
"""

# The same ids, reordered and relabelled (a union reworded its options).
OPTIONS_V2 = """
sections:
  - id: basic
    title: 基本情况
    questions:
      - id: level
        label: 申报级别
        type: choice
        options: {company: 企业（单位）级, city: 市级以上, district: 区县级}
        help: h
      - id: fields
        label: 创新领域
        type: multichoice
        options: [{id: craft, label: 工艺革新}, {id: tech, label: 技术难题攻关}]
        help: h
"""


def test_an_option_button_still_chooses_its_option_after_the_definition_changed(
    tmp_path: Path,
) -> None:
    v1 = define(tmp_path, OPTIONS_V1, "v1")
    v2 = define(tmp_path, OPTIONS_V2, "v2")
    shown = Run(v1).view
    district = next(b for b in buttons(shown, Action.CHOOSE) if b.label == Plain("区级"))
    assert district.key == stable_key("district")

    # the button was drawn from v1; the press arrives after v2 was loaded
    run = Run(v2, {}, {"mode": "ask", "q": "level"})
    step = run.press(district.action, district.arg, district.key)
    assert step.events == [("level", "district")]
    assert run.answers["level"] == "district"
    assert run.at == "fields"

    tech = next(
        b
        for b in buttons(Run(v1, {}, {"mode": "ask", "q": "fields"}).view, Action.TOGGLE)
        if b.label == msg("engine.btn.unchecked", label="技术攻关")
    )
    run.press(tech.action, tech.arg, tech.key)
    assert run.cursor["s"] == {"sel": ["tech"]}
    step = run.press(Action.DONE)
    assert step.events == [("fields", ["tech"])]


@pytest.mark.parametrize(
    ("question", "action", "key"),
    [
        ("level", Action.CHOOSE, "deadbeef"),
        ("level", Action.CHOOSE, ""),
        ("level", Action.CHOOSE, "district"),  # an option id is not its button key
        ("level", Action.TOGGLE, stable_key("district")),  # not this question's action
        ("fields", Action.TOGGLE, "deadbeef"),
        ("fields", Action.TOGGLE, stable_key("district")),  # another question's option
        ("fields", Action.CHOOSE, stable_key("tech")),
    ],
)
def test_a_forged_option_key_is_refused_and_changes_nothing(
    tmp_path: Path, question: str, action: Action, key: str
) -> None:
    run = Run(define(tmp_path, OPTIONS_V1), {}, {"mode": "ask", "q": question})
    before = snapshot(run)
    step = run.press(action, 0, key)
    assert step.toast == msg("engine.not_now")
    unchanged(run, step, before)
    assert run.at == question
    assert step.views[-1].kind == "question"


def test_an_unknown_section_key_is_refused(tmp_path: Path) -> None:
    answers = {"level": "city", "fields": ["tech"]}
    run = Run(define(tmp_path, OPTIONS_V1), answers, {"mode": "preview"})
    before = snapshot(run)
    for key in ("nowhere", "", "0"):
        step = run.press(Action.EDIT_SECTION, 0, key)
        assert step.toast == msg("engine.not_now")
        unchanged(run, step, before)
        assert [v.kind for v in step.views] == ["preview"]


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
    menu = run.view
    assert menu.kind == "group"
    assert (run.at, run.row) == ("achievements", None)
    assert place(menu) == (1, 2, "创新成果")
    assert params(menu, "engine.group.status") == {"count": 0, "min": 2, "max": 3}
    assert has(menu, Action.ROW_ADD)
    assert not has(menu, Action.DONE)
    assert not menu.expects_text

    before = snapshot(run)
    step = run.press(Action.DONE)
    assert step.views[0].lines == (msg("engine.group.need_rows", min=2),)
    unchanged(run, step, before)

    run.press(Action.ROW_ADD)
    assert (run.at, run.row, run.field) == ("achievements", 0, "title")
    assert place(run.view) == (1, 2, "创新成果")
    assert row_place(run.view) == (1, 1, 4)
    assert asked_label(run.view) == "成果名称"
    step = run.text("数控机床改造")
    assert step.events == [("achievements[0].title", "数控机床改造")]
    assert (run.row, run.field) == (0, "income")
    assert row_place(run.view) == (1, 2, 4)
    run.text("12.5")
    run.text("3")
    note = run.view
    assert (run.row, run.field) == (0, "note")
    assert row_place(note) == (1, 4, 4)
    assert has(note, Action.SKIP)
    step = run.press(Action.SKIP)
    assert step.toast == msg("engine.group.row_saved", n=1)
    assert (run.mode, run.at, run.row) == ("ask", "achievements", None)
    assert run.answers["achievements"] == [
        {"title": "数控机床改造", "income": "12.5", "savings": "3", "note": None}
    ]
    menu = step.views[-1]
    # the computed total is shown with the row; the skipped note is not
    assert menu_rows(menu) == [
        [("成果名称", "数控机床改造"), ("创收", "12.5"), ("节资", "3"), ("合计", "15.5")]
    ]
    assert has(menu, Action.ROW_EDIT, 0)
    assert has(menu, Action.ROW_DELETE, 0)


def test_group_edit_delete_limits(tmp_path: Path) -> None:
    run = Run(define(tmp_path, GROUP))
    add_row(run, "数控机床改造", "12.5", "3")
    add_row(run, "焊接工艺优化", "2", "1")
    assert has(run.view, Action.DONE)

    # edit: each existing value can be kept
    run.press(Action.ROW_EDIT, 0)
    field = run.view
    assert (run.row, run.field) == (0, "title")
    assert row_place(field) == (1, 1, 4)
    current = params(field, "engine.current")["value"]
    assert isinstance(current, Answer)
    assert current.value == "数控机床改造"
    assert has(field, Action.KEEP)
    run.press(Action.KEEP)
    run.text("20")
    run.press(Action.KEEP)
    run.press(Action.SKIP)
    assert run.answers["achievements"][0]["income"] == "20"
    assert ("合计", "23") in menu_rows(run.view)[0]

    # a third row fills the group: no more adding
    add_row(run, "叉车节能", "1", "1")
    assert len(run.answers["achievements"]) == 3
    assert not has(run.view, Action.ROW_ADD)
    before = snapshot(run)
    step = run.press(Action.ROW_ADD)
    assert step.views[0].lines == (msg("engine.group.full", max=3),)
    unchanged(run, step, before)

    # delete asks first; cancel keeps the row
    run.press(Action.ROW_DELETE, 1)
    confirm = run.view
    assert confirm.kind == "confirm"
    asked = one(confirm, "engine.group.confirm_delete")
    assert asked.params["n"] == 2
    assert cells(asked.params["row"])[0] == ("成果名称", "焊接工艺优化")
    assert confirm.actions() == [(Action.ROW_DELETE_OK, 1, ""), (Action.CANCEL, 0, "")]
    step = run.press(Action.CANCEL)
    assert step.changed
    assert run.view.kind == "group"
    assert len(run.answers["achievements"]) == 3

    # confirming deletes exactly that row
    run.press(Action.ROW_DELETE, 1)
    step = run.press(Action.ROW_DELETE_OK, 1)
    assert step.toast == msg("engine.group.row_deleted", n=2)
    titles = [r["title"] for r in run.answers["achievements"]]
    assert titles == ["数控机床改造", "叉车节能"]
    assert step.events == [("achievements", run.answers["achievements"])]

    # a confirmation for a row that was not asked about is refused
    before = snapshot(run)
    step = run.press(Action.ROW_DELETE_OK, 0)
    assert step.toast == msg("engine.not_now")
    unchanged(run, step, before)

    step = run.press(Action.DONE)
    assert step.events == [
        (
            "achievements",
            [
                {"title": "数控机床改造", "income": "20", "savings": "3", "note": None},
                {"title": "叉车节能", "income": "1", "savings": "1", "note": None},
            ],
        )
    ]
    assert run.at == "promise"


def test_back_from_the_first_field_of_a_new_row_removes_it(tmp_path: Path) -> None:
    run = Run(define(tmp_path, GROUP))
    add_row(run, "数控机床改造", "12.5", "3")
    run.press(Action.ROW_ADD)
    assert len(run.answers["achievements"]) == 2
    run.press(Action.BACK)
    assert (run.mode, run.at, run.row) == ("ask", "achievements", None)
    assert len(run.answers["achievements"]) == 1
    assert params(run.view, "engine.group.status")["count"] == 1

    # an existing row is never removed by going back out of it
    run.press(Action.ROW_EDIT, 0)
    run.press(Action.BACK)
    assert (run.at, run.row) == ("achievements", None)
    assert len(run.answers["achievements"]) == 1


def test_leaving_a_new_empty_row_for_the_preview_removes_it(tmp_path: Path) -> None:
    rows = [
        {"title": "数控机床改造", "income": "1", "savings": "1"},
        {"title": "焊接工艺优化", "income": "2", "savings": "1"},
    ]
    run = Run(define(tmp_path, GROUP), {"achievements": rows, "promise": True}, {"mode": "preview"})
    run.press(Action.EDIT_SECTION, 0, "results")
    run.press(Action.ROW_ADD)
    assert has(run.view, Action.PREVIEW)
    run.press(Action.PREVIEW)
    assert run.mode == "preview"
    assert run.answers["achievements"] == rows
    assert run.walker().problems() == []

    # a row with something typed in stays, and the preview says what it lacks
    run.press(Action.EDIT_SECTION, 0, "results")
    run.press(Action.ROW_ADD)
    run.text("叉车节能")
    run.press(Action.PREVIEW)
    assert len(run.answers["achievements"]) == 3
    lacks = msg(
        "engine.problem.row",
        label=numbered(1, "主要创新成果"),
        n=3,
        fields=fields_list("创收", "节资"),
    )
    assert run.walker().problems() == [lacks]
    assert msg("engine.bullet", text=lacks) in run.view.lines


def test_group_done_refuses_an_incomplete_row(tmp_path: Path) -> None:
    rows = [
        {"title": "数控机床改造", "income": "1", "savings": "1"},
        {"title": "焊接工艺优化", "income": "2"},
    ]
    run = Run(define(tmp_path, GROUP), {"achievements": rows}, {"mode": "ask", "q": "achievements"})
    before = snapshot(run)
    step = run.press(Action.DONE)
    assert step.views[0].lines == (
        msg("engine.group.row_incomplete", n=2, fields=fields_list("节资")),
    )
    unchanged(run, step, before)


def test_drawing_views_never_changes_answers(tmp_path: Path) -> None:
    """Showing a group whose answer is missing (or the preview) writes nothing:
    the answers stay as they were and nothing asks to be saved."""
    program = define(tmp_path, GROUP)
    for cursor in ({"mode": "ask", "q": "achievements"}, {"mode": "preview"}):
        w = Walker(program, {"promise": True}, cursor, today=TODAY)
        views = w.views()
        for loc in (LOC, Locale("en")):
            for view in views:
                render(view, loc)
        assert w.answers == {"promise": True}
        assert w.cur == cursor
        assert not w.step.changed
        assert w.step.events == []
    menu = Walker(program, {}, {"mode": "ask", "q": "achievements"}, today=TODAY).views()[0]
    assert params(menu, "engine.group.status")["count"] == 0
    assert menu_rows(menu) == []


def test_an_english_locale_draws_the_same_view_with_english_punctuation(tmp_path: Path) -> None:
    program = define(tmp_path, GROUP)
    rows = [{"title": "数控机床改造", "income": "12.5", "savings": "3", "note": None}]
    run = Run(program, {"achievements": rows}, {"mode": "ask", "q": "achievements"})
    [menu] = run.views()
    zh = render(menu, Locale("zh-CN"))
    en = render(menu, Locale("en"))
    row_zh = draw(menu.lines[-1], Locale("zh-CN"))
    row_en = draw(menu.lines[-1], Locale("en"))
    assert row_zh.count("；") == 3
    assert "; " not in row_zh
    assert row_en.count("; ") == 3
    assert "；" not in row_en
    assert row_zh in zh.text
    assert row_en in en.text
    assert zh.text != en.text
    # the same buttons, doing the same things, in both languages
    assert [[(b.action, b.arg, b.key) for b in r] for r in zh.buttons] == [
        [(b.action, b.arg, b.key) for b in r] for r in en.buttons
    ]
    assert zh.expects_text == en.expects_text

    # a list of missing columns is also joined by the locale
    problem = msg(
        "engine.problem.row",
        label=numbered(1, "主要创新成果"),
        n=2,
        fields=fields_list("创收", "节资"),
    )
    assert "创收、节资" in draw(problem, Locale("zh-CN"))
    assert "创收, 节资" in draw(problem, Locale("en"))


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
    assert run.check_upload(sent_as="document", mime="image/png") is None
    assert run.check_upload(sent_as="document", mime="application/pdf") == (
        "engine.upload.need_photo"
    )
    assert run.check_upload(size=2 * 1024 * 1024) == "engine.upload.too_big"
    assert run.check_upload(size=1024 * 1024) is None
    assert run.check_upload(size=0) == "engine.upload.empty"

    full = Run(program, {"name": "x", "photos": [1, 2]}, {"mode": "ask", "q": "photos"})
    assert full.check_upload() == "engine.upload.too_many"

    preview = Run(program, {"name": "x"}, {"mode": "preview"})
    assert preview.check_upload() == "engine.upload.not_now"

    # a file question takes any document, within the default size
    files = Run(program, {"name": "x"}, {"mode": "ask", "q": "proof"})
    assert files.check_upload(sent_as="document", mime="application/pdf") is None
    assert files.check_upload(
        sent_as="document", mime="application/pdf", size=21 * 1024 * 1024
    ) == ("engine.upload.too_big")


def test_uploads_collect_and_advance_at_max_files(tmp_path: Path) -> None:
    run = Run(define(tmp_path, UPLOADS), {"name": "x"}, {"mode": "ask", "q": "photos"})
    assert run.view.kind == "question"
    assert not run.view.expects_text
    before = snapshot(run)
    step = run.text("照片稍后发")
    assert [v.lines for v in step.views] == [(msg("engine.upload.send_photo"),)]
    unchanged(run, step, before)
    step = run.press(Action.DONE)
    assert step.views[0].lines == (msg("engine.upload.need_more", count=0, min=1),)
    unchanged(run, step, before)

    step = run.upload(7)
    assert step.events == [("photos", [7])]
    [progress] = step.views
    assert progress.kind == "upload"
    assert progress.lines == (
        msg("engine.upload.received", count=1, need=msg("engine.count.range", min=1, max=2)),
    )
    assert run.at == "photos"
    assert has(progress, Action.DONE)
    assert has(progress, Action.CLEAR)

    step = run.upload(8)
    assert step.events == [("photos", [7, 8])]
    assert run.answers["photos"] == [7, 8]
    # Said as a message: a photo is no button press.
    assert step.toast is None
    assert step.views[0].lines == (msg("engine.upload.complete", count=2),)
    assert run.at == "proof"
    assert step.views[-1].kind == "question"
    assert asked_label(step.views[-1]) == "证明材料"
    assert uses(step.views[-1], "engine.optional")


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


def suggested(view: View) -> list[tuple[int, str]]:
    out = []
    for b in buttons(view, Action.SUGGEST):
        assert isinstance(b.label, Msg)
        assert b.label.key == "engine.btn.suggest"
        out.append((b.arg, b.label.params["text"]))
    return out


def test_suggestions_are_filled_from_answers_and_today(tmp_path: Path) -> None:
    run = Run(define(tmp_path, SUGGEST))
    run.text("王伟")
    assert suggested(run.view) == [(0, "王伟创新工作室"), (1, "王伟劳模创新工作室")]
    step = run.press(Action.SUGGEST, 0)
    assert step.events == [("studio", "王伟创新工作室")]

    assert suggested(run.view) == [(0, "2025-06-18")]
    run.press(Action.SUGGEST, 0)
    assert run.answers["filled_on"] == "2025-06-18"
    assert run.mode == "preview"


def test_a_suggestion_missing_its_answer_is_not_offered(tmp_path: Path) -> None:
    run = Run(define(tmp_path, SUGGEST), {}, {"mode": "ask", "q": "studio"})
    assert not has(run.view, Action.SUGGEST)
    before = snapshot(run)
    step = run.press(Action.SUGGEST, 0)
    assert step.toast == msg("engine.not_now")
    unchanged(run, step, before)


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


def long_answers(count: int) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for i in range(count):
        answers[f"a{i}"] = f"第{i + 1}部分概述：" + "工作室围绕设备故障诊断开展技术攻关。" * 20
        answers[f"b{i}"] = f"第{i + 1}部分成果：" + "完成创新成果十二项，获得国家专利三项。" * 20
        answers[f"c{i}"] = None
    return answers


def delivered(views: list[View]) -> list[Reply]:
    """The messages Telegram gets for ``views`` (drawn, then split as bot.delivery does)."""
    replies = []
    for view in views:
        screen = render(view, LOC)
        replies.append(Reply(text=screen.text, buttons=screen.buttons))
    return fit_replies(replies, TEXT_LIMIT, utf16_length)


def test_a_long_preview_is_one_view_split_with_the_buttons_last(tmp_path: Path) -> None:
    program = define(tmp_path, many_sections(30))
    run = Run(program, long_answers(30), {"mode": "preview"})
    [preview] = run.views()
    assert preview.kind == "preview"
    title = one(preview, "engine.preview.title")
    assert title.params == {"form": "职工创新工作室申报表", "union": "测试市总工会"}
    sections = [m.params["title"] for m in msgs(preview, "engine.preview.section")]
    assert sections == [f"第{i + 1}部分" for i in range(30)]
    skipped = [
        m.params["label"]
        for m in msgs(preview, "preview.item")
        if m.params["value"] == msg("engine.preview.skipped")
    ]
    assert skipped == [f"第{i + 1}部分备注" for i in range(30)]
    # long answers are shown whole, to be proofread
    clips = {a.clip for a in parts(preview) if isinstance(a, Answer)}
    assert clips == {None}
    assert uses(preview, "engine.preview.ready")
    assert not uses(preview, "engine.preview.problems_title")

    edit = [(b.key, b.label) for b in buttons(preview, Action.EDIT_PICK)]
    assert edit == [
        (f"s{i}", msg("engine.btn.edit_section", title=f"第{i + 1}部分")) for i in range(30)
    ]
    assert has(preview, Action.SUBMIT)

    # the transport splits the drawn text: each piece fits, buttons go with the last
    messages = delivered([preview])
    assert len(messages) >= 3
    assert all(utf16_length(m.text) <= TEXT_LIMIT for m in messages)
    assert all(not m.buttons for m in messages[:-1])
    assert messages[-1].buttons == render(preview, LOC).buttons
    whole = "\n\n".join(m.text for m in messages)
    heads = [draw(msg("engine.preview.section", title=f"第{i + 1}部分"), LOC) for i in range(30)]
    positions = [whole.index(h) for h in heads]
    assert positions == sorted(positions)
    # a section is never cut between two messages
    for i, head in enumerate(heads):
        holder = [m.text for m in messages if head in m.text]
        assert len(holder) == 1
        assert f"第{i + 1}部分备注" in holder[0]
    assert draw(msg("engine.preview.ready"), LOC) in messages[-1].text


def test_text_typed_in_a_long_preview_is_answered_briefly(tmp_path: Path) -> None:
    program = define(tmp_path, many_sections(30))
    run = Run(program, long_answers(30), {"mode": "preview"})
    before = snapshot(run)
    step = run.text("提交")
    unchanged(run, step, before)
    assert step.views[0].lines == (msg("engine.preview.use_buttons"),)
    assert has(step.views[-1], Action.SUBMIT)
    # the notice, then one message with the buttons: no answer is repeated
    assert len(delivered(step.views)) == 2


def test_edit_section_returns_to_the_preview(tmp_path: Path) -> None:
    answers = {
        "name": "大连港职工创新工作室",
        "members": 12,
        "site": None,
        "has_room": True,
        "level": "市级",
    }
    program = define(tmp_path, LINEAR)
    run = Run(program, answers, {"mode": "preview"})

    run.press(Action.EDIT_SECTION, 0, "cond")
    assert (run.mode, run.at, run.cursor.get("edit")) == ("ask", "has_room", "cond")
    view = run.view
    assert params(view, "engine.current")["value"] == Answer(
        program.question("has_room"), True, clip=120
    )
    assert has(view, Action.PREVIEW)
    assert has(view, Action.KEEP)
    run.press(Action.CHOOSE, 0)
    assert run.at == "level"
    step = run.choose("企业级")
    assert run.mode == "preview"
    assert "edit" not in run.cursor
    assert run.answers["has_room"] is False
    assert run.answers["level"] == "企业级"
    assert [v.kind for v in step.views] == ["preview"]

    # the preview button leaves the section early, changing nothing
    run.press(Action.EDIT_SECTION, 0, "basic")
    assert (run.at, run.cursor.get("edit")) == ("name", "basic")
    step = run.press(Action.PREVIEW)
    assert step.events == []
    assert run.mode == "preview"
    assert "edit" not in run.cursor
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
    program = define(tmp_path, COMPLETE)
    answers = {"intro": "太短了", "members": [{"name": "张三"}], "photos": [1]}
    run = Run(program, answers, {"mode": "preview"})
    problems = [
        msg("engine.problem.missing", label=numbered(1, "工作室名称")),
        msg("engine.problem.short", label=numbered(3, "简介"), min=20, count=3),
        msg("engine.problem.rows", label=numbered(4, "成员"), min=2, count=1),
        msg("engine.problem.row", label=numbered(4, "成员"), n=1, fields=fields_list("年龄")),
        msg("engine.problem.files", label=numbered(5, "工作室照片"), min=2, count=1),
    ]
    assert run.walker().problems() == problems
    [preview] = run.views()
    assert params(preview, "engine.preview.problems_title") == {"count": 5}
    assert [m.params["text"] for m in msgs(preview, "engine.bullet")] == problems
    assert not uses(preview, "engine.preview.ready")

    before = snapshot(run)
    w = run.walker()
    assert w.submit() is False
    assert not w.step.changed
    assert w.step.events == []
    [refused] = w.step.views
    assert refused.kind == "problems"
    assert refused.lines == (
        msg("engine.submit.refused", count=5),
        *[msg("engine.bullet", text=p) for p in problems],
    )
    # the button goes to the first section that still has a problem
    assert refused.actions() == [(Action.EDIT_SECTION, 0, "basic")]
    assert buttons(refused, Action.EDIT_SECTION)[0].label == msg(
        "engine.btn.edit_section", title="基本情况"
    )
    assert (w.answers, w.cur) == before
    assert w.mode == "preview"

    answers = {**answers, "name": "大连港职工创新工作室"}
    w = Run(program, answers, {"mode": "preview"}).walker()
    assert w.submit() is False
    assert w.step.views[0].actions() == [(Action.EDIT_SECTION, 0, "story")]


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
    assert w.step.changed
    assert w.mode == "done"
    assert w.answers == answers
    assert [v.lines for v in w.views()] == [(msg("engine.already_submitted"),)]


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
    warnings = [
        ("团队成员应不少于3人", "通知第二条第（三）项"),
        ("活动场所面积应不少于30平方米", "通知第二条第（四）项"),
        ("工作室名称不能只写领衔人姓名", "通知第三条"),
        ("领衔人应为省部级以上劳模", "通知第二条第（一）项"),
    ]
    assert run.walker().warnings() == warnings
    [preview] = run.views()
    assert uses(preview, "engine.preview.warnings_title")
    shown = [
        (m.params["message"], m.params["cite"]) for m in msgs(preview, "engine.preview.warning")
    ]
    assert shown == warnings
    assert uses(preview, "engine.preview.ready")  # warnings do not block
    assert run.walker().problems() == []

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
    keys = run.view.keys()
    assert "engine.preview.warnings_title" not in keys
    assert "engine.preview.warning" not in keys

    # nothing is said about what has not been answered yet
    assert Run(program, {}, {"mode": "preview"}).walker().warnings() == []


# --------------------------------------------------------------------------- stored cursors


def test_a_cursor_left_by_an_older_definition_is_repaired(tmp_path: Path) -> None:
    """A union edits its program while drafts are open: a draft whose question is
    gone resumes at the first unanswered question, with every answer kept."""
    program = define(tmp_path, LINEAR)
    first = program.questions()[0][1].id
    second = program.questions()[1][1].id
    answers = {first: "大连港职工创新工作室", "removed_question": "kept"}
    walker = Walker(program, answers, {"mode": "ask", "q": "removed_question"}, today=TODAY)
    assert walker.step.changed
    assert walker.mode == "ask"
    assert walker.cur["q"] == second
    assert walker.cur.get("row") is None
    assert walker.answers == answers
    assert walker.views()[0].kind == "question"

    # a row inside a question that is no group any more
    stale_row = {"mode": "ask", "q": first, "row": 3, "f": "gone"}
    repaired = Walker(program, answers, stale_row, today=TODAY)
    assert repaired.step.changed
    assert repaired.cur["q"] == second
    assert repaired.cur.get("row") is None
    assert repaired.answers == answers


def test_a_draft_saved_before_the_scratch_key_keeps_its_work_in_progress(tmp_path: Path) -> None:
    """Drafts saved by the previous engine kept long-text parts and ticks at the
    cursor's top level (``buf``, ``sel``); they resume with them."""
    run = Run(define(tmp_path, LONGTEXT), {}, {"mode": "ask", "q": "intro", "buf": ["甲" * 60]})
    assert params(run.view, "engine.longtext.buffered") == {"count": 60}
    step = run.press(Action.DONE)
    assert step.events == [("intro", "甲" * 60)]
    assert "buf" not in run.cursor
    assert "s" not in run.cursor

    run = Run(
        define(tmp_path, MULTI, "multi"), {}, {"mode": "ask", "q": "fields", "sel": ["工艺改进"]}
    )
    assert ticks(run.view) == ticked("工艺改进")
    step = run.press(Action.DONE)
    assert step.events == [("fields", ["工艺改进"])]


def test_a_section_s_help_is_said_when_the_section_begins(tmp_path: Path) -> None:
    program = define(
        tmp_path,
        """
        sections:
          - id: basic
            title: 基本情况
            questions:
              - {id: name, label: 工作室名称, type: text, help: h}
          - id: results
            title: 创新成果
            help: 均填写近两年情况
            questions:
              - {id: count, label: 成果数, type: integer, help: h}
              - {id: note, label: 说明, type: text, help: h}
        """,
    )
    run = Run(program)
    assert not uses(run.view, "engine.section_intro")
    run.text("甲")
    assert params(run.view, "engine.section_intro") == {"text": "均填写近两年情况"}
    run.text("3")
    assert not uses(run.view, "engine.section_intro")
    run.press(Action.BACK)  # back at the section's start: said again
    assert uses(run.view, "engine.section_intro")
