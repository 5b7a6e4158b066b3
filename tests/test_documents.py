"""The printed form: each program's declaration as Word (every label and answer in
its box, the team rows, the photos, each level's opinion, signer and date once
decided) and as PDF (the same text on A4), and the bot's 下载申报表 for the
applicant and for the reviewers, refused to anyone else."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from docx import Document
from docx.table import Table

from dialogs.engine import Walker
from dialogs.i18n import Locale
from dialogs.qtypes import kind
from dialogs.schema import QType, Question
from dialogs.service import Conversation
from dialogs.ui import Action, ButtonIn, CommandIn, UserRef
from documents import forms, pdf, seedforms, word
from documents.content import blank_boxes, build
from review import orgs
from storage import review as data
from storage.db import SessionFactory
from storage.files import FileStore
from tests.test_cli import studiobot
from tests.test_review_chain import (
    CHAIN_FROM,
    EXAMPLES,
    NOW,
    REGISTRY,
    Clock,
    decide,
    declare,
    notes,
    pass_level,
    pass_level_again,
    press,
    reviewer,
    revise_one_answer,
    staff_chain,
    stored,
    unit_name,
)

ZH = Locale("zh-CN")
ZONE = ZoneInfo("Asia/Shanghai")
HAS_OFFICE = pdf.office() is not None and shutil.which("pdftotext") is not None


@pytest.fixture
async def conv(sessions: SessionFactory, tmp_path: Path) -> Conversation:
    async with sessions() as session, session.begin():
        for path in sorted(EXAMPLES.glob("*.yaml")):
            await orgs.import_file(session, path=path, now=NOW)
    files = FileStore(tmp_path / "files")
    return Conversation(
        registry=REGISTRY,
        sessions=sessions,
        files=files,
        clock=Clock(),
        forms=forms.maker(REGISTRY, files, ZONE),
    )


def texts(data: bytes) -> list[str]:
    """Every paragraph of a .docx, nested tables included, in order."""
    doc = Document(io.BytesIO(data))

    def of_table(table: Table) -> Iterator[str]:
        for row in table.rows:
            for cell in row.cells:
                yield from (p.text for p in cell.paragraphs)
                for inner in cell.tables:
                    yield from of_table(inner)

    out = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        out += list(of_table(table))
    return out


def pictures(data: bytes) -> int:
    return len(Document(io.BytesIO(data)).inline_shapes)


async def named(conv: Conversation, program_id: str) -> tuple[UserRef, int]:
    """A declaration of ``program_id`` submitted and approved at every level."""
    program = REGISTRY.get(program_id)
    assert program is not None
    chain = await staff_chain(conv, program)
    leader = UserRef("telegram", f"doc-{program_id}", "申报人")
    unit = await unit_name(conv, CHAIN_FROM[program_id][0])
    filed = await declare(conv, leader, program_id, unit)
    for level in range(len(chain)):
        last = level == len(chain) - 1
        await pass_level(conv, program, level, chain[level], name="审定工作室" if last else None)
    return leader, filed.app_id


def written(q: Question, value: Any) -> list[str]:
    """The texts typed for ``q`` that the form must print as typed (a table's text cells)."""
    if kind(q).repeats:
        return [
            row[f.id]
            for row in value or []
            for f in q.fields or []
            if f.type in (QType.TEXT, QType.LONGTEXT) and isinstance(row.get(f.id), str)
        ]
    return [value] if q.type in (QType.TEXT, QType.LONGTEXT) and value else []


def pdf_text(path: Path) -> str:
    """The PDF's text without spaces and line breaks."""
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return "".join(out.stdout.split())


def pdf_page_size(path: Path) -> str:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    return next(line for line in info.stdout.splitlines() if line.startswith("Page size"))


@pytest.mark.parametrize("program_id", sorted(CHAIN_FROM))
async def test_the_form_holds_every_label_answer_row_photo_and_opinion(
    conv: Conversation, program_id: str
) -> None:
    program = REGISTRY.get(program_id)
    assert program is not None
    _, app_id = await named(conv, program_id)
    app = await stored(conv, app_id)
    async with conv.sessions() as session:
        made = await forms.form_docx(
            session, app, REGISTRY, store=conv.files, loc=ZH, zone=ZONE, today=NOW.date()
        )
    assert made.name.endswith(".docx")
    said = "\n".join(texts(made.data))
    shown = Walker(program, app.answers, {"mode": "preview"}, today=NOW.date()).visible()
    template = forms.template_of(REGISTRY, program)
    # The seed's own form prints the fields it has, under its own labels; the generic
    # form every question under its label, and each level's box under its label.
    printed = {name for _, name in word.template_names(template)} if template else None
    for q in shown:
        if printed is None:
            assert q.label in said, q.label
        if printed is None or q.id in printed:
            assert all(text in said for text in written(q, app.answers.get(q.id))), q.id
    photos = sum(len(app.answers.get(q.id) or []) for q in shown if q.type == "photo")
    if printed is None or any(q.type == "photo" and q.id in printed for q in shown):
        assert pictures(made.data) == photos
    for level in program.review_chain:
        assert printed is not None or level.opinion_label in said, level.id
    for level, codes in zip(program.review_chain, CHAIN_FROM[program_id][1], strict=True):
        wrote = ["评审通过"] if level.panel else [f"同意·{code}" for code in codes]
        assert all(opinion in said for opinion in wrote), level.id
    assert ZH.t("documents.date", y=NOW.year, m=NOW.month, d=NOW.day) in said
    assert ZH.t("documents.blank_date") not in said  # every box is decided


async def test_a_lower_level_keeps_its_opinion_after_a_return_higher_up(
    conv: Conversation,
) -> None:
    """Returned at level 1 and sent again, the declaration goes back to level 1: level
    0's box still holds the approval it gave the first version."""
    program = REGISTRY.get("dalian-worker")
    assert program is not None
    chain = await staff_chain(conv, program)
    leader = UserRef("telegram", "doc-returned", "申报人")
    unit = await unit_name(conv, CHAIN_FROM[program.id][0])
    filed = await declare(conv, leader, program.id, unit)
    await pass_level(conv, program, 0, chain[0], name=None)
    returner = reviewer(chain[1][0])
    [card] = await notes(conv, returner)
    await decide(conv, returner, card, Action.REVIEW_RETURN, "请补充团队成员的获奖情况")
    told = await notes(conv, leader)
    resume = next(
        r for r in told if any(b.action is Action.RESUME for row in r.buttons for b in row)
    )
    out = await conv.handle(leader, press(resume, Action.RESUME))
    await revise_one_answer(conv, filed, out)
    [card] = await notes(conv, returner)
    await pass_level_again(conv, program, 1, chain[1], card, returner)
    await pass_level(conv, program, 2, chain[2], name="审定工作室")
    app = await stored(conv, filed.app_id)
    assert app.submission_no == 2
    async with conv.sessions() as session:
        made = await forms.form_docx(
            session, app, REGISTRY, store=conv.files, loc=ZH, zone=ZONE, today=NOW.date()
        )
    said = "\n".join(texts(made.data))
    assert f"同意·{chain[0][0]}" in said  # level 0, on version 1
    assert "修改后同意" in said  # level 1, on version 2
    assert "请补充团队成员的获奖情况" not in said  # its return gave way to its approval
    assert ZH.t("documents.blank_date") not in said


def test_before_any_decision_the_boxes_are_blank_with_stamp_and_date_lines() -> None:
    program = REGISTRY.get("dalian-worker")
    assert program is not None
    content = build(program, {}, boxes=blank_boxes(program), files={}, loc=ZH, today=NOW.date())
    said = texts(word.render(content, ZH))
    assert said.count(ZH.t("documents.stamp")) == len(program.review_chain)
    assert said.count(ZH.t("documents.blank_date")) == len(program.review_chain)


@pytest.mark.skipif(not HAS_OFFICE, reason="LibreOffice and pdftotext are not installed")
async def test_the_pdf_has_the_same_text_on_a4(conv: Conversation, tmp_path: Path) -> None:
    _, app_id = await named(conv, "cccc-model")
    app = await stored(conv, app_id)
    async with conv.sessions() as session:
        docx = await forms.form_docx(
            session, app, REGISTRY, store=conv.files, loc=ZH, zone=ZONE, today=NOW.date()
        )
    made = await forms.form_pdf(docx)
    assert made is not None
    assert made.data.startswith(b"%PDF")
    out = tmp_path / "form.pdf"
    out.write_bytes(made.data)
    text = pdf_text(out)  # the seed's cover, answers and each level's opinion
    for said in ("申报审批表", "填表说明", "工作室领衔人情况", str(app.answers["leader_name"])):
        assert said in text, said
    for codes in CHAIN_FROM["cccc-model"][1]:
        assert all(f"同意·{code}" in text for code in codes)
    size = pdf_page_size(out)
    assert "595" in size
    assert "841" in size or "842" in size


async def test_pdf_is_none_and_said_where_libreoffice_is_missing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(pdf, "office", lambda: None)
    assert await pdf.convert(b"PK") is None
    assert "LibreOffice" in caplog.text


async def test_the_bot_sends_the_form_to_its_applicant_and_reviewers_only(
    conv: Conversation,
) -> None:
    leader, app_id = await named(conv, "dalian-worker")
    told = await notes(conv, leader)
    final = press(told[-1], Action.FORM_OWN)  # the naming notice offers the final form
    assert final.arg == app_id
    out = await conv.handle(leader, CommandIn("status"))
    out = await conv.handle(leader, press(out.replies[0], Action.TIMELINE))
    out = await conv.handle(leader, press(out.replies[0], Action.FORM_OWN))
    [reply] = out.replies
    names = [m.name for m in reply.media]
    assert names[0].endswith(".docx")
    assert reply.media[0].path.endswith(".docx")
    if pdf.office() is not None:
        assert names[1].endswith(".pdf")

    stranger = UserRef("telegram", "doc-stranger", "路人")
    out = await conv.handle(stranger, ButtonIn(Action.FORM_OWN, app_id, 0, 0, ""))
    assert all(not r.media for r in out.replies)

    code = CHAIN_FROM["dalian-worker"][1][0][0]
    async with conv.sessions() as session:
        task = (await data.tasks_of(session, application_id=app_id))[0]
    out = await conv.handle(reviewer(code), ButtonIn(Action.REVIEW_FORM, task.id or 0, 0, 0, ""))
    assert out.replies[0].media
    out = await conv.handle(stranger, ButtonIn(Action.REVIEW_FORM, task.id or 0, 0, 0, ""))
    assert not out.replies[0].media
    assert out.replies[0].text == ZH.t("documents.not_yours")


@pytest.mark.parametrize("program_id", sorted(seedforms.TEMPLATES))
def test_each_seed_template_names_only_fields_its_program_has(program_id: str) -> None:
    program = REGISTRY.get(program_id)
    assert program is not None
    template = word.template_for(REGISTRY.sources[program_id])
    assert template is not None
    assert word.template_problems(program, template) == []
    assert forms.template_of(REGISTRY, program) == template


def test_a_template_naming_an_unknown_field_is_refused(tmp_path: Path) -> None:
    program = REGISTRY.get("dalian-worker")
    assert program is not None
    form = seedforms.dalian_worker()
    form.line("{{ a.no_such_field }} {{ box.nowhere.text }} {%tr for r in t.no_table %}")
    path = tmp_path / "dalian-worker.docx"
    form.save(path)
    found = word.template_problems(program, path)
    assert len(found) == 3
    assert all(str(path) in line for line in found)


def test_programs_check_refuses_a_template_naming_an_unknown_field(tmp_path: Path) -> None:
    source = REGISTRY.sources["dalian-worker"]
    (tmp_path / "dalian-worker.yaml").write_text(source.read_text(encoding="utf-8"), "utf-8")
    form = seedforms.dalian_worker()
    form.line("{{ a.no_such_field }}")
    form.save(tmp_path / "dalian-worker.docx")
    result = studiobot("programs", "check", str(tmp_path / "dalian-worker.yaml"), cwd=tmp_path)
    assert result.returncode == 1
    assert "a.no_such_field" in result.stderr


def test_export_form_writes_a_draft_s_form_and_refuses_an_unknown_number(tmp_path: Path) -> None:
    chat = studiobot("chat", "--user", "leader", cwd=tmp_path, stdin="/apply\n1\n")
    assert chat.returncode == 0, chat.stderr
    out = tmp_path / "form.docx"
    made = studiobot("export", "form", "--application", "1", "--out", str(out), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "职工创新工作室（岗）申报表" in "\n".join(texts(out.read_bytes()))
    missing = studiobot("export", "form", "--application", "99", "--out", str(out), cwd=tmp_path)
    assert missing.returncode == 1
    assert len(missing.stderr.strip().splitlines()) == 1
