"""Workbooks of declarations: ``studiobot export table`` and an administrator's
``/export`` (SQLite, and PostgreSQL when configured).

Declarations are filled by the scripted applicant through the conversation and
submitted for real, from a unit of 西岗区 and one of 中山区; the workbook is
opened again with openpyxl and read back: its rows, the types of its cells,
the team members' sheet, and no formula from what a person typed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import col, select

from dialogs.exports import display_width, sheet_title
from dialogs.i18n import Locale
from dialogs.service import Conversation
from dialogs.ui import Action, ButtonIn, CommandIn, Outcome, UserRef
from storage.models import Application, StaffRole, Submission
from studiobot.cli import main
from tests.test_review_chain import (
    EXAMPLES,
    conv,  # noqa: F401  (the fixture)
    decide,
    declare,
    grant,
    notes,
    reviewer,
    unit_name,
)
from tests.test_staff_cli import cli_env, run  # noqa: F401  (cli_env: the fixture)

ZH = Locale("zh-CN")
PROGRAM = "dalian-worker"
TYPED = ['=HYPERLINK("http://evil.example/","点我")', "+1", "-2", "@x", "\t=1+1", "\r=2"]
"""What people typed that a spreadsheet would take for a formula."""

LEADER = UserRef("telegram", "leader-xg", "西岗带头人")
OTHER = UserRef("telegram", "leader-zs", "中山带头人")
BOSS = UserRef("telegram", "boss-xg", "西岗管理员")
CHECKER = UserRef("telegram", "checker-xg", "西岗审核员")


async def typed_in(conv: Conversation, app_id: int) -> None:  # noqa: F811
    """The submitted version as if its leader and team had typed formulas."""
    async with conv.sessions() as session, session.begin():
        sub = (
            (
                await session.execute(
                    select(Submission)
                    .where(Submission.application_id == app_id)
                    .order_by(col(Submission.number).desc())
                )
            )
            .scalars()
            .first()
        )
        assert sub is not None
        answers = dict(sub.answers)
        answers["leader_name"] = TYPED[0]
        answers["members"] = [
            {**row, "name": name, "trade": TYPED[4], "rank": TYPED[5]}
            for row, name in zip([answers["members"][0]] * 3, TYPED[1:4], strict=True)
        ]
        sub.answers = answers


async def two_declarations(conv: Conversation) -> tuple[int, int]:  # noqa: F811
    xg = await declare(conv, LEADER, PROGRAM, await unit_name(conv, "dl-xg-gk"))
    zs = await declare(conv, OTHER, PROGRAM, await unit_name(conv, "dl-zs-rq"))
    await typed_in(conv, xg.app_id)
    return xg.app_id, zs.app_id


def sheet_rows(sheet: Worksheet) -> list[list[Any]]:
    return [[c.value for c in row] for row in sheet.iter_rows()]


def column(sheet: Worksheet, label: str) -> int:
    """The index (0-based) of the column headed ``label``."""
    return [c.value for c in sheet[1]].index(label)


def no_formula(book: Any) -> None:
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)


def press(out: Outcome, action: Action, key: str = "") -> ButtonIn:
    found = [
        b
        for r in out.replies
        for row in r.buttons
        for b in row
        if b.action is action and (not key or b.key == key)
    ]
    assert found, [r.text for r in out.replies]
    return ButtonIn(found[0].action, found[0].arg, 0, 0, found[0].key)


# --------------------------------------------------------------------------- /export


async def test_an_administrator_exports_their_district(conv: Conversation) -> None:  # noqa: F811
    await grant(conv, BOSS, "dl-xg", StaffRole.ADMIN)
    await grant(conv, reviewer("dl-xg-gk-gh"), "dl-xg-gk-gh", StaffRole.REVIEWER)
    xg, _ = await two_declarations(conv)
    # The grassroots union returns the 西岗 declaration: it has a decision date.
    [card] = await notes(conv, reviewer("dl-xg-gk-gh"))
    await decide(conv, reviewer("dl-xg-gk-gh"), card, Action.REVIEW_RETURN, "请补充")

    out = await conv.handle(BOSS, CommandIn("export"))
    assert out.replies[0].text == ZH.t("export.pick_program")
    out = await conv.handle(BOSS, press(out, Action.EXPORT_PROGRAM, PROGRAM))
    [reply] = out.replies
    [media] = reply.media
    assert media.kind == "document"
    assert media.name.endswith(".xlsx")
    assert "西岗区总工会" in reply.text

    book = load_workbook(media.path)
    main_sheet, members = book.worksheets[0], book.worksheets[1]
    assert main_sheet.title == ZH.t("export.sheet.main")
    assert main_sheet.freeze_panes == "A2"
    rows = sheet_rows(main_sheet)
    assert len(rows) == 2  # the header and the 西岗 declaration only: 中山 is not under it
    head, row = rows
    assert row[0] == xg
    assert row[column(main_sheet, "状态")] == ZH.t("export.status.returned")
    assert row[column(main_sheet, "申报单位")] == "大连港口设备有限公司"
    assert row[column(main_sheet, "当前审核级")]
    for label in ("提交日期", "决定日期", "申报日期"):
        value = row[column(main_sheet, label)]
        assert isinstance(value, dt.datetime), (label, value)  # an Excel date
        assert value.date() == dt.date(2026, 6, 1)
    assert row[column(main_sheet, "团队带头人（负责人）姓名")] == TYPED[0]
    assert row[column(main_sheet, "团队成员基本情况（行数）")] == 3
    assert head[column(main_sheet, "团队带头人（负责人）姓名")] == "团队带头人（负责人）姓名"

    # One row per team member, each with the declaration's number and studio name.
    assert members.title == "团队成员基本情况"
    member_rows = sheet_rows(members)
    assert [r[:3] for r in member_rows[1:]] == [
        [xg, row[column(main_sheet, "申报名称")], n] for n in (1, 2, 3)
    ]
    names = [r[column(members, "姓名")] for r in member_rows[1:]]
    assert names == TYPED[1:4]  # kept as typed, as text
    births = [r[column(members, "出生年月")] for r in member_rows[1:]]
    assert all(isinstance(b, dt.datetime) for b in births)
    assert members.cell(row=2, column=column(members, "出生年月") + 1).number_format == "yyyy-mm"
    trade = members.cell(row=2, column=column(members, "工种") + 1)
    assert (trade.value, trade.data_type, trade.quotePrefix) == (TYPED[4], "s", True)
    rank = members.cell(row=2, column=column(members, "职级") + 1)
    assert (rank.value, rank.data_type) == (TYPED[5], "s")
    no_formula(book)


async def test_others_are_refused(conv: Conversation) -> None:  # noqa: F811
    await two_declarations(conv)
    await grant(conv, CHECKER, "dl-xg", StaffRole.REVIEWER)
    await grant(conv, BOSS, "dl-xg", StaffRole.ADMIN)
    for who in (CHECKER, LEADER):
        out = await conv.handle(who, CommandIn("export"))
        assert out.replies[0].text == ZH.t("export.not_admin")
        assert not [m for r in out.replies for m in r.media]
    # A press made up by someone who is no administrator there sends nothing.
    boss = await conv.handle(BOSS, CommandIn("export"))
    forged = press(boss, Action.EXPORT_PROGRAM, PROGRAM)
    for who in (CHECKER, LEADER):
        out = await conv.handle(who, forged)
        assert out.replies[0].text == ZH.t("staff.forbidden")
        assert not [m for r in out.replies for m in r.media]


async def test_nothing_to_export_is_said(conv: Conversation) -> None:  # noqa: F811
    await grant(conv, BOSS, "dl-xg", StaffRole.ADMIN)
    out = await conv.handle(BOSS, CommandIn("export"))
    out = await conv.handle(BOSS, press(out, Action.EXPORT_PROGRAM, "beijing-worker"))
    assert "还没有" in out.replies[0].text
    assert not [m for r in out.replies for m in r.media]


# --------------------------------------------------------------------------- the CLI


@pytest.mark.usefixtures("cli_env")
def test_the_cli_refuses_what_does_not_exist(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = str(tmp_path / "x.xlsx")
    assert run(capsys, "org", "import", str(EXAMPLES / "dalian.yaml"))[0] == 0
    code, _, err = run(capsys, "export", "table", "--program", "nope", "--out", out)
    assert code == 2
    assert err.strip().splitlines() == [err.strip()]
    assert all(word in err for word in ("nope", "dalian-worker", "yangpu-model"))
    code, _, err = run(
        capsys, "export", "table", "--program", PROGRAM, "--status", "draft", "--out", out
    )
    assert (code, len(err.strip().splitlines())) == (2, 1)
    assert all(word in err for word in ("draft", "submitted", "approved"))
    code, _, err = run(capsys, "export", "table", "--program", PROGRAM, "--org", "zz", "--out", out)
    assert (code, len(err.strip().splitlines())) == (2, 1)
    assert all(word in err for word in ("zz", "dl-xg", "dl-zs"))
    code, _, err = run(
        capsys, "export", "table", "--program", PROGRAM, "--out", str(tmp_path / "x.csv")
    )
    assert code == 2
    assert ".xlsx" in err
    assert not (tmp_path / "x.xlsx").exists()


@pytest.mark.usefixtures("cli_env")
async def test_the_cli_writes_the_table(
    conv: Conversation,  # noqa: F811
    tmp_path: Path,
) -> None:
    xg, zs = await two_declarations(conv)
    drafting = UserRef("telegram", "drafting", "还在填")
    menu = await conv.handle(drafting, CommandIn("apply"))
    await conv.handle(drafting, press(menu, Action.PICK_PROGRAM, PROGRAM))
    out = tmp_path / "all.xlsx"
    code = await asyncio.to_thread(
        main, ["export", "table", "--program", PROGRAM, "--out", str(out)]
    )
    assert code == 0
    book = load_workbook(out)
    assert [r[0] for r in sheet_rows(book.worksheets[0])[1:]] == [xg, zs]  # not the draft
    async with conv.sessions() as session:
        assert len((await session.execute(select(Application))).scalars().all()) == 3
    no_formula(book)
    code = await asyncio.to_thread(
        main,
        [
            "export",
            "table",
            "--program",
            PROGRAM,
            "--org",
            "dl-zs",
            "--status",
            "in_review",
            "--out",
            str(out),
        ],
    )
    assert code == 0
    assert [r[0] for r in sheet_rows(load_workbook(out).worksheets[0])[1:]] == [zs]


# --------------------------------------------------------------------------- helpers


def test_widths_count_chinese_double_and_titles_stay_unique() -> None:
    assert display_width("张伟") == 4
    assert display_width("ab") == 2
    assert display_width("团队\n成员情况") == 8
    taken: set[str] = set()
    long = "成员" * 20
    first, second = sheet_title(long, taken), sheet_title(long, taken)
    assert max(len(first), len(second)) <= 31
    assert first != second
    assert sheet_title("a/b:c", taken) == "a_b_c"
