"""The materials the seeds require, taken as uploads.

CCCC (003): every starred item takes its proof copies, the economic benefit its
finance-stamped original, and the bound materials of 附件2 are sent as files;
Dalian (001): the unit's recommendation, the studio's rules and organisation,
other materials, an optional video; Beijing (002): whether the studio is one of
the 70 plaqued in 2010, an optional video.  Kinds of file are judged by their
bytes; a file Telegram will not hand over to a bot is said so plainly, with the
limit, and nothing is kept in its place.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from sqlmodel import select

from dialogs.i18n import Locale
from dialogs.loader import DefinitionError, ProgramRegistry, load_registry
from dialogs.qtypes import kind
from dialogs.qtypes._upload import FETCH_LIMIT_MB, accept_list, accepted_kinds
from dialogs.schema import Program, QType, Question
from dialogs.service import Conversation
from dialogs.ui import ButtonIn, CommandIn, FileIn, UserRef
from storage import repo
from storage.db import SessionFactory
from storage.files import FileStore, sniff_mime
from storage.models import Application, Attachment
from tests.fakebotapi import FakeBotAPI, SentMessage
from tests.test_engine import HEADER, Run, define
from tests.test_programs_e2e import NOW, REGISTRY, _conversation, walk
from tests.tg_driver import first_question
from tests.walkthrough import mp4, pdf, png

ZH = Locale("zh-CN")
EN = Locale("en")


def program(pid: str) -> Program:
    found = REGISTRY.get(pid)
    assert found is not None
    return found


def uploads(p: Program) -> dict[str, Question]:
    return {q.id: q for _, q in p.questions() if kind(q).upload}


def position(p: Program, qid: str) -> int:
    return [q.id for _, q in p.questions()].index(qid)


# --------------------------------------------------------------------------- definitions


def test_cccc_starred_items_take_their_proofs_right_after_them() -> None:
    cccc = program("cccc-model")
    files = uploads(cccc)
    proofs = {
        "naming_proof": "naming_date",
        "results_proof": "innov_applied",
        "patents_proof": "patent_invention",
        "awards_proof": "award_city",
        "benefit_original": "benefit",
        "talent_proof": "talent_list",
        "honours_proof": "honours",
    }
    for proof, proved in proofs.items():
        assert files[proof].type == QType.FILE
        assert files[proof].required
        assert position(cccc, proof) == position(cccc, proved) + 1, proof
        assert (files[proof].max_files or 0) > 1
    # A copy of a proof: a scan, a photo, a PDF or a Word file.
    assert accepted_kinds(files["results_proof"]) == ["pdf", "word", "jpg", "png", "webp", "heic"]
    # The finance-stamped original: a scan or a photo of it, never a Word file.
    assert accepted_kinds(files["benefit_original"]) == ["pdf", "jpg", "png", "webp", "heic"]
    assert files["bound_materials"].required
    assert not files["extra_proofs"].required
    materials = next(s for s in cccc.sections if s.id == "materials")
    assert [q.id for q in materials.questions] == [
        "bound_materials",
        "extra_proofs",
    ]


def test_cccc_proofs_are_asked_only_of_what_was_declared(tmp_path: Path) -> None:
    cccc = program("cccc-model")
    answers = {"innov_results": 0, "innov_applied": 0, "patent_utility": 0, "patent_invention": 2}
    answers |= {"award_intl": 0, "award_national": 0, "award_province": 0, "award_city": 0}
    answers |= {"talent_total": 0}
    visible = {q.id for q in Run(cccc, answers).walker().visible()}
    assert "patents_proof" in visible
    assert {"results_proof", "awards_proof", "talent_proof", "naming_proof"} & visible == set()
    answers |= {"naming_unit": "辽宁省总工会", "award_province": 1}
    visible = {q.id for q in Run(cccc, answers).walker().visible()}
    assert {"naming_proof", "awards_proof"} <= visible


def test_cccc_helps_that_require_proofs_point_to_the_upload() -> None:
    cccc = program("cccc-model")
    for _, q in cccc.questions():
        if "须附证明复印件" in (q.help or ""):
            after = [x for _, x in cccc.questions()][position(cccc, q.id) + 1 :]
            nearest = next(x for x in after if kind(x).upload)
            assert "上传" in (q.help or ""), q.id
            assert nearest.id.endswith("_proof"), q.id


def test_dalian_model_materials_and_video() -> None:
    dalian = program("dalian-model")
    files = uploads(dalian)
    assert files["recommendation"].required
    assert files["rules_docs"].required
    assert not files["other_materials"].required
    assert not files["video"].required
    assert accepted_kinds(files["video"]) == ["mp4", "mov"]
    assert position(dalian, "video") == position(dalian, "photos") + 1
    assert "有一套完整的工作制度和管理办法" in (files["rules_docs"].help or "")


def test_beijing_asks_whether_plaqued_in_2010_and_takes_a_video() -> None:
    beijing = program("beijing-worker")
    listed = beijing.question("listed_2010")
    assert listed.type == QType.YESNO
    assert "2010年70家已挂牌" in listed.label
    video = uploads(beijing)["video"]
    assert not video.required
    assert accepted_kinds(video) == ["mp4", "mov"]


def test_no_program_promises_more_than_a_bot_can_download() -> None:
    for p in REGISTRY:
        for q in uploads(p).values():
            assert q.max_size_mb is None or q.max_size_mb <= FETCH_LIMIT_MB, (p.id, q.id)


UPLOAD_DEFINITION = """
sections:
  - id: s
    title: 材料
    questions:
      - {{id: f, label: 材料, type: {type}, help: h, {extra}}}
