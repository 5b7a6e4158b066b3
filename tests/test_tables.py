"""Several rows of a table at once: a paste (Telegram's one message, the terminal's
tab-separated line), the .xlsx template and a filled-in sheet sent back.

The real Beijing program (a team of up to 30) is driven through the
conversation service; the finer points of reading lines use the engine tests'
small group (with a computed column and an optional last one).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import select

from dialogs import tables, workbook
from dialogs.i18n import Locale
from dialogs.loader import load_registry
from dialogs.service import Conversation
from dialogs.ui import Action, ButtonIn, CommandIn, FileIn, Outcome, Reply, TextIn, UserRef
from dialogs.view import View
from storage import repo
from storage.db import SessionFactory
from storage.files import MIME_XLSX, FileStore
from storage.models import Application, Attachment
from tests.test_engine import GROUP, Run, define
from tests.walkthrough import Applicant, Press, Text, Upload

NOW = dt.datetime(2026, 5, 20, 2, 0, tzinfo=dt.UTC)
REGISTRY = load_registry()
BEIJING = "beijing-worker"
LEADER = UserRef(channel="telegram", external_id="3001", display_name="刘强")
ZH = Locale("zh-CN")
LIMIT = 4096

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏"


def member(i: int) -> list[str]:
    return [
        f"{SURNAMES[i % len(SURNAMES)]}{'伟芳娜敏静'[i % 5]}{i}",
        "男" if i % 2 else "女",
        ["钳工", "电工", "焊工", "数控车工"][i % 4],
        ["高级技师", "技师", "高级工"][i % 3],
        "北京城建集团有限公司",
    ]


def conversation(sessions: SessionFactory, files: FileStore) -> Conversation:
    return Conversation(registry=REGISTRY, sessions=sessions, files=files, clock=lambda: NOW)


async def stored_app(
    sessions: SessionFactory, user: UserRef = LEADER, program_id: str = BEIJING
) -> Application:
    async with sessions() as session:
        person = await repo.get_or_create_user(
            session, channel=user.channel, external_id=user.external_id, display_name="", now=NOW
        )
        apps = await repo.list_applications(session, user_id=person.id or 0)
    return next(a for a in apps if a.program_id == program_id)


def with_buttons(out: Outcome) -> Reply:
    return next(r for r in reversed(out.replies) if r.buttons)


def offered(out: Outcome) -> list[tuple[Action, int]]:
    return [(b.action, b.arg) for b in (x for row in with_buttons(out).buttons for x in row)]


async def press(
    conv: Conversation, out: Outcome, action: Action, arg: int = 0, key: str | None = None
) -> Outcome:
    reply = with_buttons(out)
    assert (action, arg) in offered(out), f"{action.name}({arg}) not offered: {reply.text}"
    if key is None:
        key = next(
            b.key for row in reply.buttons for b in row if (b.action, b.arg) == (action, arg)
        )
    event = ButtonIn(action, arg, reply.application_id, reply.revision, key)
    return await conv.handle(LEADER, event)


async def reach_members(conv: Conversation, sessions: SessionFactory) -> Outcome:
    """/apply for Beijing and answer as the scripted applicant up to the team's menu."""
    program = REGISTRY.get(BEIJING)
    assert program is not None
    out = await conv.handle(LEADER, CommandIn("apply"))
    pick = next(b for row in out.replies[0].buttons for b in row if b.key == BEIJING)
    out = await conv.handle(LEADER, ButtonIn(pick.action, pick.arg, 0, 0, pick.key))
    applicant = Applicant(program, NOW.date())
    for _ in range(60):
        app = await stored_app(sessions)
        if app.cursor.get("q") == "members":
            return out
        move = applicant.next_move(app.answers, app.cursor)
        if isinstance(move, Text):
            out = await conv.handle(LEADER, TextIn(move.text))
        else:
            assert isinstance(move, Press)
            reply = with_buttons(out)
            event = ButtonIn(move.action, move.arg, reply.application_id, reply.revision, move.key)
            out = await conv.handle(LEADER, event)
    raise AssertionError("the team's menu was not reached")


def fits(out: Outcome) -> None:
    assert all(len(r.text) <= LIMIT for r in out.replies), [len(r.text) for r in out.replies]


