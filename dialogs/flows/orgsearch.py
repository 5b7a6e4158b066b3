"""Finding an organisation by part of its name, among thousands.

The applicant's ``org`` question and an administrator placing a declaration
both search the organisation table (within the program's issuing union when
the file has it) and offer the shortest matching names as buttons.  The
search runs here, where the database is, and its matches are handed to the
question type through the question's scratch (see ``dialogs.qtypes.org``).
"""

from __future__ import annotations

from dialogs.engine import Walker
from dialogs.qtypes.org import SHOWN
from dialogs.schema import Program, Question
from dialogs.turn import Turn
from review.chain import issuer
from storage import review as data

MAX_TYPED = 64
"""Longer text is no organisation's name: searched by its first characters."""


async def find(
    turn: Turn, program: Program, kinds: list[str], typed: str
) -> tuple[list[list[str]], int]:
    """Matches of ``typed`` as ``[code, name]`` (at most ``SHOWN``) and how many more."""
    words = typed.split()[:8] if typed.strip() else []
    words = [w[:MAX_TYPED] for w in words]
    if not words:
        return [], 0
    union = await issuer(turn.session, program)
    found = await data.search(
        turn.session,
        words=words,
        kinds=kinds,
        under_id=union.id if union is not None else None,
        limit=SHOWN,
    )
    return [[o.code, o.name] for o in found.orgs], max(0, found.total - len(found.orgs))


async def look_up(turn: Turn, program: Program, q: Question, walker: Walker, typed: str) -> None:
    """Search for what was typed at an ``org`` question and leave the matches where
    its type reads them (the walker's scratch for the question)."""
    text = " ".join(typed.split())
    kinds: list[str] = list(q.kinds or [])
    matches, more = await find(turn, program, kinds, text)
    scratch: dict[str, object] = {"typed": text, "found": matches, "more": more}
    if not matches and not await listed(turn, program, kinds):
        scratch["unlisted"] = True  # no list to pick from: the typed name is the answer
    walker.cur["s"] = scratch


async def listed(turn: Turn, program: Program, kinds: list[str]) -> bool:
    """Whether there is a list to pick from: the issuing union is in the organisation
    table, or (a program without one) any organisation of these kinds is."""
    if await issuer(turn.session, program) is not None:
        return True
    if program.issuer is not None:
        return False
    found = await data.search(turn.session, words=[], kinds=kinds, under_id=None, limit=1)
    return found.total > 0