"""


@pytest.mark.parametrize(
    ("type_", "extra", "code", "field"),
    [
        ("file", "accept: [pdf, pfd]", "E110", "accept[1]"),
        ("file", "max_size_mb: 50", "E111", "max_size_mb"),
        ("photo", "accept: [jpg, pdf]", "E112", "accept[1]"),
    ],
)
def test_loader_refuses_upload_limits_it_cannot_keep(
    tmp_path: Path, type_: str, extra: str, code: str, field: str
) -> None:
    with pytest.raises(DefinitionError) as raised:
        define(tmp_path, UPLOAD_DEFINITION.format(type=type_, extra=extra))
    [problem] = raised.value.problems
    assert (problem.code, problem.field) == (code, f"sections[0].questions[0].{field}")
    assert problem.file.endswith("t-prog.yaml")


def test_accept_names_families_of_kinds(tmp_path: Path) -> None:
    p = define(tmp_path, UPLOAD_DEFINITION.format(type="file", extra="accept: [video, word]"))
    assert accepted_kinds(p.question("f")) == ["word", "mp4", "mov"]


def test_the_new_messages_exist_in_both_languages() -> None:
    for loc in (ZH, EN):
        assert loc.has("materials.upload.over_fetch_limit")
        assert "20" in loc.t("materials.upload.over_fetch_limit", max_mb="20")


# --------------------------------------------------------------------------- declarations


async def attachments_of(sessions: SessionFactory, app_id: int) -> list[Attachment]:
    async with sessions() as session:
        result = await session.execute(
            select(Attachment).where(Attachment.application_id == app_id)
        )
        return list(result.scalars().all())


async def test_a_cccc_declaration_carries_its_proofs_and_bound_materials(
    sessions: SessionFactory, file_store: FileStore
) -> None:
    conversation = _conversation(sessions, file_store)
    _shown, app_id = await walk(conversation, UserRef("telegram", "u-proofs", "测"), "cccc-model")
    async with sessions() as session:
        app = await repo.get_application(session, application_id=app_id)
    assert app is not None
    assert app.status == "submitted"
    stored = {a.id: a for a in await attachments_of(sessions, app_id)}
    for qid in ("results_proof", "benefit_original", "honours_proof", "bound_materials"):
        files = [stored[i] for i in app.answers[qid]]
        assert files, qid
        for a in files:
            assert a.question_id == qid
            assert a.storage_path  # downloaded and kept, not a bare reference
            data = (file_store.root / a.storage_path).read_bytes()
            assert sniff_mime(data) == a.mime_type
    assert app.answers.get("extra_proofs") is None  # optional, skipped


@pytest.mark.parametrize("program_id", ["dalian-model", "beijing-worker"])
async def test_required_materials_uploaded_optional_video_skipped(
    program_id: str, sessions: SessionFactory, file_store: FileStore
) -> None:
    conversation = _conversation(sessions, file_store)
    user = UserRef("telegram", f"u-mat-{program_id}", "测")
    _shown, app_id = await walk(conversation, user, program_id)
    async with sessions() as session:
        app = await repo.get_application(session, application_id=app_id)
    assert app is not None
    assert app.status == "submitted"
    assert app.answers.get("video") is None
    if program_id == "dalian-model":
        stored = {a.id: a for a in await attachments_of(sessions, app_id)}
        for qid in ("recommendation", "rules_docs"):
            assert [stored[i].mime_type for i in app.answers[qid]] == ["application/pdf"]


async def _at_question(
    conversation: Conversation, sessions: SessionFactory, user: UserRef, program_id: str, qid: str
) -> int:
    """Open a draft of ``program_id`` standing at question ``qid``; its id."""
    out = await conversation.handle(user, CommandIn("apply"))
    pick = next(b for row in out.replies[0].buttons for b in row if b.key == program_id)
    await conversation.handle(user, ButtonIn(pick.action, pick.arg, 0, 0, pick.key))
    async with sessions() as session:
        person = await repo.get_or_create_user(
            session, channel=user.channel, external_id=user.external_id, display_name="", now=NOW
        )
        [app] = await repo.list_applications(session, user_id=person.id or 0)
        stored = await session.get(Application, app.id)
        assert stored is not None
        stored.cursor = {"mode": "ask", "q": qid}
        await session.commit()
        return app.id or 0


def file_in(data: bytes, name: str, mime: str) -> FileIn:
    async def fetch() -> bytes:
        return data

    return FileIn("document", name, mime, len(data), f"ref-{name}", fetch)


TEXT_NAMED_PDF = ("这不是PDF，只是文字。".encode(), "材料.pdf", "application/pdf")


@pytest.mark.parametrize(
    ("program_id", "qid", "refused", "taken"),
    [
        # A text file named .pdf is not a PDF; a real one is.
        ("cccc-model", "bound_materials", TEXT_NAMED_PDF, (pdf(1), "材料.pdf", "application/pdf")),
        # A video question takes videos only.
        ("dalian-model", "video", (pdf(2), "a.pdf", "application/pdf"), (mp4(3), "a.mp4", "")),
    ],
)
async def test_kinds_are_judged_by_the_bytes(
    sessions: SessionFactory,
    file_store: FileStore,
    program_id: str,
    qid: str,
    refused: tuple[bytes, str, str],
    taken: tuple[bytes, str, str],
) -> None:
    conversation = _conversation(sessions, file_store)
    user = UserRef("telegram", f"u-kinds-{qid}", "测")
    app_id = await _at_question(conversation, sessions, user, program_id, qid)
    out = await conversation.handle(user, file_in(*refused))
    q = program(program_id).question(qid)
    assert out.replies[0].text == ZH.t("engine.upload.wrong_type", accept=accept_list(q, ZH))
    assert await attachments_of(sessions, app_id) == []
    await conversation.handle(user, file_in(*taken))
    [kept] = await attachments_of(sessions, app_id)
    assert (kept.question_id, kept.mime_type) == (qid, sniff_mime(taken[0]))


async def test_a_file_claimed_over_the_messengers_limit_is_not_fetched(
    sessions: SessionFactory, file_store: FileStore
) -> None:
    conversation = _conversation(sessions, file_store)
    user = UserRef("telegram", "u-claimed-big", "测")
    app_id = await _at_question(conversation, sessions, user, "cccc-model", "bound_materials")
    fetched: list[bool] = []

    async def fetch() -> bytes:
        fetched.append(True)
        return pdf(4)

    limit = 20 * 2**20
    big = FileIn("document", "大.pdf", "application/pdf", limit + 1, "r", fetch, fetch_limit=limit)
    out = await conversation.handle(user, big)
    assert out.replies[0].text == ZH.t("materials.upload.over_fetch_limit", max_mb="20")
    assert fetched == []
    assert await attachments_of(sessions, app_id) == []


# --------------------------------------------------------------------------- Telegram

ONE_FILE = (
    HEADER.replace("t-prog", "mat")
    + """
