"""What a stranger or a leaked log must not get: the token in logs, statement
parameters in errors, a readable database, a webhook that answers junk with 500."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import stat
import sys
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.exc import DBAPIError, IntegrityError
from yarl import URL

from bot import logsafe
from bot.app import create_bot, create_dispatcher, create_webhook_app
from dialogs.ui import CommandIn, TextIn, UserRef
from storage.db import SessionFactory
from studiobot.app import build_conversation
from studiobot.settings import Settings
from tests.fakebotapi import FakeBotAPI
from tests.test_bot_http import USER, Scripted, config_for, polling

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TOKEN = "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "s3cret-token"


@pytest.fixture
def redaction() -> Iterator[None]:
    logsafe.install(TOKEN)
    try:
        yield
    finally:
        logsafe.uninstall()


# ---------------------------------------------------------------------- the token in logs


@pytest.mark.parametrize(
    "text",
    [
        f"token {TOKEN} in prose",
        "GET http://127.0.0.1:1/file/bot123456:TEST/documents/file_1.pdf 404",
        "url='https://api.telegram.org/bot123:x/getMe'",
    ],
)
def test_redact_removes_tokens_by_shape_and_in_urls(text: str) -> None:
    clean = logsafe.redact(text)
    assert TOKEN not in clean
    assert "123456:TEST" not in clean
    assert "123:x" not in clean
    assert logsafe.REDACTED in clean


def test_redact_removes_a_known_token_of_any_shape_and_keeps_source_paths() -> None:
    assert logsafe.redact("odd token tok-1 here", ["tok-1"]) == f"odd token {logsafe.REDACTED} here"
    path = 'File "/work/main/bot/routers/files.py", line 33, in fetch'
    assert logsafe.redact(path) == path


class LosingFiles(FakeBotAPI):
    """Telegram names a file path that then cannot be downloaded (404)."""

    async def _api_getfile(self, params: dict[str, Any]) -> Any:
        found = await super()._api_getfile(params)
        return {**found, "file_path": "documents/gone.pdf"}


async def _fail_a_download(caplog: pytest.LogCaptureFixture) -> str:
    """A user sends a document whose download fails; everything logged, as text."""
    caplog.set_level(logging.DEBUG)
    api = await LosingFiles(TOKEN).start()
    try:
        script = Scripted()
        async with polling(config_for(api, token=TOKEN), script):
            api.send_document(USER, b"%PDF-1.7", "report.pdf", "application/pdf")
            await api.wait_for_messages(USER, 1)  # the error message
            await api.settle()
    finally:
        await api.stop()
    return caplog.text + "\n".join(
        f"{r.getMessage()}\n{r.exc_text or ''}\n{r.stack_info or ''}" for r in caplog.records
    )


async def test_without_redaction_a_failed_download_logs_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The leak the redaction is for: the URL with the token, in the traceback.
    assert f"/file/bot{TOKEN}/documents/gone.pdf" in await _fail_a_download(caplog)


async def test_a_failed_download_logs_no_token(
    caplog: pytest.LogCaptureFixture, redaction: None
) -> None:
    logged = await _fail_a_download(caplog)
    assert "Traceback" in logged
    assert "/documents/gone.pdf" in logged
    assert TOKEN not in logged
    assert TOKEN.split(":")[1] not in logged
    assert all(r.exc_info is None for r in caplog.records)  # no exception left to render


def test_the_formatter_redacts_records_made_elsewhere() -> None:
    record = logging.makeLogRecord(
        {"msg": "GET %s failed", "args": (f"https://x/bot{TOKEN}/getMe",), "levelno": 40}
    )
    try:
        raise RuntimeError(f"boom at /file/bot{TOKEN}/photos/a.jpg")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    text = logsafe.RedactingFormatter("%(message)s").format(record)
    assert TOKEN not in text
    assert "boom at /file/bot<redacted>/photos/a.jpg" in text


def test_the_command_installs_redaction_with_the_configured_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from studiobot.cli import main

    token = "42:short-but-configured"
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("STUDIOBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("STUDIOBOT_BOT_TOKEN", token)
    try:
        assert main(["programs", "list"]) == 0
        logging.getLogger("studiobot.test").warning("the token is %s", token)
    finally:
        logsafe.uninstall()
    assert "the token is <redacted>" in caplog.text
    assert token not in caplog.text


# ---------------------------------------------------------------------- statement parameters


INSERT_PERSON = sa.text(
    "INSERT INTO persons (id, display_name, locale, created_at, updated_at)"
    " VALUES (:id, :name, 'zh-CN', :now, :now)"
)
NAME = "张三丰-secret-name"


def _chain(exc: BaseException) -> str:
    """An exception's text as a log would show it: the whole chain of causes."""
    return "".join(traceback.format_exception(exc))


async def test_a_constraint_error_carries_no_parameters(sessions: SessionFactory) -> None:
    params = {"id": 777000111, "name": NAME, "now": NOW}
    async with sessions() as s, s.begin():
        await s.execute(INSERT_PERSON, params)
    with pytest.raises(IntegrityError) as caught:
        async with sessions() as s, s.begin():
            await s.execute(INSERT_PERSON, params)
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(caught.value)
    for text in (str(caught.value), _chain(caught.value)):
        assert NAME not in text
        assert "777000111" not in text


