"""Keep the bot's token out of the logs.

The token is part of every Bot API URL (``/bot<token>/<method>``,
``/file/bot<token>/<path>``), and HTTP errors quote their URL: a failed
download would otherwise print the token, in its message and in its
traceback.  :func:`install` makes every log record redacted as it is
created, whichever logger made it and whichever handler writes it (a log
file, the console, a test's capture): its message is rendered and cleaned,
and so is its traceback, which is then kept as text only.

Redacted are the configured token itself, anything shaped like a token
(``123456789:AA…``, digits, a colon, 20 or more URL-safe characters) and
whatever follows ``/bot`` in a URL path up to the next ``/``.

Imports nothing of aiogram or of ``studiobot``: the CLI installs it before
anything else runs.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import Any

REDACTED = "<redacted>"

_TOKEN_RE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
# "/bot" or "/file/bot" in a URL, then the token up to the next "/" (or the URL's end).
# A token always holds a colon (id:secret): "/bots/api" of a documentation link is kept.
_URL_TOKEN_RE = re.compile(r"(/bot)[^/\s'\"<>:]*:[^/\s'\"<>]+")

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()  # replaced, never mutated: read without the lock
_previous_factory: Callable[..., logging.LogRecord] | None = None


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without Bot API tokens: the given secrets, token-shaped strings and the
    part of ``/bot…/`` URLs that holds the token."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _TOKEN_RE.sub(REDACTED, text)
    return _URL_TOKEN_RE.sub(rf"\g<1>{REDACTED}", text)


def redact_record(record: logging.LogRecord, secrets: Iterable[str] = ()) -> None:
    """Clean a record in place: its message is rendered and redacted (the arguments are
    dropped), its traceback and stack are rendered and redacted, and the exception
    itself is dropped so no handler can render it again unredacted."""
    secrets = tuple(secrets)
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to logging's own error report
        message = None
    if message is not None:
        record.msg = redact(message, secrets)
        record.args = None
    if record.exc_info and record.exc_info[1] is not None:
        rendered = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text = redact(rendered, secrets)
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text, secrets)
    if record.stack_info:
        record.stack_info = redact(record.stack_info, secrets)


class RedactingFormatter(logging.Formatter):
    """A formatter whose whole output (message and traceback) is redacted: a second
    guard for records that did not come from the record factory (``makeLogRecord``)."""

    def __init__(self, *args: Any, secrets: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), (*self.secrets, *_secrets))


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _previous_factory is not None
    record = _previous_factory(*args, **kwargs)
    redact_record(record, _secrets)
    return record


def install(*secrets: str | None) -> None:
    """Redact every log record from now on, and these secrets (the token) by value.

    Works through the log record factory, so it covers all loggers and handlers,
    including those added later.  Calling it again adds secrets; it never wraps twice.
    """
    global _previous_factory, _secrets
    with _lock:
        _secrets = tuple({*_secrets, *(s for s in secrets if s)})
        if _previous_factory is None:
            _previous_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_redacting_factory)


def uninstall() -> None:
    """Undo :func:`install` (for tests): the previous record factory, no known secrets."""
    global _previous_factory, _secrets
    with _lock:
        if _previous_factory is not None:
            if logging.getLogRecordFactory() is _redacting_factory:
                logging.setLogRecordFactory(_previous_factory)
            _previous_factory = None
        _secrets = ()