sections:
  - id: s
    title: 申报材料
    questions:
      - {id: proof, label: 证明复印件, type: file, accept: [pdf, word, image, video], help: h}
      - {id: note, label: 备注, type: text, help: h}
"""
)


def mat_registry(folder: Path) -> ProgramRegistry:
    folder.mkdir()
    (folder / "mat.yaml").write_text(ONE_FILE, encoding="utf-8")
    return load_registry(folder)


def file_bot(
    api: FakeBotAPI, sessions: SessionFactory, files: FileStore, folder: Path, user: int
) -> AbstractAsyncContextManager[SentMessage]:
    """The real bot polling the fake Bot API for a program of one file question."""
    return first_question(api, mat_registry(folder), sessions, files, user)


async def stored_files(sessions: SessionFactory) -> list[Attachment]:
    async with sessions() as session:
        return list((await session.execute(select(Attachment))).scalars().all())


OVER = pdf(5) + b"0" * (20 * 2**20)
"""A real PDF a little over 20 MB: Telegram's getFile refuses it."""


@pytest.mark.parametrize("claimed", [len(OVER), 1000])
async def test_a_file_over_the_bot_api_limit_is_said_plainly_and_not_kept(
    api: FakeBotAPI,
    sessions: SessionFactory,
    file_store: FileStore,
    tmp_path: Path,
    claimed: int,
) -> None:
    """Claimed as it is, the file is refused before any download; claimed small (a
    client that misreports), the Bot API's refusal of ``getFile`` is said the same way."""
    user = 3003
    async with file_bot(api, sessions, file_store, tmp_path / "programs", user):
        api.send_document(user, OVER, "材料汇编.pdf", "application/pdf", file_size=claimed)
        said, *again = await api.wait_for_reply(user)
        assert said.text == ZH.t("materials.upload.over_fetch_limit", max_mb="20")
        assert "证明复印件" in again[-1].text  # the question, asked again
        assert await stored_files(sessions) == []
        assert len(api.calls_to("getFile")) == (0 if claimed > 20 * 2**20 else 1)
        # A file within the limit is then taken as usual.
        api.send_document(user, pdf(6), "证明.pdf", "application/pdf")
        await api.wait_for_reply(user)
        [kept] = await stored_files(sessions)
        assert (kept.question_id, kept.mime_type) == ("proof", "application/pdf")
        assert kept.storage_path