async def test_a_parameter_the_driver_refuses_is_not_quoted(sessions: SessionFactory) -> None:
    # A date given as text: asyncpg refuses it quoting the value; SQLite stores it.
    if sessions.kw["bind"].dialect.name == "sqlite":
        pytest.skip("SQLite takes any value")
    params = {"id": 777000112, "name": NAME, "now": "李四 2026-01-01"}
    with pytest.raises(DBAPIError) as caught:
        async with sessions() as s, s.begin():
            await s.execute(INSERT_PERSON, params)
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(caught.value)
    assert "invalid input for query argument $3: <hidden>" in str(caught.value)
    assert "李四" not in _chain(caught.value)
    assert NAME not in _chain(caught.value)


# ---------------------------------------------------------------------- file permissions


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_database_and_data_folders_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    db = data / "studiobot.db"
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{db}", data_dir=data)
    conversation, engine = await build_conversation(settings)
    try:
        await conversation.handle(UserRef("terminal", "u1", "王五"), CommandIn("start"))
        await conversation.handle(UserRef("terminal", "u1", "王五"), TextIn("1"))
        stored = await conversation.files.save(b"%PDF-1.7 x", suffix=".pdf")
        wal, shm = db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")
        assert wal.exists()
        assert shm.exists()
        modes = {p.name: _mode(p) for p in (db, wal, shm)}
        assert modes == {db.name: 0o600, wal.name: 0o600, shm.name: 0o600}
        folders = [data, data / "files", (data / "files" / stored.path).parent]
        assert [_mode(f) for f in folders] == [0o700] * 3
    finally:
        await engine.dispose()


async def test_an_existing_database_and_data_folder_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    db = data / "studiobot.db"
    url = f"sqlite+aiosqlite:///{db}"
    settings = Settings(_env_file=None, database_url=url, data_dir=data)
    _, engine = await build_conversation(settings)
    await engine.dispose()
    db.chmod(0o644)
    data.chmod(0o755)
    _, engine = await build_conversation(settings)
    await engine.dispose()
    assert (_mode(db), _mode(data), _mode(data / "files")) == (0o600, 0o700, 0o700)


# ---------------------------------------------------------------------- webhook edge cases


@pytest.fixture
async def webhook(api: FakeBotAPI) -> AsyncIterator[tuple[str, Scripted]]:
    """The production webhook app on 127.0.0.1 with a scripted conversation: (url, script)."""
    script = Scripted()
    config = config_for(api, webhook_url="https://bot.example.org/", webhook_secret=SECRET)
    bot = create_bot(config)
    runner = web.AppRunner(create_webhook_app(config, bot, create_dispatcher(config, script)))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}{config.webhook_path}", script
    finally:
        await runner.cleanup()
        await bot.session.close()


async def _post_raw(url: str, body: bytes, secret: bytes | None) -> tuple[int, bytes]:
    """An HTTP/1.1 request written by hand, so any header bytes can be sent."""
    target = URL(url)
    reader, writer = await asyncio.open_connection(target.host, target.port)
    head = [
        f"POST {target.path} HTTP/1.1".encode(),
        f"Host: {target.host}:{target.port}".encode(),
        b"Content-Type: application/json",
        f"Content-Length: {len(body)}".encode(),
        b"Connection: close",
    ]
    if secret is not None:
        head.append(b"X-Telegram-Bot-Api-Secret-Token: " + secret)
    writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
    await writer.drain()
    response = await reader.read()
    writer.close()
    status = int(response.split(b" ", 2)[1])
    return status, response


def _update(api: FakeBotAPI, text: str) -> bytes:
    return json.dumps(api.message_update(USER, text=text)).encode()


@pytest.mark.parametrize(
    ("secret", "body", "status"),
    [
        (None, "valid", 401),
        (b"wrong", "valid", 401),
        ("密钥".encode(), "valid", 401),  # UTF-8 bytes
        (b"s3cret-tok\xe9n", "valid", 401),  # Latin-1 byte, not UTF-8
        (SECRET.encode(), b"not json at all", 400),
        (SECRET.encode(), b"\xff\xfe garbage", 400),
        (SECRET.encode(), b"[1, 2, 3]", 400),
        (SECRET.encode(), b'{"update_id": "x", "message": 5}', 400),
        (SECRET.encode(), b"[" * 100_000, 400),
        (SECRET.encode(), "valid", 200),
    ],
)
async def test_the_webhook_answers_bad_requests_in_one_log_line(
    api: FakeBotAPI,
    webhook: tuple[str, Scripted],
    caplog: pytest.LogCaptureFixture,
    secret: bytes | None,
    body: bytes | str,
    status: int,
) -> None:
    url, script = webhook
    caplog.set_level(logging.DEBUG)
    payload = _update(api, "hello") if body == "valid" else body
    assert isinstance(payload, bytes)
    got, _ = await _post_raw(url, payload, secret)
    assert got == status
    handled = [e.text for _, e, _ in script.events if isinstance(e, TextIn)]
    # A valid update is handled (and answered) before the response.
    assert handled == (["hello"] if status == 200 else [])
    if status == 200:
        assert [m.text for m in api.sent_to(USER)] == ["got hello"]
    assert "Traceback" not in caplog.text
    assert all(r.exc_info is None and r.levelno < logging.ERROR for r in caplog.records)
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == (0 if status == 200 else 1)
    assert all("\n" not in r.getMessage() for r in refusals)
    assert SECRET not in caplog.text
