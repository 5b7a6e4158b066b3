"""The conversation service over a real database (SQLite, and PostgreSQL when configured).

Every check of stored state opens a new session after ``handle`` returned:
whatever the user was told must already be committed.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from dialogs.i18n import Locale
from dialogs.loader import load_registry
from dialogs.service import Conversation
from dialogs.ui import (
    Action,
    ButtonIn,
    CommandIn,
    FileIn,
    Inbound,
    Outcome,
    Reply,
    TextIn,
    UnsupportedIn,
    UserRef,
)
from storage import repo
from storage.db import SessionFactory
from storage.files import FileStore
from storage.models import Application, Attachment, ChannelIdentity
from tests.stored import answer_history

ZH = Locale("zh-CN")

NOW = dt.datetime(2025, 6, 18, 2, 30, tzinfo=dt.UTC)  # 10:30 in Shanghai
ALICE = UserRef(channel="telegram", external_id="1001", display_name="王伟")
BOB = UserRef(channel="telegram", external_id="1002", display_name="李娜")

# A real 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

ALPHA = """\
id: alpha
version: 1
issuer: test-union
seed: "100"
union: 甲市总工会
kind: 劳模创新工作室
form_title: 劳模创新工作室申报表
notice: 甲市总工会关于命名劳模创新工作室的通知
review_chain:
  - {id: district, reviewer: 区总工会, opinion_label: 区总工会意见, action: 审核推荐}
  - {id: city, reviewer: 甲市总工会, opinion_label: 市总工会意见, action: 审定命名}
sections:
  - id: basic
    title: 基本情况
    questions:
      - {id: name, label: 工作室名称, type: text, help: 通知第一条}
      - {id: leader, label: 领衔人姓名, type: text, help: 通知第一条}
      - {id: members, label: 成员人数, type: integer, unit: 人, help: 通知第二条}
      - {id: has_room, label: 是否有固定活动场所, type: yesno, help: 通知第二条}
      - id: area
        label: 场所面积
        type: number
        unit: 平方米
        help: 通知第二条
        when: {field: has_room, eq: true}
  - id: media
    title: 附件
    questions:
      - {id: photos, label: 工作室照片, type: photo, max_files: 2, max_size_mb: 1, help: 通知第五条}
      - {id: proof, label: 证明材料, type: file, required: false, help: 通知第五条}
"""

BETA = """\
id: beta
version: 1
issuer: test-union
seed: "200"
union: 乙区总工会
kind: 职工创新工作室
form_title: 职工创新工作室申报表
notice: 乙区总工会关于职工创新工作室创建的通知
review_chain:
  - {id: street, reviewer: 街道总工会, opinion_label: 街道意见, action: 推荐}
sections:
  - id: basic
    title: 基本情况
    questions:
      - {id: studio, label: 工作室名称, type: text, help: 第一条}
      - {id: count, label: 成员人数, type: integer, help: 第二条}
"""


@pytest.fixture
def conv(sessions: SessionFactory, tmp_path: Path) -> Conversation:
    folder = tmp_path / "programs"
    folder.mkdir()
    (folder / "alpha.yaml").write_text(ALPHA, encoding="utf-8")
    (folder / "beta.yaml").write_text(BETA, encoding="utf-8")
    return Conversation(
        registry=load_registry(folder),
        sessions=sessions,
        files=FileStore(tmp_path / "files"),
        clock=lambda: NOW,
    )


# --------------------------------------------------------------------------- helpers


async def send(
    conv: Conversation, event: Inbound, user: UserRef = ALICE, key: tuple[str, str] | None = None
) -> Outcome:
    return await conv.handle(user, event, update_key=key)


async def press(
    conv: Conversation,
    reply: Reply,
    action: Action,
    arg: int = 0,
    user: UserRef = ALICE,
    key: str | None = None,
) -> Outcome:
    """Press a button of ``reply`` (the one with this action and argument, whose key it
    carries unless one is given), with the state it was shown for."""
    if key is None:
        shown = [b for row in reply.buttons for b in row if (b.action, b.arg) == (action, arg)]
        key = shown[0].key if shown else ""
    event = ButtonIn(action, arg, reply.application_id, reply.revision, key)
    return await send(conv, event, user)


def last(out: Outcome) -> Reply:
    return out.replies[-1]


def texts(out: Outcome) -> str:
    return "\n".join(r.text for r in out.replies)


def buttons(reply: Reply) -> list[tuple[str, Action, int | str]]:
    """Each button's label, action, and what it acts on: its key if it has one, else its arg."""
    return [(b.label, b.action, b.key or b.arg) for row in reply.buttons for b in row]


