"""Carrying a draft over to a new version of its program's definition.

A union may edit a program while declarations are half filled in: reword an
option, reorder options, drop a question.  Answers are stored by question id
and option id, so rewording and reordering change nothing; but an answer
whose question or option is gone no longer fits.  Such answers are taken out
of the draft (the append-only history keeps them) and the user is told which,
rather than having them vanish silently or break the form.  Drafts saved
before options had ids stored the option's label: a label that names an
option is read as that option's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dialogs.qtypes import kind
from dialogs.schema import Program, Question


@dataclass(frozen=True)
class Dropped:
    """An answer the new definition has no place for."""

    path: str
    label: str
    value: Any


def _option_id(q: Question, value: Any) -> Any | None:
    """The id ``value`` names among ``q``'s options (by id, or by label for old drafts)."""
    for option in q.options or []:
        if value == option.id:
            return option.id
    for option in q.options or []:
        if value == option.label:
            return option.id
    return None


def _fit(q: Question, value: Any) -> tuple[Any, list[Any]]:
    """The value as the new definition stores it, and the parts that no longer fit
    (a ticked option that is gone is dropped, the other ticks stay)."""
    if value is None or q.options is None:
        return value, []
    if isinstance(value, list):
        ids = [_option_id(q, v) for v in value]
        return [i for i in ids if i is not None], [
            v for v, i in zip(value, ids, strict=True) if i is None
        ]
    found = _option_id(q, value)
    return found, [] if found is not None else [value]


def carry_over(program: Program, answers: dict[str, Any]) -> tuple[dict[str, Any], list[Dropped]]:
    """``answers`` fitted to ``program``, and what had to be taken out."""
    questions = {q.id: q for _, q in program.questions()}
    kept: dict[str, Any] = {}
    dropped: list[Dropped] = []
    for qid, value in answers.items():
        q = questions.get(qid)
        if q is None:
            dropped.append(Dropped(qid, qid, value))
            continue
        if kind(q).repeats and isinstance(value, list):
            kept[qid] = [_fit_row(q, n, row, dropped) for n, row in enumerate(value)]
            continue
        fitted, lost = _fit(q, value)
        if fitted is not None or value is None:
            kept[qid] = fitted
        dropped += [Dropped(qid, q.label, v) for v in lost]
    return kept, dropped


def _fit_row(group: Question, n: int, row: Any, dropped: list[Dropped]) -> dict[str, Any]:
    if not isinstance(row, dict):
        return {}
    fields = {f.id: f for f in group.fields or []}
    out: dict[str, Any] = {}
    for fid, value in row.items():
        f = fields.get(fid)
        path = f"{group.id}[{n}].{fid}"
        if f is None:
            dropped.append(Dropped(path, fid, value))
            continue
        fitted, lost = _fit(f, value)
        if fitted is not None or value is None:
            out[fid] = fitted
        dropped += [Dropped(path, f.label, v) for v in lost]
    return out