@pytest.fixture
def conv(sessions: SessionFactory, file_store: FileStore) -> Conversation:
    return conversation(sessions, file_store)


# --------------------------------------------------------------------------- Beijing, by paste


async def test_a_team_of_thirty_is_one_paste_and_one_confirmation(
    conv: Conversation, sessions: SessionFactory
) -> None:
    menu = await reach_members(conv, sessions)
    assert (Action.TABLE_TEMPLATE, 0) in offered(menu)
    paste = "\n".join("\t".join(member(i)) for i in range(30))  # Telegram: one message

    shown = await conv.handle(LEADER, TextIn(paste))
    fits(shown)
    assert (Action.TABLE_OK, 30) in offered(shown)
    app = await stored_app(sessions)
    assert app.answers.get("members") in (None, [])  # nothing is added before confirming
    assert len(app.cursor["s"]["paste"]["rows"]) == 30

    done = await press(conv, shown, Action.TABLE_OK, 30)
    fits(done)
    app = await stored_app(sessions)
    team = app.answers["members"]
    assert len(team) == 30
    assert team[1] == {
        "name": member(1)[0],
        "gender": "male",
        "specialty": "电工",
        "title": "技师",
        "unit": "北京城建集团有限公司",
    }
    assert "s" not in app.cursor
    # Rows added by paste are rows like any other: edited, deleted, and the group is done.
    assert (Action.ROW_EDIT, 29) in offered(done)
    assert (Action.ROW_DELETE, 29) in offered(done)
    after = await press(conv, done, Action.DONE)
    app = await stored_app(sessions)
    assert app.cursor["q"] != "members"
    assert after.replies


