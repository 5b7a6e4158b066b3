"""Making what people type safe to store, and what the bot says fit its channel.

Users paste anything: text copied from Word with NUL bytes and control
characters, half of an emoji cut by another app (a lone surrogate, which no
encoder accepts), pages of text.  PostgreSQL cannot store NUL in text at all,
and SQLite would keep it only to break the next reply, so every string that
comes in is cleaned the same way on every backend, before it reaches the
engine.

On the way out, a channel limits how long one message may be (Telegram: 4096
characters, counted in UTF-16 code units).  A screen built from user text can
exceed any limit, so a reply is split into several messages, never refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from dialogs.ui import Reply

# C0 controls except tab and newline, DEL, C1 controls, and UTF-16 surrogates
# (which only appear in str as halves of a broken pair).
_UNWANTED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_CR = re.compile(r"\r\n?")


def clean_text(text: str) -> str:
    """``text`` without control characters and broken surrogates; line breaks
    become ``\\n`` (a pasted table keeps its rows, a form feed goes)."""
    return _UNWANTED.sub("", _CR.sub("\n", text))


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: characters outside the BMP (most emoji) count twice."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """``text`` in pieces of at most ``limit`` (by ``measure``), cut where a
    reader expects a break: at a blank line, else a line end, else after a
    sentence mark or a space, and only as a last resort anywhere.
    """
    if limit < 16:
        raise ValueError("limit too small to split sensibly")
    if measure(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    while measure(rest) > limit:
        head = _longest_prefix(rest, limit, measure)
        cut = _break_point(head)
        parts.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:].lstrip("\n")
    if rest:
        parts.append(rest)
    return [p for p in parts if p] or [""]


def _longest_prefix(text: str, limit: int, measure: Callable[[str], int]) -> str:
    """The longest start of ``text`` within ``limit`` (binary search: ``measure`` is monotone)."""
    low, high = 0, min(len(text), limit)
    while low < high:
        mid = (low + high + 1) // 2
        if measure(text[:mid]) <= limit:
            low = mid
        else:
            high = mid - 1
    return text[: max(low, 1)]


_SOFT_BREAKS = ("。", "；", "！", "？", ". ", "; ", "，", ", ", " ", "、")


def _break_point(head: str) -> int:
    """Where to end a piece taken from ``head``: never in the first half if avoidable."""
    floor = len(head) // 2
    for mark in ("\n\n", "\n"):
        at = head.rfind(mark)
        if at > floor:
            return at + len(mark)
    best = max((head.rfind(mark) + len(mark) for mark in _SOFT_BREAKS if mark in head), default=0)
    return best if best > floor else len(head)


def fit_replies(
    replies: list[Reply], limit: int, measure: Callable[[str], int] = len
) -> list[Reply]:
    """Replies whose texts all fit ``limit``; a long one becomes several messages,
    the buttons going with the last, so they stay under what they act on."""
    fitted: list[Reply] = []
    for reply in replies:
        pieces = split_text(reply.text, limit, measure)
        # Media go with the first piece (they are sent before its text), buttons with the last.
        for n, piece in enumerate(pieces):
            last = n == len(pieces) - 1
            fitted.append(
                replace(
                    reply,
                    text=piece,
                    buttons=reply.buttons if last else [],
                    media=reply.media if n == 0 else [],
                    # A message is replaced by one message: a split screen is sent anew.
                    replaces=reply.replaces and len(pieces) == 1,
                )
            )
    return fitted