async def test_a_video_sent_as_a_video_is_taken_by_its_bytes(
    api: FakeBotAPI, sessions: SessionFactory, file_store: FileStore, tmp_path: Path
) -> None:
    user = 3004
    async with file_bot(api, sessions, file_store, tmp_path / "programs", user):
        data = mp4(7)
        stored = api.add_file(data, folder="videos", suffix=".mp4")
        video = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": 640,
            "height": 480,
            "duration": 3,
            "mime_type": "video/mp4",
            "file_size": len(data),
        }
        api.send_message(user, video=video)
        await api.wait_for_reply(user)
        [kept] = await stored_files(sessions)
        assert (kept.question_id, kept.mime_type) == ("proof", "video/mp4")
        # A photo still goes in as a picture.
        api.send_photo(user, png(8))
        await api.wait_for_reply(user)
        assert len(await stored_files(sessions)) == 2


async def test_a_photo_the_bot_api_will_not_hand_over_is_not_kept_by_reference(
    api: FakeBotAPI, sessions: SessionFactory, file_store: FileStore, tmp_path: Path
) -> None:
    """A photo whose download fails for another reason may be kept by its file id
    (fetched later); one refused as too big never is: it would never arrive."""
    user = 3005
    async with file_bot(api, sessions, file_store, tmp_path / "programs", user):
        stored = api.add_file(png(9) + b"0" * (20 * 2**20), folder="photos", suffix=".jpg")
        size = {"width": 1280, "height": 960, "file_size": 1000}
        api.send_message(
            user,
            photo=[{"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, **size}],
        )
        said, *_again = await api.wait_for_reply(user)
        assert said.text == ZH.t("materials.upload.over_fetch_limit", max_mb="20")
        assert await stored_files(sessions) == []
