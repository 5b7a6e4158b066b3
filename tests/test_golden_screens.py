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


def group_menu_with_one_row(tmp_path: Path) -> View:
    rows = [{"title": "数控机床改造", "income": "12.5", "savings": "3", "note": None}]
    run = Run(define(tmp_path, GROUP), {"achievements": rows}, {"mode": "ask", "q": "achievements"})
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
        [],
        True,
    ),
    (
        multichoice_with_two_ticks,
        "第 1/2 题 · 创新方向\n\n【创新领域】\nh\n可多选：点击选项勾选或取消，选好后点「完成」。",
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
        "已填 1 行（至少 2 行，最多 3 行）。\n"
        "1. 成果名称 数控机床改造；创收 12.5 万元；节资 3 万元；合计 15.5 万元",
        [["➕ 添加一行"], ["✏️ 修改第 1 行", "🗑 删除第 1 行"], ["💾 保存并退出"]],
        False,
    ),
    (
        preview_of_a_complete_application,
        "📋 申报预览 ·《职工创新工作室申报表》（测试市总工会）\n"
        "请逐项核对，需要修改请点对应部分的「修改」按钮。\n"
        "\n"
        "【基本情况】\n"
        "工作室名称：大连港职工创新工作室\n"
        "成员人数：12 人\n"
        "网址：（未填）\n"
        "\n"
        "【工作室条件】\n"
        "是否有固定活动场所：是\n"
        "申报级别：区级\n"
        "\n"
        "✅ 必填项已全部完成，确认无误后点「提交申报」。",
        [
            ["✏️ 修改：基本情况", "✏️ 修改：工作室条件"],
            ["📨 提交申报"],
            ["⬅️ 上一步", "💾 保存并退出"],
        ],
        False,
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
