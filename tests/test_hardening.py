"""What a leaked log must not give away: the bot's token."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import logsafe
from tests.fakebotapi import FakeBotAPI
from tests.test_bot_http import USER, Scripted, polling, settings_for

TOKEN = "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


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
        async with polling(settings_for(api, bot_token=TOKEN), script):
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