async def stored(sessions: SessionFactory, user: UserRef = ALICE) -> list[Application]:
    """The user's applications as committed, read in a new session."""
    async with sessions() as s:
        person_id = (
            await s.execute(
                select(ChannelIdentity.person_id).where(
                    ChannelIdentity.external_id == user.external_id
                )
            )
        ).scalar_one()
        return await repo.list_applications(s, user_id=person_id)


async def only(sessions: SessionFactory, user: UserRef = ALICE) -> Application:
    apps = await stored(sessions, user)
    assert len(apps) == 1
    return apps[0]


def state(app: Application) -> tuple[dict[str, Any], dict[str, Any], int]:
    return app.answers, app.cursor, app.revision


async def start(conv: Conversation, program: int = 0, user: UserRef = ALICE) -> Outcome:
    """/apply and pick a program."""
    menu = await send(conv, CommandIn("apply"), user)
    key = last(menu).buttons[program][0].key
    return await press(conv, last(menu), Action.PICK_PROGRAM, 0, user, key=key)


def fetch_of(data: bytes, calls: list[int] | None = None) -> Callable[[], Awaitable[bytes]]:
    async def fetch() -> bytes:
        if calls is not None:
            calls.append(1)
        return data

    return fetch


def png_in(
    size: int | None = None,
    fetch: Callable[[], Awaitable[bytes]] | None = None,
    kind: str = "photo",
) -> FileIn:
    return FileIn(
        kind=kind,
        file_name="studio.png",
        mime_type="image/png",
        size=len(PNG) if size is None else size,
        source_ref="tg-file-1",
        fetch=fetch or fetch_of(PNG),
    )


async def to_photos(conv: Conversation, user: UserRef = ALICE) -> Outcome:
    await start(conv, 0, user)
    await send(conv, TextIn("王伟劳模创新工作室"), user)
    await send(conv, TextIn("王伟"), user)
    out = await send(conv, TextIn("12"), user)
    return await press(conv, last(out), Action.CHOOSE, 0, user)


# --------------------------------------------------------------------------- menus


async def test_start_shows_the_menu_and_apply_lists_the_programs(conv: Conversation) -> None:
    out = await send(conv, CommandIn("start"))
    assert len(out.replies) == 1
    assert out.replies[0].text.startswith("您好王伟！")
    assert buttons(out.replies[0]) == [
        ("📝 开始 / 继续申报", Action.MENU, 0),
        ("📋 我的申报", Action.STATUS, 0),
    ]

    expected = [
        ("甲市总工会 · 劳模创新工作室", Action.PICK_PROGRAM, "alpha"),
        ("乙区总工会 · 职工创新工作室", Action.PICK_PROGRAM, "beta"),
    ]
    out = await send(conv, CommandIn("apply"))
    assert out.replies[0].text == "请选择要申报的项目（按钮显示发文工会和工作室类型）："
    assert buttons(out.replies[0]) == expected
    out = await press(conv, out.replies[0], Action.MENU)
    assert buttons(out.replies[0]) == expected

    out = await send(conv, CommandIn("frobnicate"))
    assert out.replies[0].text.startswith("没有这个命令：/frobnicate。")


