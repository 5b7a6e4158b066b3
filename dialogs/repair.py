"""Validate a definition file against the models and report every problem at once.

Pydantic stops a model at its first broken part, and the loader's cross-checks
need a whole :class:`~dialogs.schema.Program`.  So each broken part is set
aside (an unknown key dropped, a broken condition or list item left out), the
rest validated again, and the cross-checks run on what remains.  What they
then say about a part set aside, or about a question left out (a condition
on it "not an earlier question"), would be the same problem again: it is
dropped, and the field paths of what is kept are those of the file as written.

An unknown key names the keys allowed where it stands and the nearest one
(``inn`` → ``in``); a misspelt required key is one problem, not a missing key
and an unknown one.
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from dialogs.schema import Condition, Program

MAX_ROUNDS = 50

Loc = tuple[str | int, ...]


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The allowed word closest to a misspelt one, if any is close."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """``; did you mean 'in'?`` or nothing."""
    close = nearest(word, choices)
    return f"; did you mean '{close}'?" if close else ""


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, through Optional, list, tuple and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, str):
        return {"Condition": Condition}.get(annotation)
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def model_at(loc: Loc) -> type[BaseModel] | None:
    """The model of the object at ``loc`` (a path as pydantic gives it)."""
    model: type[BaseModel] | None = Program
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None:
            return None
        info = _field_info(model, part)
        if info is None:
            return None
        model = _model_in(info[1])
    return model


def _field_info(model: type[BaseModel], key: str) -> tuple[bool, Any] | None:
    """(required, annotation) of the field written ``key`` in a file."""
    for name, f in model.model_fields.items():
        if key in (name, f.alias):
            return f.is_required(), f.annotation
    return None


def keys_of(model: type[BaseModel]) -> list[str]:
    """The keys a file may write for ``model``."""
    return [f.alias or name for name, f in model.model_fields.items()]


def _what(model: type[BaseModel]) -> str:
    return {"ReviewLevel": "review level", "DateRule": "date", "StudioName": "studio_name"}.get(
        model.__name__, model.__name__.lower()
    )


def unknown_key(key: str, model: type[BaseModel]) -> tuple[str, str]:
    """(code, message) for a key ``model`` does not have."""
    if model is Condition:
        ops = [Condition.model_fields[o].alias or o for o in Condition.OPERATORS]
        combos = ["all", "any", "not"]
        close = did_you_mean(key, [*ops, *combos, "field"])
        message = (
            f"unknown operator '{key}' (operators: {', '.join(ops)}; "
            f"combinations: {', '.join(combos)}; and 'field'){close}"
        )
        return "E121", message
    allowed = keys_of(model)
    message = (
        f"unknown key '{key}' in a {_what(model)} (keys: {', '.join(allowed)})"
        f"{did_you_mean(key, allowed)}"
    )
    return "E120", message


def _path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(file)"


def _message(err: ErrorDetails) -> tuple[str, str]:
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden":
        model = model_at(loc[:-1])
        if model is not None:
            return unknown_key(str(loc[-1]), model)
    return "E010", err["msg"].removeprefix("Value error, ")


@dataclass
class Repairs:
    """What was set aside to validate the rest: dropped keys and removed list items."""

    removed: list[Loc] = field(default_factory=list)
    """List items left out, as paths of the file as written."""
    dropped: list[Loc] = field(default_factory=list)
    """Keys left out (unknown keys, broken conditions and values)."""
    gone_ids: set[str] = field(default_factory=set)
    """Ids of the questions (and other items) left out."""

    def original(self, path: str, message: str, *, whole: bool = False) -> str | None:
        """The path as written of a cross-check problem at ``path`` (a path in the
        repaired definition), or None when it repeats a problem already reported:
        it concerns a part set aside, or names an item left out.  ``whole``: also
        when an item inside the part it concerns was left out (a section said to be
        empty may have lost a question)."""
        if any(f"'{gone}'" in message for gone in self.gone_ids):
            return None
        loc = self.unshift(_parse(path))
        if any(loc[: len(cut)] == cut for cut in (*self.removed, *self.dropped)):
            return None
        if whole and any(cut[: len(loc)] == loc for cut in self.removed):
            return None
        return _path(loc)

    def unshift(self, loc: Loc) -> Loc:
        """A path in the definition with the items left out back to the one as written."""
        out: list[str | int] = []
        for part in loc:
            if isinstance(part, int):
                prefix = tuple(out)
                gone = sorted(r[-1] for r in self.removed if r[:-1] == prefix)
                for index in gone:
                    assert isinstance(index, int)
                    if index <= part:
                        part += 1
            out.append(part)
        return tuple(out)


def _parse(path: str) -> Loc:
    if path == "(file)":
        return ()
    out: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        out.append(int(index) if index else name)
    return tuple(out)


_GONE = object()


def validate(
    raw: dict[str, Any],
) -> tuple[list[tuple[str, str, str]], Program | None, Repairs]:
    """Every problem the models see as (path, code, message), each once, and the
    program validated from what is left once the broken parts are set aside (None
    when a part the program cannot do without is broken)."""
    data = _copy(raw)
    repairs = Repairs()
    problems: list[tuple[str, str, str]] = []
    for round_ in range(MAX_ROUNDS):
        try:
            return problems, Program.model_validate(data), repairs
        except ValidationError as exc:
            errors = exc.errors()
        if round_ == 0:
            problems = _first_round(errors)
        done = Repairs()
        for loc in _renames(data, errors):
            errors = [e for e in errors if tuple(e["loc"]) != loc]
        for err in errors:
            loc = tuple(err["loc"])
            if err["type"] == "missing" and _exists(data, loc):
                continue  # a misspelt key renamed
            if not _set_aside(data, loc, err, done):
                return problems, None, repairs
        repairs.removed += [repairs.unshift(loc) for loc in done.removed]
        repairs.dropped += [repairs.unshift(loc) for loc in done.dropped]
        repairs.gone_ids |= done.gone_ids
        _sweep(data)
    return problems, None, repairs


def _renames(data: Any, errors: list[ErrorDetails]) -> list[Loc]:
    """Put a misspelt required key's value under its right name (``lable`` → ``label``);
    the locations of the unknown keys so renamed."""
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    out: list[Loc] = []
    for err in errors:
        loc = tuple(err["loc"])
        close = _misspelt_required(loc, missing) if err["type"] == "extra_forbidden" else None
        if close is not None and _exists(data, loc):
            parent = _at(data, loc[:-1])
            parent[close] = parent.pop(loc[-1])
            out.append(loc)
    return out


def _misspelt_required(loc: Loc, missing: set[Loc]) -> str | None:
    """The required key that the unknown key at ``loc`` misspells, if it is missing."""
    model = model_at(loc[:-1]) if loc else None
    if model is None:
        return None
    close = nearest(str(loc[-1]), keys_of(model))
    if close is not None and (*loc[:-1], close) in missing:
        return close
    return None


def _first_round(errors: list[ErrorDetails]) -> list[tuple[str, str, str]]:
    """The problems as reported: a misspelt required key is one problem."""
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    out: list[tuple[str, str, str]] = []
    covered: set[Loc] = set()
    for err in errors:
        loc = tuple(err["loc"])
        close = _misspelt_required(loc, missing) if err["type"] == "extra_forbidden" else None
        if close is not None:
            covered.add((*loc[:-1], close))
    for err in errors:
        loc = tuple(err["loc"])
        if loc in covered:
            continue
        code, message = _message(err)
        out.append((_path(loc), code, message))
    return list(dict.fromkeys(out))


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _at(data: Any, loc: Loc) -> Any:
    for part in loc:
        data = data[part]
    return data


def _exists(data: Any, loc: Loc) -> bool:
    try:
        _at(data, loc)
    except (KeyError, IndexError, TypeError):
        return False
    return True


def _set_aside(data: Any, loc: Loc, err: ErrorDetails, repairs: Repairs) -> bool:
    """Leave out the smallest part holding the error; False if that is the whole file."""
    if "when" in loc:
        loc = loc[: loc.index("when") + 1]  # a condition goes whole: a part left would mean more
    elif err["type"] == "extra_forbidden" and _exists(data, loc):
        del _at(data, loc[:-1])[loc[-1]]
        repairs.dropped.append(loc)
        return True
    for cut in range(len(loc), 0, -1):
        here, last = loc[:cut], loc[cut - 1]
        if not _exists(data, here[:-1]):
            continue
        parent = _at(data, here[:-1])
        if isinstance(last, int) and isinstance(parent, list) and model_at(here) is not None:
            if parent[last] is not _GONE:
                _gone_ids(parent[last], repairs.gone_ids)
                parent[last] = _GONE
                repairs.removed.append(here)
            return True
        if isinstance(last, str) and isinstance(parent, dict):
            model = model_at(here[:-1])
            info = _field_info(model, last) if model is not None else None
            if info is not None and not info[0]:
                if last in parent:
                    del parent[last]
                    repairs.dropped.append(here)
                return True
    return False


def _gone_ids(item: Any, out: set[str]) -> None:
    if isinstance(item, dict):
        if isinstance(item.get("id"), str):
            out.add(item["id"])
        for value in item.values():
            _gone_ids(value, out)
    elif isinstance(item, list):
        for value in item:
            _gone_ids(value, out)


def _sweep(data: Any) -> None:
    if isinstance(data, dict):
        for value in data.values():
            _sweep(value)
    elif isinstance(data, list):
        data[:] = [v for v in data if v is not _GONE]
        for value in data:
            _sweep(value)
