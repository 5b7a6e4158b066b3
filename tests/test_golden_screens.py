"""A few screens drawn in full, in Chinese: the one place where wording is asserted.

Every other engine test checks what was decided (view kinds, locale keys and
their parameters, buttons, answers).  These golden screens pin the words,
the punctuation and the layout a user actually reads, so that a change of
wording in ``dialogs/locales/zh-CN`` or in ``dialogs/render.py`` shows up
here, once, and is updated on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dialogs.i18n import Locale
from dialogs.render import render
from dialogs.ui import Action
from dialogs.view import View
from tests.test_engine import GROUP, LINEAR, MULTI, TYPED, TYPED_ANSWERS, Run, define
from tests.test_suggest import EARLIER, LEADER, TEAM, KnownRun

ZH = Locale("zh-CN")


def question_with_its_current_answer(tmp_path: Path) -> View:
    run = Run(define(tmp_path, LINEAR))
    run.text("大连港职工创新工作室")
    run.text("12")
    run.press(Action.BACK)
    return run.view


def refused_integer(tmp_path: Path) -> View:
    run = Run(define(tmp_path, TYPED), dict(TYPED_ANSWERS), {"mode": "ask", "q": "q_int"})
    return run.text("十几个").views[0]


def multichoice_with_two_ticks(tmp_path: Path) -> View:
    run = Run(define(tmp_path, MULTI))
    run.toggle("技术攻关")
    run.toggle("节能减排")
    return run.view


def multichoice_typed_after_a_tick(tmp_path: Path) -> View:
    run = Run(define(tmp_path, MULTI))
    run.toggle("技术攻关")
    return run.text("4").views[0]


def group_menu_with_one_row(tmp_path: Path) -> View:
    rows = [{"title": "数控机床改造", "income": "12.5", "savings": "3", "note": None}]
    run = Run(define(tmp_path, GROUP), {"achievements": rows}, {"mode": "ask", "q": "achievements"})
    return run.view


def bare_amount_asked_about(tmp_path: Path) -> View:
    answers = {k: v for k, v in TYPED_ANSWERS.items() if k != "q_money"}
    run = Run(define(tmp_path, TYPED), answers, {"mode": "ask", "q": "q_money"})
    run.text("50000")
    return run.view


def preview_of_a_complete_application(tmp_path: Path) -> View:
    answers = {
        "name": "大连港职工创新工作室",
        "members": 12,
        "site": None,
        "has_room": True,
        "level": "区级",
    }
    return Run(define(tmp_path, LINEAR), answers, {"mode": "preview"}).view


def picker_of_one_section(tmp_path: Path) -> View:
    answers = {"name": "大连港职工创新工作室", "members": 12, "site": None}
    run = Run(define(tmp_path, LINEAR), answers, {"mode": "preview"})
    [picker] = run.press(Action.EDIT_PICK, 0, "basic").views
    return picker


def first_team_row(tmp_path: Path) -> View:
    run = Run(define(tmp_path, TEAM), dict(LEADER), {"mode": "ask", "q": "members"})
    run.press(Action.ROW_ADD)
    return run.view


def earlier_answers_offered(tmp_path: Path) -> View:
    known = {"leader": "王伟", "profile": "长" * 300}
    return KnownRun(define(tmp_path, EARLIER), known).view


def earlier_long_answer_offered(tmp_path: Path) -> View:
    known = {"leader": "王伟", "profile": "长" * 300}
    cursor = {"mode": "ask", "q": "profile"}
    return KnownRun(define(tmp_path, EARLIER), known, answers={}, cursor=cursor).view


GOLDEN: list[tuple[Callable[[Path], View], str, list[list[str]], bool]] = [
    (
        question_with_its_current_answer,
        "第 2/5 题 · 基本情况\n"
        "\n"
        "【成员人数】\n"
        "按通知第二条填写\n"
        "请输入整数（单位：人）。\n"
        "当前答案：12 人",
        [["⬅️ 上一步", "✅ 保留当前答案"], ["💾 保存并退出"]],
        True,
    ),
    (
        refused_integer,
        "没能识别出整数。请只填一个整数（不带小数点），例如：15",
        # the question's buttons stay under a refusal, its text is not repeated
        [["✅ 保留当前答案"], ["💾 保存并退出"]],
        True,
    ),
    (
        multichoice_with_two_ticks,
        "第 1/2 题 · 创新方向\n\n【创新领域】\nh\n"
        "可多选：点击选项勾选或取消（也可输入选项或序号，如 1、3），选好后点「完成」。",
        [
            ["☑ 技术攻关", "☐ 工艺改进"],
            ["☐ 人才培养", "☑ 节能减排"],
            ["✅ 完成（已选 2 项）"],
            ["💾 保存并退出"],
        ],
        True,
    ),
    (
        multichoice_typed_after_a_tick,
        "已选：技术攻关、节能减排。\n点击选项可勾选或取消，也可再输入选项添加，选好后点「完成」。",
        [
            ["☑ 技术攻关", "☐ 工艺改进"],
            ["☐ 人才培养", "☑ 节能减排"],
            ["✅ 完成（已选 2 项）"],
            ["💾 保存并退出"],
        ],
        True,
    ),
    (
        group_menu_with_one_row,
        "第 1/2 题 · 创新成果\n"
        "\n"
        "【主要创新成果】\n"
        "近三年成果\n"
        "可一次粘贴多行：成果名称 创收 节资 备注，一行一条，用空格、逗号、顿号或制表符隔开；"
        "也可以下载表格模板，填好后把文件发回来。\n"
        "已填 1 行（至少 2 行，最多 3 行）。\n"
        "1. 成果名称 数控机床改造；创收 12.5 万元；节资 3 万元；合计 15.5 万元",
        [
            ["➕ 添加一行", "📥 下载表格模板"],
            ["✏️ 修改第 1 行", "🗑 删除第 1 行"],
            ["💾 保存并退出"],
        ],
        False,
    ),
    (
        bare_amount_asked_about,
        "第 3/8 题 · 各类题型\n"
        "\n"
        "【投入经费】\n"
        "h\n"
        "请输入金额，单位万元，例如 12.5（即 12.5 万元）；按元填写请带“元”，如 125000元。\n"
        "是 5 万元，还是 50000 万元？请点按钮选择，或带上单位重新发送（如“5万”或“50000元”）。",
        [["5 万元", "50000 万元"], ["⬅️ 上一步"], ["💾 保存并退出"]],
        True,
    ),
    (
        preview_of_a_complete_application,
        "📋 申报预览 ·《职工创新工作室申报表》（测试市总工会）\n"
        "请逐项核对。要修改某一项，直接发送它前面的编号（如 12；表格第 3 行发 12.3），"
        "或点下方对应部分的「修改」按钮。\n"
        "\n"
        "【基本情况】\n"
        "1. 工作室名称：大连港职工创新工作室\n"
        "2. 成员人数：12 人\n"
        "3. 网址：（未填）\n"
        "\n"
        "【工作室条件】\n"
        "4. 是否有固定活动场所：是\n"
        "5. 申报级别：区级\n"
        "\n"
        "✅ 必填项已全部完成，确认无误后点「提交申报」。",
        [
            ["✏️ 修改：基本情况", "✏️ 修改：工作室条件"],
            ["📨 提交申报", "📄 下载申报表"],
            ["⬅️ 上一步", "💾 保存并退出"],
        ],
        True,
    ),
    (
        picker_of_one_section,
        "要修改「基本情况」中的哪一项？点下面的按钮，或直接发送预览中的编号。",
        [
            ["1. 工作室名称"],
            ["2. 成员人数"],
            ["3. 网址"],
            ["📝 逐项修改「基本情况」"],
            ["📋 返回预览"],
        ],
        True,
    ),
    (
        first_team_row,
        "第 5/5 题 · 团队 · 第 1 行（第 1/5 项）\n\n【姓名】\n请直接输入文字回答。",
        [["💡 填入负责人本人信息"], ["⬅️ 上一步"], ["💾 保存并退出"]],
        True,
    ),
    (
        earlier_answers_offered,
        "第 1/5 题 · 基本情况\n\n【负责人姓名】\nh\n请直接输入文字回答。",
        [["💡 沿用上次：王伟"], ["💾 保存并退出"]],
        True,
    ),
    (
        earlier_long_answer_offered,
        "第 3/5 题 · 基本情况\n"
        "\n"
        "【负责人简介】\n"
        "h\n"
        "请输入文字，内容较长可分多条消息发送，发完后点「完成」。",
        [["💡 沿用上次的答案（300字）"], ["⬅️ 上一步"], ["💾 保存并退出"]],
        True,
    ),
]


@pytest.mark.parametrize(
    ("build", "text", "labels", "expects_text"),
    GOLDEN,
    ids=[build.__name__ for build, *_ in GOLDEN],
)
def test_golden_screen(
    tmp_path: Path,
    build: Callable[[Path], View],
    text: str,
    labels: list[list[str]],
    expects_text: bool,
) -> None:
    screen = render(build(tmp_path), ZH)
    assert screen.text == text
    assert [[b.label for b in row] for row in screen.buttons] == labels
    assert screen.expects_text is expects_text