async def test_picking_a_program_creates_a_draft_and_every_answer_is_committed(
    conv: Conversation, sessions: SessionFactory
) -> None:
    out = await start(conv)
    assert out.replies[0].text.startswith("《劳模创新工作室申报表》\n发文单位：甲市总工会")
    assert "共约 6 题" in out.replies[0].text
    question = last(out)
    assert question.text.startswith("第 1/6 题 · 基本情况")
    assert "【工作室名称】" in question.text
    assert question.expects_text

    app = await only(sessions)
    assert app.status == "draft"
    assert app.program_id == "alpha"
    assert question.application_id == app.id
    assert question.revision == app.revision
    assert app.cursor == {"mode": "ask", "q": "name"}
    assert app.answers == {}

    out = await send(conv, TextIn("王伟劳模创新工作室"))
    assert last(out).text.startswith("第 2/6 题 · 基本情况")
    app = await only(sessions)
    assert app.answers == {"name": "王伟劳模创新工作室"}
    assert app.cursor == {"mode": "ask", "q": "leader"}
    assert last(out).revision == app.revision
    assert app.updated_at == NOW

    out = await send(conv, TextIn("王伟"))
    out = await send(conv, TextIn("１２人"))
    app = await only(sessions)
    assert app.answers == {"name": "王伟劳模创新工作室", "leader": "王伟", "members": 12}
    assert app.cursor == {"mode": "ask", "q": "has_room"}

    async with sessions() as s:
        history = await answer_history(s, application_id=app.id or 0)
    assert [(e.path, e.value) for e in history] == [
        ("name", "王伟劳模创新工作室"),
        ("leader", "王伟"),
        ("members", 12),
    ]


