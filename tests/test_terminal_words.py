"""Words instead of buttons, and the terminal's own input.

Typed 上一步, 跳过, 完成, 保留, 保存并退出 … do what their button does, in every
transport (the dialog reads them, not the terminal); a word whose button is
not on the screen is never stored as an answer, except 完成-like words a free
text could really say.  The terminal shows those buttons as words (a number
never means 跳过), takes only lines that look like paths for paths, says
plainly when a path names no file, judges a file by its bytes, greets by the
name its user gave once, and says where its database is.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from dialogs.i18n import Locale
from dialogs.loader import load_registry
from dialogs.service import Conversation
from dialogs.ui import (
    Action,
    Button,
    ButtonIn,
    CommandIn,
    FileIn,
    Inbound,
    Outcome,
    Reply,
    TextIn,
    UserRef,
)
from dialogs.words import NAV_WORDS, named, pressed, squeeze, words_of
from storage import repo
from storage.db import SessionFactory
from storage.files import FileStore
from storage.models import Application
from studiobot.terminal import Terminal, chat, path_candidate
from tests.walkthrough import png

ZH = Locale("zh-CN")
NOW = dt.datetime(2025, 6, 18, 2, 30, tzinfo=dt.UTC)
ME = UserRef(channel="telegram", external_id="3001", display_name="王伟")

PROGRAM = """\
id: words
version: 1
issuer: test-union
seed: "400"
union: 丁市总工会
kind: 职工创新工作室
form_title: 职工创新工作室申报表
notice: 丁市总工会通知
review_chain:
  - {id: city, reviewer: 丁市总工会, opinion_label: 意见, action: 审定}
sections:
  - id: basic
    title: 基本情况
    questions:
      - {id: name, label: 工作室名称, type: text, help: h}
      - {id: note, label: 备注, type: text, required: false, help: h}
      - {id: story, label: 工作室简介, type: longtext, help: h}
      - {id: state, label: 建设状态, type: text, help: h}
      - {id: level, label: 级别, type: choice, options: {city: 市级, district: 区级}, help: h}
      - {id: photos, label: 工作室照片, type: photo, max_files: 2, help: h}