async def test_mixed_separators_a_header_and_bad_lines_named_with_good_ones_kept(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await reach_members(conv, sessions)
    paste = "\n".join(
        [
            "姓名 性别 专业/工种 职称/技术等级 所在单位",  # the header: skipped
            "张三\t男\t钳工\t高级技师\t北京城建集团",  # Excel
            "李四，女，电工，技师，北京 地铁公司",  # WeChat commas, a space inside a cell
            "王五、男、焊工、高级工、首钢",  # 、
            "赵六  女   车工 技师  燕山石化",  # runs of spaces
            "孙七,男 钳工，技师、京东方",  # all of them at once
            "周八 不详 钳工 技师 首钢",  # no such gender
            "吴九 男",  # too short
            "",
        ]
    )
    shown = await conv.handle(LEADER, TextIn(paste))
    assert (Action.TABLE_OK, 5) in offered(shown)
    pending = tables.Pending.of((await stored_app(sessions)).cursor["s"])
    assert [r["name"] for r in pending.rows] == ["张三", "李四", "王五", "赵六", "孙七"]
    assert pending.rows[1]["unit"] == "北京 地铁公司"
    assert pending.rows[3]["gender"] == "female"
    assert [(b.n, b.column, b.key) for b in pending.bad] == [
        (7, "gender", "validation.choice"),
        (8, "", ""),
    ]
    assert pending.bad[1].missing == ("specialty", "title", "unit")
    text = with_buttons(shown).text
    assert "周八" in text
    assert "吴九" in text

    # The bad lines retyped join the rows waiting; then one confirmation adds all.
    shown = await conv.handle(LEADER, TextIn("周八 男 钳工 技师 首钢\n吴九 男 电工 技师 首钢"))
    assert (Action.TABLE_OK, 7) in offered(shown)
    await press(conv, shown, Action.TABLE_OK, 7)
    team = (await stored_app(sessions)).answers["members"]
    assert [r["name"] for r in team][-2:] == ["周八", "吴九"]
    assert len(team) == 7


async def test_more_rows_than_the_table_holds_adds_what_fits_and_names_the_rest(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await reach_members(conv, sessions)
    first = await conv.handle(LEADER, TextIn("\n".join(" ".join(member(i)) for i in range(3))))
    await press(conv, first, Action.TABLE_OK, 3)
    shown = await conv.handle(LEADER, TextIn("\n".join(" ".join(member(i)) for i in range(35))))
    fits(shown)
    assert (Action.TABLE_OK, 35) in offered(shown)  # labelled with the 27 that fit
    done = await press(conv, shown, Action.TABLE_OK, 35)
    assert len((await stored_app(sessions)).answers["members"]) == 30
    assert any("28" in r.text and "35" in r.text for r in done.replies)  # lines 28–35 named

    full = await conv.handle(LEADER, TextIn(" ".join(member(40))))
    assert not any(a is Action.TABLE_OK for a, _ in offered(full))
    assert (Action.TABLE_CANCEL, 0) in offered(full)
    await press(conv, full, Action.TABLE_CANCEL)
    app = await stored_app(sessions)
    assert "s" not in app.cursor
    assert len(app.answers["members"]) == 30


async def test_rows_waiting_survive_leaving_and_a_restart(
    sessions: SessionFactory, file_store: FileStore
) -> None:
    conv = conversation(sessions, file_store)
    await reach_members(conv, sessions)
    shown = await conv.handle(LEADER, TextIn("\n".join(",".join(member(i)) for i in range(4))))
    await press(conv, shown, Action.SAVE_EXIT)

    restarted = conversation(sessions, file_store)
    out = await restarted.handle(LEADER, CommandIn("apply"))
    pick = next(b for row in out.replies[0].buttons for b in row if b.key == BEIJING)
    out = await restarted.handle(LEADER, ButtonIn(pick.action, pick.arg, 0, 0, pick.key))
    assert (Action.TABLE_OK, 4) in offered(out)
    await press(restarted, out, Action.TABLE_OK, 4)
    assert len((await stored_app(sessions)).answers["members"]) == 4


async def test_rows_pasted_where_a_new_rows_first_field_is_asked(
    conv: Conversation, sessions: SessionFactory
) -> None:
    menu = await reach_members(conv, sessions)
    await press(conv, menu, Action.ROW_ADD)
    shown = await conv.handle(LEADER, TextIn("张三、男、钳工、技师、首钢"))
    assert (Action.TABLE_OK, 1) in offered(shown)
    app = await stored_app(sessions)
    assert app.answers["members"] == []  # the empty row was dropped
    assert "row" not in app.cursor
    menu = await press(conv, shown, Action.TABLE_CANCEL)

    # A name alone is the name.
    asked = await press(conv, menu, Action.ROW_ADD)
    await conv.handle(LEADER, TextIn("张 三"))
    app = await stored_app(sessions)
    assert app.answers["members"] == [{"name": "张 三"}]
    assert app.cursor["f"] == "gender"
    assert asked.replies


# --------------------------------------------------------------------------- the spreadsheet


async def test_the_template_filled_in_and_sent_back_is_read_like_a_paste(
    conv: Conversation, sessions: SessionFactory
) -> None:
    menu = await reach_members(conv, sessions)
    sent = await press(conv, menu, Action.TABLE_TEMPLATE)
    media = [m for r in sent.replies for m in r.media]
    assert len(media) == 1
    assert media[0].kind == "document"
    assert media[0].name.endswith(".xlsx")
    data = read_file(media[0].path)
    assert workbook.is_xlsx(data)

    book = load_workbook(io.BytesIO(data))
    sheet = book.active
    assert sheet is not None
    assert [c.value for c in sheet[1]] == ["姓名", "性别", "专业/工种", "职称/技术等级", "所在单位"]
    assert "男" in str(sheet["B2"].value)  # the hint row names the options
    lists = [str(v.sqref) for v in sheet.data_validations.dataValidation]
    assert any(ref.startswith("B3") for ref in lists)  # and a drop-down offers them
    for i in range(30):
        for c, value in enumerate(member(i), start=1):
            sheet.cell(row=3 + i, column=c, value=value)
    sheet.cell(row=33, column=1, value="吴九")  # a row left half done
    sheet.cell(row=33, column=2, value="男")
    out = io.BytesIO()
    book.save(out)
    filled = out.getvalue()

    shown = await conv.handle(LEADER, sheet_in(filled))
    fits(shown)
    assert (Action.TABLE_OK, 30) in offered(shown)
    pending = tables.Pending.of((await stored_app(sessions)).cursor["s"])
    assert pending.lines[:2] == [3, 4]  # the spreadsheet's own row numbers
    assert [b.n for b in pending.bad] == [33]  # a name without the rest
    await press(conv, shown, Action.TABLE_OK, 30)
    app = await stored_app(sessions)
    assert [r["name"] for r in app.answers["members"]] == [member(i)[0] for i in range(30)]
    async with sessions() as session:
        kept = (await session.execute(select(Attachment))).scalars().all()
    assert kept == []  # the sheet became rows, not an attachment


def said(view: View) -> list[str]:
    """The locale keys a view uses."""
    return view.keys()


def upload_of(move: object) -> FileIn:
    assert isinstance(move, Upload)
    data = move.data

    async def fetch() -> bytes:
        return data

    return FileIn("photo", move.file_name, move.mime_type, len(data), move.file_name, fetch)


def read_file(path: str) -> bytes:
    return Path(path).read_bytes()


def sheet_in(data: bytes, name: str = "团队.xlsx", mime: str = MIME_XLSX) -> FileIn:
    async def fetch() -> bytes:
        return data

    return FileIn("document", name, mime, len(data), f"ref-{len(data)}", fetch)


async def test_a_document_that_is_no_workbook_is_refused_plainly(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await reach_members(conv, sessions)
    before = await stored_app(sessions)
    pdf = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
    for event in (sheet_in(pdf, "团队.xlsx"), sheet_in(b"name,gender\n", "团队.xlsx")):
        out = await conv.handle(LEADER, event)
        assert out.replies[0].text == ZH.t("table.sheet.not_xlsx")
        assert (Action.ROW_ADD, 0) in offered(out)  # the menu again
    after = await stored_app(sessions)
    assert after.answers == before.answers
    assert after.cursor == before.cursor


def test_the_template_stores_text_that_looks_like_a_formula_as_text() -> None:
    program = REGISTRY.get(BEIJING)
    assert program is not None
    group = program.question("members")
    tricky = group.model_copy(
        update={
            "fields": [f.model_copy(update={"label": "=HYPERLINK(1)"}) for f in group.fields or []]
        }
    )
    data = workbook.template(tricky, ZH)
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    assert sheet["A1"].data_type == "s"
    assert sheet["A1"].value == "=HYPERLINK(1)"


# --------------------------------------------------------------------------- reading lines


def test_optional_trailing_fields_may_be_left_out_and_computed_ones_are_not_asked(
    tmp_path: Path,
) -> None:
    run = Run(define(tmp_path, GROUP), {}, {"mode": "ask", "q": "achievements"})
    run.text("数控机床改造 12.5 3\n工装夹具 5 1 已推广\n无名 很多 1")
    view = run.view
    assert view.kind == "table_confirm"
    assert (Action.TABLE_OK, 2, "") in view.actions()
    pending = tables.Pending.of(run.cursor["s"])
    assert pending.rows[0] == {
        "title": "数控机床改造",
        "income": "12.5",
        "savings": "3",
        "note": None,
    }
    assert pending.rows[1]["note"] == "已推广"
    assert [(b.n, b.column) for b in pending.bad] == [(3, "income")]
    assert "validation." in pending.bad[0].key

    run.press(Action.TABLE_OK, 2)
    assert len(run.answers["achievements"]) == 2
    # max 3 rows: one more fits, the second is named as left out
    step = run.text("甲 1 1\n乙 2 2")
    assert run.view.kind == "table_confirm"
    assert step.views
    step = run.press(Action.TABLE_OK, 2)
    assert len(run.answers["achievements"]) == 3
    assert any("table.added.left_out" in said(v) for v in step.views)


def test_a_sheet_sent_while_pasted_rows_wait_says_it_takes_their_place(tmp_path: Path) -> None:
    run = Run(define(tmp_path, GROUP), {}, {"mode": "ask", "q": "achievements"})
    run.text("甲 1 1\n乙 2 2")
    assert len(tables.Pending.of(run.cursor["s"]).rows) == 2
    w = run.walker()
    step = w.on_sheet([["成果名称", "创收", "节资"], ["丙", "3", "3"]], [])
    run.answers, run.cursor = w.answers, w.cur
    assert any("table.sheet.replaces" in said(v) for v in step.views)
    assert [r["title"] for r in tables.Pending.of(run.cursor["s"]).rows] == ["丙"]


def test_a_numbered_list_loses_its_numbers_and_a_line_with_too_many_cells_is_named(
    tmp_path: Path,
) -> None:
    run = Run(define(tmp_path, GROUP), {}, {"mode": "ask", "q": "achievements"})
    run.text("序号 成果名称 创收 节资 备注\n1. 改造 1 2 无\n2、革新、3、4\n甲\t1\t2\t备注\t多余")
    pending = tables.Pending.of(run.cursor["s"])
    assert [r["title"] for r in pending.rows] == ["改造", "革新"]
    assert [(b.n, b.key) for b in pending.bad] == [(4, "table.bad.too_many")]


def test_text_that_reads_as_nothing_says_how_to_paste_and_keeps_the_menu(tmp_path: Path) -> None:
    run = Run(define(tmp_path, GROUP), {}, {"mode": "ask", "q": "achievements"})
    step = run.text("成果名称 创收 节资")  # a header alone (the terminal's first line)
    assert "table.read.header" in said(step.views[0])
    step = run.text("，，\n、")
    assert "table.read.nothing" in said(step.views[0])
    assert step.views[-1].kind == "group"
    assert "s" not in run.cursor


def test_split_cells() -> None:
    assert tables.split_cells("a\tb\t\tc\t\t", 4) == ["a", "b", "", "c"]
    assert tables.split_cells("a，b,c、d；e", 5) == ["a", "b", "c", "d", "e"]
    assert tables.split_cells("a b，c d e", 3) == ["a", "b", "c", "d", "e"]
    assert tables.split_cells("a b，c", 2) == ["a b", "c"]
    assert tables.split_cells("a\u3000b", 2) == ["a", "b"]


def test_a_long_paste_of_bad_lines_still_fits_one_message(tmp_path: Path) -> None:
    from dialogs.render import render

    run = Run(define(tmp_path, GROUP), {}, {"mode": "ask", "q": "achievements"})
    good = "\n".join(f"成果{i} 1 1" for i in range(200))
    bad = "\n".join(f"坏{i} 很多 很多 {'长' * 300}" for i in range(200))
    run.text(good + "\n" + bad)
    screen = render(run.view, ZH)
    assert len(screen.text) <= LIMIT


def test_back_from_the_rows_read_is_the_menu_and_done_waits_for_a_decision(
    tmp_path: Path,
) -> None:
    rows = [{"title": "甲", "income": "1", "savings": "1", "note": None}] * 2
    run = Run(define(tmp_path, GROUP), {"achievements": rows}, {"mode": "ask", "q": "achievements"})
    run.text("乙 2 2")
    assert run.view.kind == "table_confirm"
    run.press(Action.DONE)  # typed 完成 while rows wait: they are not dropped by leaving
    assert run.at == "achievements"
    assert tables.Pending.of(run.cursor["s"]).rows
    run.press(Action.BACK)
    assert run.view.kind == "group"
    assert "s" not in run.cursor
    assert len(run.answers["achievements"]) == 2


def test_the_hint_row_of_the_template_says_what_each_column_takes() -> None:
    program = REGISTRY.get("cccc-model")
    assert program is not None
    group = next(q for _, q in program.questions() if q.type == "group")
    cells = workbook.hints(group, ZH)
    assert len(cells) == len(tables.field_labels(group))
    # The hint row of a template sent back unchanged is no row.
    grid = [tables.field_labels(group), cells]
    reading = tables.read_grid(group, grid, today=NOW.date(), hints=cells)
    assert reading.rows == []
    assert reading.bad == []


def test_a_block_arriving_line_by_line_shows_each_addition_not_the_whole_table_again(
    tmp_path: Path,
) -> None:
    run = Run(define(tmp_path, GROUP), {}, {"mode": "ask", "q": "achievements"})
    first = run.text("甲 1 1")
    assert "table.confirm.head" in said(first.views[-1])
    second = run.text("乙 2 2")
    view = second.views[-1]
    assert view.kind == "table_confirm"
    assert "table.confirm.head" not in said(view)
    assert said(view).count("table.confirm.row") == 1
    assert (Action.TABLE_OK, 2, "") in view.actions()
    assert run.view.kind == "table_confirm"  # shown whole when come back to
    assert said(run.view).count("table.confirm.row") == 2


@pytest.mark.parametrize("program_id", [p.id for p in REGISTRY])
async def test_the_scripted_applicant_pastes_its_tables_and_submits(
    sessions: SessionFactory, file_store: FileStore, program_id: str
) -> None:
    """Every table of three rows or more costs a paste and a confirmation."""
    conv = conversation(sessions, file_store)
    program = REGISTRY.get(program_id)
    assert program is not None
    out = await conv.handle(LEADER, CommandIn("apply"))
    pick = next(b for row in out.replies[0].buttons for b in row if b.key == program_id)
    out = await conv.handle(LEADER, ButtonIn(pick.action, pick.arg, 0, 0, pick.key))
    applicant = Applicant(program, NOW.date(), rows=5, paste=True)
    at_tables: dict[str, int] = {}
    for _ in range(400):
        app = await stored_app(sessions, program_id=program_id)
        if app.status == "submitted":
            break
        q = app.cursor.get("q")
        if q is not None and program.question(q).type == "group" and "row" not in app.cursor:
            at_tables[q] = at_tables.get(q, 0) + 1
        move = applicant.next_move(app.answers, app.cursor)
        if isinstance(move, Text):
            out = await conv.handle(LEADER, TextIn(move.text))
        elif isinstance(move, Press):
            out = await press(conv, out, move.action, move.arg, move.key)
        else:
            out = await conv.handle(LEADER, upload_of(move))
    else:
        raise AssertionError("the walk did not finish")
    app = await stored_app(sessions, program_id=program_id)
    assert at_tables
    for qid, inputs in at_tables.items():
        group = program.question(qid)
        rows = len(app.answers[qid])
        assert rows >= min(5, group.max_rows or 5)
        assert inputs == (3 if rows >= 3 else rows + 1), (qid, inputs)


def test_one_word_at_the_menu_is_no_row(tmp_path: Path) -> None:
    run = Run(define(tmp_path, GROUP), {}, {"mode": "ask", "q": "achievements"})
    step = run.text("添加")
    assert "engine.group.use_buttons" in said(step.views[0])
    assert step.views[-1].kind == "group"
    assert "s" not in run.cursor


def test_a_sheet_of_its_own_is_read_by_its_column_names() -> None:
    """Columns in another order, a 序号 column, a real date cell and a number cell."""
    program = REGISTRY.get("cccc-model")
    assert program is not None
    group = program.question("core_members")
    labels = tables.field_labels(group)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["骨干成员名单"])  # a title above the table
    sheet.append(["序号", *reversed(labels)])
    row = {"姓名": "张伟", "性别": "男", "出生年月": dt.datetime(1985, 3, 1), "学历": "研究生"}
    cells = [row.get(label, f"{label}示例") for label in reversed(labels)]
    sheet.append([1, *cells])
    sheet.append([2, *[c if not isinstance(c, dt.datetime) else 198504 for c in cells]])
    out = io.BytesIO()
    book.save(out)

    grid = workbook.read_cells(out.getvalue())
    reading = tables.read_grid(group, grid, today=NOW.date())
    assert [r["birth"] for r in reading.rows] == ["1985-03", "1985-04"]
    assert reading.lines == [3, 4]
    assert reading.bad == []


def test_bytes_that_only_look_like_a_workbook_are_not_one() -> None:
    assert not workbook.is_xlsx(b"PK\x03\x04 not really a zip")
    with pytest.raises(workbook.NotAWorkbook):
        workbook.read_cells(b"%PDF-1.4")


def test_a_workbook_unpacking_to_too_much_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    program = REGISTRY.get(BEIJING)
    assert program is not None
    data = workbook.template(program.question("members"), ZH)
    monkeypatch.setattr(workbook, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(workbook.NotAWorkbook):
        workbook.read_cells(data)


def test_skipping_an_optional_table_waits_for_the_rows_read(tmp_path: Path) -> None:
    body = GROUP.replace("        min_rows: 2\n", "        required: false\n")
    run = Run(define(tmp_path, body), {}, {"mode": "ask", "q": "achievements"})
    run.text("甲 1 1")
    run.press(Action.SKIP)  # typed 跳过 while a row waits
    assert run.at == "achievements"
    assert tables.Pending.of(run.cursor["s"]).rows