async def test_a_wrong_answer_is_explained_and_nothing_is_saved(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await start(conv)
    await send(conv, TextIn("王伟劳模创新工作室"))
    await send(conv, TextIn("王伟"))
    before = state(await only(sessions))

    out = await send(conv, TextIn("十几个人"))
    assert len(out.replies) == 1
    assert out.replies[0].text == "没能识别出整数。请只填一个整数（不带小数点），例如：12"
    assert state(await only(sessions)) == before

    out = await send(conv, TextIn("12"))
    assert (await only(sessions)).answers["members"] == 12


async def test_a_stale_button_shows_the_current_question_and_changes_nothing(
    conv: Conversation, sessions: SessionFactory
) -> None:
    out = await start(conv)
    old = last(out)
    await send(conv, TextIn("王伟劳模创新工作室"))
    before = state(await only(sessions))

    out = await press(conv, old, Action.BACK)
    assert out.toast == "这个按钮已过期，已为您显示当前的问题。"
    assert "【领衔人姓名】" in last(out).text
    assert last(out).revision == before[2]
    assert state(await only(sessions)) == before


async def test_a_redelivered_update_is_handled_once(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await start(conv)
    first = await send(conv, TextIn("王伟"), key=("telegram", "42"))
    before = state(await only(sessions))
    assert before[0] == {"name": "王伟"}

    # "王伟" would be a fine answer to the next question too: only the marker stops it
    again = await send(conv, TextIn("王伟"), key=("telegram", "42"))
    # nothing changes, and the current question is shown again in case the first reply was lost
    assert [r.text for r in again.replies] == [r.text for r in first.replies[-1:]]
    assert state(await only(sessions)) == before

    # another source with the same number is another update
    await send(conv, TextIn("王伟"), key=("terminal", "42"))
    assert (await only(sessions)).answers == {"name": "王伟", "leader": "王伟"}


# --------------------------------------------------------------------------- leaving and resuming


async def test_save_exit_then_resume_at_the_same_question(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await start(conv)
    await send(conv, TextIn("王伟劳模创新工作室"))
    out = await send(conv, TextIn("王伟"))
    before = state(await only(sessions))

    out = await press(conv, last(out), Action.SAVE_EXIT)
    assert out.replies[0].text.startswith("已保存「甲市总工会 · 劳模创新工作室」的全部回答")
    assert state(await only(sessions))[:2] == before[:2]

    out = await send(conv, TextIn("12"))
    assert out.replies[0].text.startswith("当前没有正在填写的申报。")
    assert (await only(sessions)).answers == before[0]

    menu = await send(conv, CommandIn("apply"))
    assert buttons(last(menu))[0][0] == "甲市总工会 · 劳模创新工作室（草稿，继续填写）"
    out = await press(conv, last(menu), Action.PICK_PROGRAM, 0)
    assert out.replies[0].text == "欢迎回来，继续填写「甲市总工会 · 劳模创新工作室」。"
    assert last(out).text.startswith("第 3/6 题 · 基本情况")
    assert "【成员人数】" in last(out).text
    assert len(await stored(sessions)) == 1

    await send(conv, TextIn("12"))
    assert (await only(sessions)).answers["members"] == 12


async def test_two_drafts_coexist_and_status_lists_both(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await start(conv, 0)
    await send(conv, TextIn("王伟劳模创新工作室"))
    await send(conv, CommandIn("cancel"))
    await start(conv, 1)
    await send(conv, TextIn("李娜职工创新工作室"))
    await send(conv, TextIn("8"))

    apps = {a.program_id: a for a in await stored(sessions)}
    assert set(apps) == {"alpha", "beta"}
    assert apps["alpha"].answers == {"name": "王伟劳模创新工作室"}
    assert apps["beta"].answers == {"studio": "李娜职工创新工作室", "count": 8}

    out = await send(conv, CommandIn("status"))
    lines = out.replies[0].text.splitlines()
    assert lines[0] == "我的申报："
    # both saved at the same instant: the newer application comes first
    assert lines[1:] == [
        "1. 乙区总工会 · 职工创新工作室 — 草稿，已完成 2/2 题，最后保存于 2025-06-18 10:30",
        "2. 甲市总工会 · 劳模创新工作室 — 草稿，已完成 1/6 题，最后保存于 2025-06-18 10:30",
    ]
    resume = {
        arg: label for label, action, arg in buttons(out.replies[0]) if action is Action.RESUME
    }
    assert resume == {
        apps["alpha"].id: "▶️ 继续填写：甲市总工会 · 劳模创新工作室",
        apps["beta"].id: "▶️ 继续填写：乙区总工会 · 职工创新工作室",
    }

    out = await press(conv, out.replies[0], Action.RESUME, apps["alpha"].id or 0)
    assert out.replies[0].text == "欢迎回来，继续填写「甲市总工会 · 劳模创新工作室」。"
    assert "【领衔人姓名】" in last(out).text


async def test_another_users_application_cannot_be_resumed(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await start(conv, 0, BOB)
    bobs = await only(sessions, BOB)
    out = await send(conv, ButtonIn(Action.RESUME, bobs.id or 0, 0, 0), ALICE)
    assert out.toast == "这个按钮已过期。"
    assert await stored(sessions, ALICE) == []


async def test_unsupported_messages_get_a_hint_and_the_question_again(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await start(conv)
    await send(conv, TextIn("王伟劳模创新工作室"))
    before = state(await only(sessions))

    out = await send(conv, UnsupportedIn("sticker"))
    assert out.replies[0].text == "收到贴纸 🙂 不过本助手只能读取文字、按钮、照片和文件。"
    assert "【领衔人姓名】" in out.replies[1].text
    out = await send(conv, UnsupportedIn("hologram"))
    assert out.replies[0].text.startswith("暂不支持这种消息")
    assert state(await only(sessions)) == before

    out = await send(conv, TextIn("王伟"))
    assert (await only(sessions)).answers["leader"] == "王伟"


# --------------------------------------------------------------------------- uploads


async def test_a_photo_is_stored_as_an_attachment_and_its_id_answered(
    conv: Conversation, sessions: SessionFactory, tmp_path: Path
) -> None:
    out = await to_photos(conv)
    assert "【工作室照片】" in last(out).text

    out = await send(conv, png_in())
    assert last(out).text == "已收到第 1 个（需要 1–2 个）。可继续发送，或点「完成」。"
    app = await only(sessions)
    assert app.cursor["q"] == "photos"
    ids = app.answers["photos"]
    assert len(ids) == 1
    async with sessions() as s:
        (att,) = await repo.get_attachments(s, ids=ids)
        assert att.application_id == app.id
        assert att.question_id == "photos"
        assert att.mime_type == "image/png"
        assert att.size == len(PNG)
        assert att.source_ref == "tg-file-1"
    assert (tmp_path / "files" / att.storage_path).read_bytes() == PNG

    out = await press(conv, last(out), Action.DONE)
    assert "【证明材料】（选填）" in last(out).text
    assert (await only(sessions)).answers["photos"] == ids


async def test_a_failed_download_loses_nothing(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await to_photos(conv)
    before = state(await only(sessions))

    async def broken() -> bytes:
        raise ConnectionError("telegram went away")

    # A document must be downloaded (its type is read from its bytes).
    out = await send(conv, png_in(fetch=broken, kind="document"))
    assert out.replies[0].text == "文件下载失败，请稍后重新发送。已保存的回答不受影响。"
    assert "【工作室照片】" in last(out).text  # the question again, with its buttons
    assert any(b[1] is Action.SAVE_EXIT for b in buttons(last(out)))
    assert state(await only(sessions)) == before
    async with sessions() as s:
        assert (await s.execute(select(Attachment))).scalars().all() == []

    await send(conv, png_in())
    assert len((await only(sessions)).answers["photos"]) == 1


async def test_a_too_large_photo_is_refused_before_it_is_downloaded(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await to_photos(conv)
    before = state(await only(sessions))
    calls: list[int] = []
    out = await send(conv, png_in(size=2 * 1024 * 1024, fetch=fetch_of(PNG, calls)))
    assert out.replies[0].text == "文件太大，单个文件不能超过 1 MB，请压缩后重新发送。"
    assert "【工作室照片】" in last(out).text
    assert calls == []
    assert state(await only(sessions)) == before


async def test_a_too_large_file_is_refused_with_the_file_limit(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await to_photos(conv)
    out = await send(conv, png_in())
    out = await press(conv, last(out), Action.DONE)
    assert "【证明材料】" in last(out).text
    calls: list[int] = []
    big = FileIn(
        kind="document",
        file_name="证明.pdf",
        mime_type="application/pdf",
        size=21 * 1024 * 1024,
        source_ref="tg-file-2",
        fetch=fetch_of(b"%PDF-1.4", calls),
    )
    out = await send(conv, big)
    # a file question without its own limit takes up to 20 MB
    assert out.replies[0].text == "文件太大，单个文件不能超过 20 MB，请压缩后重新发送。"
    assert calls == []


async def test_a_photo_arriving_after_the_dialog_moved_on_is_not_stored(
    conv: Conversation, sessions: SessionFactory
) -> None:
    out = await to_photos(conv)

    async def slow_fetch() -> bytes:
        # while the photo downloads, the user goes back a question
        await press(conv, last(out), Action.BACK)
        return PNG

    moved = await send(conv, png_in(fetch=slow_fetch))
    assert moved.replies[0].text == "文件到达时问题已变化，本次未保存，请在需要上传时重新发送。"
    app = await only(sessions)
    assert app.cursor == {"mode": "ask", "q": "has_room"}
    assert "photos" not in app.answers
    async with sessions() as s:
        assert (await s.execute(select(Attachment))).scalars().all() == []


async def test_a_file_when_no_upload_is_asked_is_refused(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await start(conv)
    calls: list[int] = []
    out = await send(conv, png_in(fetch=fetch_of(PNG, calls)))
    assert out.replies[0].text == "现在不需要上传文件，请按当前问题回答。"
    assert "【工作室名称】" in last(out).text
    assert calls == []
    assert (await only(sessions)).answers == {}


# --------------------------------------------------------------------------- submission


async def fill_alpha(conv: Conversation) -> Outcome:
    """Answer every question of alpha (no fixed room) and reach the preview."""
    out = await to_photos(conv)
    out = await send(conv, png_in())
    out = await press(conv, last(out), Action.DONE)
    return await press(conv, last(out), Action.SKIP)


async def test_submit_is_refused_while_an_answer_is_missing_then_accepted(
    conv: Conversation, sessions: SessionFactory
) -> None:
    out = await fill_alpha(conv)
    assert "✅ 必填项已全部完成" in last(out).text

    # in the preview, say there is a room after all (its number, 4, opens it alone);
    # the follow-up question it opens is asked, and left for the preview
    out = await send(conv, TextIn("4"))
    assert "【是否有固定活动场所】" in last(out).text
    out = await press(conv, last(out), Action.CHOOSE, 1)
    assert "【场所面积】" in last(out).text
    out = await press(conv, last(out), Action.PREVIEW)
    assert "❗ 还有 1 项未完成" in last(out).text

    before = state(await only(sessions))
    out = await press(conv, last(out), Action.SUBMIT)
    assert last(out).text == "还不能提交，以下 1 项需要先完成：\n• 5. 场所面积：未填写"
    assert buttons(last(out)) == [("✏️ 修改：基本情况", Action.EDIT_SECTION, "basic")]
    app = await only(sessions)
    assert app.status == "draft"
    assert app.submitted_at is None
    assert state(app)[:2] == before[:2]

    out = await press(conv, last(out), Action.EDIT_SECTION, 0)
    for _ in range(4):
        out = await press(conv, last(out), Action.KEEP)
    out = await send(conv, TextIn("60平米"))
    assert "✅ 必填项已全部完成" in last(out).text

    out = await press(conv, last(out), Action.SUBMIT)
    assert (await only(sessions)).status == "draft"  # 提交 asks first
    out = await press(conv, last(out), Action.SUBMIT_OK)
    assert last(out).text.startswith("✅ 已提交「甲市总工会 · 劳模创新工作室」")
    assert "区总工会 → 甲市总工会" in last(out).text
    app = await only(sessions)
    assert app.status == "submitted"  # no organisation list: waits to be placed
    assert app.submission_no == 1
    assert app.submitted_at == NOW
    assert app.review_level == 0
    assert app.cursor == {"mode": "done"}
    assert app.answers["area"] == "60"

    out = await send(conv, CommandIn("status"))
    lines = out.replies[0].text.splitlines()
    assert lines[0] == ZH.t("engine.status.title")
    assert lines[1] == ZH.t(
        "engine.status.submitted",
        n=1,
        program="甲市总工会 · 劳模创新工作室",
        submitted="2025-06-18",
        reviewer="区总工会",
    )
    # picking the program again shows where it stands instead of a new draft
    menu = await send(conv, CommandIn("apply"))
    assert buttons(last(menu))[0][0] == "甲市总工会 · 劳模创新工作室（已提交）"
    out = await press(conv, last(menu), Action.PICK_PROGRAM, 0)
    assert lines[1] in out.replies[0].text
    assert len(await stored(sessions)) == 1

    # a submitted application is no longer answered by typing
    out = await send(conv, TextIn("70"))
    assert out.replies[0].text.startswith("当前没有正在填写的申报。")
    assert (await only(sessions)).answers["area"] == "60"


# --------------------------------------------------------------------------- concurrency


async def test_many_users_answering_at_once_are_all_stored(
    conv: Conversation, sessions: SessionFactory
) -> None:
    users = [UserRef(channel="telegram", external_id=str(5000 + i)) for i in range(20)]

    async def one(i: int, user: UserRef) -> None:
        await start(conv, i % 2, user)
        await send(conv, TextIn(f"第{i}号创新工作室"), user)
        await send(conv, TextIn(str(i + 3)), user)

    await asyncio.gather(*(one(i, u) for i, u in enumerate(users)))

    for i, user in enumerate(users):
        app = await only(sessions, user)
        if i % 2 == 0:
            assert app.answers == {"name": f"第{i}号创新工作室", "leader": str(i + 3)}
        else:
            assert app.answers == {"studio": f"第{i}号创新工作室", "count": i + 3}


async def test_the_same_photo_twice_counts_once(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await to_photos(conv)
    await send(conv, png_in())
    out = await send(conv, png_in())
    assert out.replies[0].text == "这个文件已经收到过了，请发送另一张照片或另一个文件。"
    assert len((await only(sessions)).answers["photos"]) == 1


async def test_a_photo_update_is_marked_only_with_its_attachment(
    conv: Conversation, sessions: SessionFactory
) -> None:
    """A download that fails (or a crash during it) leaves the update unhandled,
    so its redelivery is processed; once stored, a redelivery is a duplicate."""
    await to_photos(conv)

    async def broken() -> bytes:
        raise ConnectionError("telegram went away")

    await send(conv, png_in(fetch=broken, kind="document"), key=("telegram", "77"))
    await send(conv, png_in(), key=("telegram", "77"))
    assert len((await only(sessions)).answers["photos"]) == 1
    await send(conv, png_in(), key=("telegram", "77"))
    assert len((await only(sessions)).answers["photos"]) == 1


async def test_a_photo_that_cannot_be_downloaded_now_is_kept_by_reference(
    conv: Conversation, sessions: SessionFactory
) -> None:
    """The messenger holds the photo: the user goes on, the bytes come later."""
    await to_photos(conv)

    async def unavailable() -> bytes:
        raise ConnectionError("the Bot API server serves no files")

    out = await send(conv, png_in(fetch=unavailable))
    assert last(out).text.startswith("已收到第 1 个")
    ids = (await only(sessions)).answers["photos"]
    async with sessions() as s:
        (att,) = await repo.get_attachments(s, ids=ids)
    assert (att.storage_path, att.sha256, att.source_ref) == ("", "", "tg-file-1")
    assert att.size == len(PNG)
    out = await send(conv, png_in(fetch=unavailable))
    assert out.replies[0].text == "这个文件已经收到过了，请发送另一张照片或另一个文件。"


async def test_a_draft_of_a_program_left_out_is_said_kept_and_resumes_once_fixed(
    conv: Conversation, sessions: SessionFactory, tmp_path: Path
) -> None:
    """A definition broken on the server: its drafts are listed as waiting for a fix,
    nothing of them is lost, and the same draft continues once the file loads again."""
    await start(conv)
    await send(conv, TextIn("王伟劳模创新工作室"))
    folder = tmp_path / "programs"
    good = (folder / "alpha.yaml").read_text(encoding="utf-8")
    (folder / "alpha.yaml").write_text(good.replace("type: text", "type: txt", 1), "utf-8")
    broken = load_registry(folder)
    assert broken.get("alpha") is None
    assert broken.broken
    down = Conversation(
        registry=broken, sessions=sessions, files=FileStore(tmp_path / "files"), clock=lambda: NOW
    )
    out = await send(down, CommandIn("status"))
    assert ZH.t("engine.status.unserved", n=1, program="alpha") in texts(out)
    app = await only(sessions)
    assert app.answers == {"name": "王伟劳模创新工作室"}

    (folder / "alpha.yaml").write_text(good, "utf-8")
    fixed = Conversation(
        registry=load_registry(folder),
        sessions=sessions,
        files=FileStore(tmp_path / "files"),
        clock=lambda: NOW,
    )
    out = await send(fixed, CommandIn("apply"))
    out = await press(fixed, last(out), Action.PICK_PROGRAM, 0, key="alpha")
    assert last(out).text.startswith("第 2/6 题")
    assert (await only(sessions)).id == app.id