"""


@pytest.fixture
def conv(sessions: SessionFactory, tmp_path: Path) -> Conversation:
    folder = tmp_path / "programs"
    folder.mkdir()
    (folder / "words.yaml").write_text(PROGRAM, encoding="utf-8")
    return Conversation(
        registry=load_registry(folder),
        sessions=sessions,
        files=FileStore(tmp_path / "files"),
        clock=lambda: NOW,
    )


async def send(conv: Conversation, event: Inbound, user: UserRef = ME) -> Outcome:
    return await conv.handle(user, event)


async def say(conv: Conversation, text: str) -> Outcome:
    return await send(conv, TextIn(text))


async def start(conv: Conversation) -> Outcome:
    menu = await send(conv, CommandIn("apply"))
    reply = menu.replies[-1]
    pick = reply.buttons[0][0]
    return await send(
        conv, ButtonIn(pick.action, 0, reply.application_id, reply.revision, pick.key)
    )


async def draft(sessions: SessionFactory, user: UserRef = ME) -> Application:
    async with sessions() as s:
        person, _ = await repo.load_user(
            s, channel=user.channel, external_id=user.external_id, lock=False
        )
        assert person is not None
        (app,) = await repo.list_applications(s, user_id=person.id or 0)
        return app


def actions(reply: Reply) -> list[Action]:
    return [b.action for row in reply.buttons for b in row]


# ------------------------------------------------------------------ matching words


def test_a_word_is_read_without_spaces_punctuation_or_decoration() -> None:
    for typed in ("上一步", " 上一步。", "上 一 步！", "〔上一步〕", "返回", "上一题"):
        assert named(typed, ZH) is Action.BACK, typed
    assert named("保存并退出", ZH) is Action.SAVE_EXIT
    assert named("退出", ZH) is Action.SAVE_EXIT
    assert named("保留", ZH) is Action.KEEP
    assert named("返回预览", ZH) is Action.PREVIEW
    assert named("完成~", ZH) is Action.DONE
    assert named("Back", Locale("en")) is Action.BACK
    # answers that merely contain a word, or long texts, are not words
    for typed in ("上一步工作", "我们已经完成了三项技术攻关", "2024/3", "完成" * 20, "", "。"):
        assert named(typed, ZH) is None, typed


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_each_word_names_one_action_and_each_label_its_own(lang: str) -> None:
    loc = Locale(lang)
    seen: dict[str, Action] = {}
    for action in NAV_WORDS:
        for word in words_of(action, loc):
            assert seen.setdefault(squeeze(word), action) is action, word
            assert named(word, loc) is action
    labels = {
        Action.BACK: "back",
        Action.SKIP: "skip",
        Action.KEEP: "keep",
        Action.DONE: "done",
        Action.SAVE_EXIT: "save_exit",
        Action.PREVIEW: "preview",
        Action.SUBMIT: "submit",
        Action.CANCEL: "cancel",
    }
    for action, key in labels.items():  # the button's label is one of its words
        assert named(loc.t(f"engine.btn.{key}"), loc) is action, key


def test_a_button_is_also_named_by_its_own_label() -> None:
    done = Button("✅ 完成（已选 3 项）", Action.DONE)
    option = Button("完成", Action.CHOOSE, 0, "done")  # an option is never navigation
    assert pressed("完成（已选 3 项）", [option, done], ZH) is done
    assert pressed("完成", [option, done], ZH) is done
    assert pressed("完成", [option], ZH) is None
    assert squeeze("⬅️ 上一步") == "上一步"


def test_help_names_the_words_that_can_be_typed() -> None:
    """Typing a word is only useful to someone who knows it: /help names each one."""
    for action in (Action.BACK, Action.SKIP, Action.DONE, Action.SAVE_EXIT, Action.SUBMIT):
        assert any(word in ZH.t("engine.help") for word in words_of(action, ZH)), action


# ------------------------------------------------------------------ through the dialog


async def test_typed_back_skip_and_keep_are_the_buttons(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await start(conv)
    await say(conv, "王伟劳模创新工作室")
    assert (await draft(sessions)).cursor["q"] == "note"

    await say(conv, "上一步")
    app = await draft(sessions)
    assert app.cursor["q"] == "name"
    assert app.answers == {"name": "王伟劳模创新工作室"}

    out = await say(conv, "保留。")  # keep the current answer
    assert (await draft(sessions)).cursor["q"] == "note"
    assert out.replies[-1].expects_text

    await say(conv, "跳过")  # an optional question
    app = await draft(sessions)
    assert app.cursor["q"] == "story"
    assert app.answers.get("note") is None
    assert "note" in app.answers  # skipped, not missing


async def test_a_word_whose_button_is_not_there_is_never_stored(
    conv: Conversation, sessions: SessionFactory
) -> None:
    out = await start(conv)
    assert Action.BACK not in actions(out.replies[-1])  # the first question
    out = await say(conv, "上一步")
    assert out.replies[0].text == ZH.t("words.not_here_back")
    out = await say(conv, "跳过")  # a required question
    assert out.replies[0].text == ZH.t("words.not_here_skip")
    assert out.replies[-1].buttons  # the question again, with its buttons
    out = await say(conv, "保留当前答案")  # nothing to keep yet
    assert out.replies[0].text == ZH.t("words.not_here", word="保留当前答案")
    app = await draft(sessions)
    assert app.answers == {}
    assert app.cursor["q"] == "name"


async def test_done_finishes_a_long_text_instead_of_joining_it(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await start(conv)
    await say(conv, "王伟劳模创新工作室")
    await say(conv, "跳过")
    await say(conv, "工作室成立于2015年。")
    await say(conv, "共攻关二十项。")
    app = await draft(sessions)
    assert app.cursor["q"] == "story"
    assert app.cursor["s"]["buf"] == ["工作室成立于2015年。", "共攻关二十项。"]

    await say(conv, "完成。")
    app = await draft(sessions)
    assert app.answers["story"] == "工作室成立于2015年。\n共攻关二十项。"
    assert app.cursor["q"] == "state"
    assert "s" not in app.cursor


async def test_done_is_an_answer_where_a_free_text_could_say_it(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await start(conv)
    for line in ("王伟劳模创新工作室", "跳过", "简介", "完成"):
        await say(conv, line)
    assert (await draft(sessions)).cursor["q"] == "state"
    await say(conv, "完成")  # 建设状态: 完成 (no 完成 button on this screen)
    app = await draft(sessions)
    assert app.answers["state"] == "完成"
    assert app.cursor["q"] == "level"
    # A choice takes its options typed; a word there is no option and is not stored.
    out = await say(conv, "完成")
    assert out.replies[0].text == ZH.t("words.not_here", word="完成")
    await say(conv, "区级")
    assert (await draft(sessions)).answers["level"] == "district"


async def test_save_and_leave_typed(conv: Conversation, sessions: SessionFactory) -> None:
    await start(conv)
    await say(conv, "王伟劳模创新工作室")
    out = await say(conv, "保存并退出")
    assert {Action.MENU, Action.STATUS} <= set(actions(out.replies[-1]))
    app = await draft(sessions)
    assert app.cursor["q"] == "note"
    assert app.answers == {"name": "王伟劳模创新工作室"}
    out = await say(conv, "上一步")  # no draft open now: not an answer anywhere
    assert (await draft(sessions)).answers == {"name": "王伟劳模创新工作室"}


async def test_words_on_the_preview(conv: Conversation, sessions: SessionFactory) -> None:
    await start(conv)
    for line in ("王伟劳模创新工作室", "跳过", "简介", "完成", "建成", "市级"):
        await say(conv, line)
    await send(conv, _photo(png(1)))
    await send(conv, _photo(png(2)))
    assert (await draft(sessions)).cursor["mode"] == "preview"
    await say(conv, "上一步")
    assert (await draft(sessions)).cursor["q"] == "photos"


# ------------------------------------------------------------------ files: bytes decide


def _photo(data: bytes, *, kept: bool = True, name: str = "a.jpg") -> FileIn:
    async def fetch() -> bytes:
        return data

    return FileIn(
        kind="photo",
        file_name=name,
        mime_type="image/jpeg",
        size=len(data),
        source_ref=f"ref-{hash(data)}",
        fetch=fetch,
        kept=kept,
    )


WRONG_TYPE = ZH.t(
    "engine.upload.wrong_type",
    accept=ZH.t("engine.upload.accept_sep").join(
        ZH.t(f"engine.filetype.{k}") for k in ("jpg", "png", "webp", "heic")
    ),
)


async def _to_photos(conv: Conversation) -> None:
    await start(conv)
    for line in ("王伟劳模创新工作室", "跳过", "简介", "完成", "建成", "市级"):
        await say(conv, line)


async def test_a_text_called_jpg_is_no_photo_in_any_transport(
    conv: Conversation, sessions: SessionFactory, tmp_path: Path
) -> None:
    await _to_photos(conv)
    # Sent as a photo, claimed a JPEG (what a messenger client says): the bytes decide.
    out = await send(conv, _photo(b"hello"))
    assert out.replies[0].text == WRONG_TYPE
    assert Action.SAVE_EXIT in actions(out.replies[-1])  # the question again
    # From the terminal: a 5-byte file named .jpg.
    fake = tmp_path / "studio.jpg"
    fake.write_bytes(b"hello")
    term = Terminal(conv, ME, io.StringIO(), ZH)
    event = term.parse(f"{fake}\n")
    assert isinstance(event, FileIn)
    assert (event.kind, event.mime_type) == ("document", "application/octet-stream")
    out = await send(conv, event)
    assert out.replies[0].text == WRONG_TYPE
    app = await draft(sessions)
    assert app.cursor["q"] == "photos"  # the question stays
    assert "photos" not in app.answers


async def test_a_local_file_that_cannot_be_read_is_not_kept_by_reference(
    conv: Conversation, sessions: SessionFactory
) -> None:
    await _to_photos(conv)

    async def gone() -> bytes:
        raise FileNotFoundError("moved away")

    local = FileIn("photo", "a.png", "image/png", 10, "/tmp/a.png", gone, kept=False)
    out = await send(conv, local)
    assert out.replies[0].text == ZH.t("engine.upload.failed")
    assert "photos" not in (await draft(sessions)).answers


# ------------------------------------------------------------------ the terminal


def _terminal() -> tuple[Terminal, io.StringIO]:
    out = io.StringIO()
    term = Terminal(conversation=None, user=UserRef("terminal", "me"), out=out, locale=ZH)  # type: ignore[arg-type]
    return term, out


def test_long_lines_and_slashes_in_answers_are_text() -> None:
    term, out = _terminal()
    long = "我们工作室围绕港口装卸设备开展技术攻关" * 15  # 300 characters
    assert term.parse(long + "\n") == TextIn(long)
    for typed in ("2024/3", "机械/电气", "/", "/无", "/ 无", "a/b/c", "1/2/3"):
        assert term.parse(typed + "\n") == TextIn(typed), typed
    assert term.parse("/apply\n") == CommandIn("apply")
    assert out.getvalue() == ""


def test_a_path_that_names_no_file_is_said_and_nothing_is_sent(tmp_path: Path) -> None:
    term, out = _terminal()
    missing = tmp_path / "没有这个.jpg"
    assert term.parse(f"{missing}\n") is None
    assert ZH.t("cli.no_such_file", path=str(missing)) in out.getvalue()
    assert term.parse(f"'{tmp_path}'\n") is None
    assert ZH.t("cli.not_a_file", path=str(tmp_path)) in out.getvalue()
    # A path too long for the system: said, never an OSError.
    too_long = "/tmp/" + "很长的名字" * 60 + ".jpg"
    assert term.parse(too_long + "\n") is None
    assert too_long in out.getvalue()
    assert term.parse("~/不存在的文件.pdf\n") is None
    assert term.parse("~nobody-here-at-all/a.pdf\n") is None  # no such home
    assert term.parse("/tmp/a\x00b.jpg\n") is None
    assert ZH.t("cli.no_such_file", path="~nobody-here-at-all/a.pdf") in out.getvalue()


def test_an_unreadable_file_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "证明.pdf"
    locked.write_bytes(b"%PDF-1.4\n")

    def refuse(self: Path, *args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)
    term, out = _terminal()
    assert term.parse(f"{locked}\n") is None
    assert (
        ZH.t("cli.unreadable_file", path=str(locked), error="Permission denied") in out.getvalue()
    )


@pytest.mark.parametrize(
    "shape",
    ["{p}", "'{p}'", '"{p}"', "{escaped}", "  '{p}'  "],
    ids=["bare", "single-quotes", "double-quotes", "escaped-spaces", "padded"],
)
def test_a_dragged_path_uploads_the_file(tmp_path: Path, shape: str) -> None:
    folder = tmp_path / "My Photos"
    folder.mkdir()
    photo = folder / "工作室 照片.jpg"  # named .jpg, a PNG inside
    photo.write_bytes(png(3))
    term, out = _terminal()
    line = shape.format(p=photo, escaped=str(photo).replace(" ", "\\ "))
    event = term.parse(line + "\n")
    assert isinstance(event, FileIn), out.getvalue()
    assert (event.kind, event.mime_type, event.file_name) == ("photo", "image/png", photo.name)
    assert not event.kept


def test_path_candidates() -> None:
    assert path_candidate("./a.jpg") == "./a.jpg"
    assert path_candidate("../x/a") == "../x/a"
    assert path_candidate("~/a") == "~/a"
    assert path_candidate("/a.pdf") == "/a.pdf"
    assert path_candidate("/home/me/x") == "/home/me/x"
    assert path_candidate("'/home/me/a b.jpg'") == "/home/me/a b.jpg"
    assert path_candidate("/home/me/a\\ b.jpg") == "/home/me/a b.jpg"
    assert path_candidate("C:\\Users\\me\\a.jpg") == "C:\\Users\\me\\a.jpg"
    for text in ("/", "/无", "2024/3", "机械/电气", "'上一步'", "~", "./", "abc"):
        assert path_candidate(text) is None, text


def test_navigation_is_shown_as_words_and_never_numbered() -> None:
    term, out = _terminal()
    screen = Reply(
        "性别",
        [
            [Button("男", Action.CHOOSE, 0), Button("女", Action.CHOOSE, 1)],
            [Button("⬅️ 上一步", Action.BACK), Button("⏭ 跳过", Action.SKIP)],
            [Button("💾 保存并退出", Action.SAVE_EXIT)],
        ],
        7,
        3,
    )
    term.show(Outcome(replies=[screen]))
    shown = out.getvalue()
    assert "[1] 男" in shown
    assert "[2] 女" in shown
    assert "[3]" not in shown
    assert "#" not in shown
    for word in ("上一步", "跳过", "保存并退出"):
        assert ZH.t("cli.word", word=word) in shown
    assert ZH.t("cli.pick_plain_words") in shown
    assert term.parse("2\n") == ButtonIn(Action.CHOOSE, 1, 7, 3)
    assert term.parse("3\n") == TextIn("3")  # no button 3: the dialog reads it
    assert term.parse("跳过\n") == TextIn("跳过")  # the dialog presses 跳过


# ------------------------------------------------------------------ name and database


async def test_the_name_is_asked_once_and_kept(
    conv: Conversation, sessions: SessionFactory
) -> None:
    out = io.StringIO()
    await chat(
        conv,
        user_name="wang",
        stdin=io.StringIO("王师傅\n"),
        out=out,
        locale=ZH,
        database="/srv/data/studiobot.db",
        ask_name=True,
    )
    first = out.getvalue()
    assert ZH.t("cli.ask_name") in first
    assert "/srv/data/studiobot.db" in first
    assert "您好王师傅" in first
    # The next run knows the name: the first line is the dialog's, not a name.
    out = io.StringIO()
    await chat(conv, user_name="wang", stdin=io.StringIO("/apply\n"), out=out, ask_name=True)
    again = out.getvalue()
    assert ZH.t("cli.ask_name") not in again
    assert "您好王师傅" in again
    assert "丁市总工会" in again  # /apply was read as /apply


async def test_a_command_typed_for_a_name_is_read_as_a_command(conv: Conversation) -> None:
    out = io.StringIO()
    await chat(conv, user_name="li", stdin=io.StringIO("/apply\n"), out=out, ask_name=True)
    text = out.getvalue()
    assert "丁市总工会" in text  # /apply answered, not taken for a name
    assert "您好li" in text


async def test_a_scripted_run_is_never_asked(conv: Conversation) -> None:
    out = io.StringIO()
    await chat(conv, user_name="leader", stdin=io.StringIO("/apply\n"), out=out)
    text = out.getvalue()
    assert ZH.t("cli.ask_name") not in text
    assert "丁市总工会" in text


def test_the_database_is_named_without_its_password(tmp_path: Path) -> None:
    from studiobot.cli import database_place

    assert database_place("sqlite+aiosqlite:///./data/studiobot.db") == str(
        (Path.cwd() / "data" / "studiobot.db").resolve()
    )
    shown = database_place("postgresql+asyncpg://bot:s3cret@db:5432/studiobot")
    assert "s3cret" not in shown
    assert "db:5432/studiobot" in shown


def test_a_button_named_in_words_where_no_text_is_asked_is_pressed() -> None:
    """At the confirmation 提交 brings, 提交 typed again (or the button's label)
    confirms; where a question expects text, the same words stay answers."""
    term, _ = _terminal()
    confirm = Button("📨 确认提交", Action.SUBMIT_OK, 7)
    term.last = Reply(text="请确认提交", buttons=[[confirm]], application_id=3, revision=9)
    for typed in ("提交", "确认提交", "〔确认提交〕"):
        assert term.parse(typed + "\n") == ButtonIn(Action.SUBMIT_OK, 7, 3, 9, ""), typed
    assert term.parse("退回\n") == TextIn("退回")
    term.last = Reply(text="q", buttons=[[confirm]], expects_text=True)
    assert term.parse("确认提交\n") == TextIn("确认提交")
