"""Reading and checking an organisation file before anything is stored.

A union sends its tree as a YAML list of entries ``{code, name, kind, parent}``
(``parent`` is the parent's code, absent for a root).  Whoever maintains the
file fixes it from the messages, so every problem is reported at once, each
naming the file, the entry's position (counted from 0, as in program
definitions) and its code: ``orgs.yaml: entries[3] (code dl-xg): unknown
parent 'dl-x'``.  Nothing is written unless the whole file is sound, so a
half-imported tree never exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from storage.models import OrganisationKind

FIELDS = ("code", "name", "kind", "parent")
CODE_CHARS = 64
NAME_CHARS = 255
"""The lengths of the ``organisations`` columns."""

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
KINDS = tuple(k.value for k in OrganisationKind)


@dataclass(frozen=True)
class OrgEntry:
    """One checked entry of the file."""

    position: int
    code: str
    name: str
    kind: OrganisationKind
    parent: str | None


@dataclass(frozen=True)
class OrgProblem:
    """One thing wrong with the file; ``position`` None means the file as a whole."""

    file: str
    position: int | None
    code: str | None
    message: str

    def __str__(self) -> str:
        where = "(file)" if self.position is None else f"entries[{self.position}]"
        if self.code:
            where += f" (code {self.code})"
        return f"{self.file}: {where}: {self.message}"


class OrgFileError(Exception):
    """The file was refused; carries every problem found, in file order."""

    def __init__(self, problems: list[OrgProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def read_org_file(path: Path) -> list[Any]:
    """The raw entries of a file; :class:`OrgFileError` if it cannot be read as a list."""
    name = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise OrgFileError([OrgProblem(name, None, None, f"cannot read: {exc}")]) from exc
    except yaml.YAMLError as exc:
        raise OrgFileError([OrgProblem(name, None, None, f"not valid YAML: {exc}")]) from exc
    if not isinstance(data, list):
        message = "the file must hold a list of entries {code, name, kind, parent}"
        raise OrgFileError([OrgProblem(name, None, None, message)])
    return data


def load_org_file(path: Path, *, stored: Mapping[str, str | None] | None = None) -> list[OrgEntry]:
    """Read and check a file (see :func:`check_entries`)."""
    return check_entries(read_org_file(path), file=str(path), stored=stored)


def check_entries(
    raw: list[Any], *, file: str, stored: Mapping[str, str | None] | None = None
) -> list[OrgEntry]:
    """The entries of a file, checked; :class:`OrgFileError` with every problem.

    ``stored`` maps the codes already in the database to their parents' codes:
    a parent may be an organisation imported earlier (a district sends only its
    own grassroots unions), and a cycle may close through stored rows.
    """
    stored = stored or {}
    problems: list[OrgProblem] = []
    entries: list[OrgEntry] = []
    for position, item in enumerate(raw):
        found = list(_entry_problems(item, position, file))
        if found:
            problems += found
        else:
            entries.append(_entry(item, position))
    problems += _duplicates(entries, file)
    problems += _unknown_parents(entries, file, stored)
    problems += _cycles(entries, file, stored)
    if problems:
        problems.sort(key=lambda p: -1 if p.position is None else p.position)
        raise OrgFileError(problems)
    return entries


def _entry(item: dict[str, Any], position: int) -> OrgEntry:
    parent = item.get("parent")
    return OrgEntry(
        position=position,
        code=item["code"].strip(),
        name=item["name"].strip(),
        kind=OrganisationKind(item["kind"].strip()),
        parent=parent.strip() if parent is not None else None,
    )


def _entry_problems(item: Any, position: int, file: str) -> Iterator[OrgProblem]:
    if not isinstance(item, dict):
        message = "an entry is a mapping of code, name, kind and (except for a root) parent"
        yield OrgProblem(file, position, None, message)
        return
    raw_code = item.get("code")
    code = raw_code.strip() if isinstance(raw_code, str) else None

    def problem(message: str) -> OrgProblem:
        return OrgProblem(file, position, code or None, message)

    for key in item:
        if key not in FIELDS:
            yield problem(f"unknown field '{key}' (known: {', '.join(FIELDS)})")
    for field in FIELDS:
        wrong = _text_problem(item, field)
        if wrong:
            yield problem(wrong)
    if code and not (len(code) <= CODE_CHARS and CODE_RE.match(code)):
        yield problem(f"code '{code}': use letters, digits, '.', '_' and '-', at most {CODE_CHARS}")
    kind = item.get("kind")
    if isinstance(kind, str) and kind.strip() and kind.strip() not in KINDS:
        yield problem(f"unknown kind '{kind.strip()}' (known: {', '.join(KINDS)})")
    name = item.get("name")
    if isinstance(name, str) and len(name.strip()) > NAME_CHARS:
        yield problem(f"name longer than {NAME_CHARS} characters")


def _text_problem(item: dict[str, Any], field: str) -> str | None:
    """What is wrong with one field's value, if anything (``parent`` may be absent)."""
    if field not in item or item[field] is None:
        return None if field == "parent" else f"missing field '{field}'"
    value = item[field]
    if not isinstance(value, str):
        return f"field '{field}' must be text (write {value!r} in quotes)"
    if not value.strip():
        hint = " (leave it out for a root)" if field == "parent" else ""
        return f"empty field '{field}'{hint}"
    if _CONTROL.search(value):
        return f"field '{field}' holds control characters"
    return None


def _duplicates(entries: list[OrgEntry], file: str) -> Iterator[OrgProblem]:
    first: dict[str, int] = {}
    for entry in entries:
        if entry.code in first:
            message = f"duplicate code, first at entries[{first[entry.code]}]"
            yield OrgProblem(file, entry.position, entry.code, message)
        else:
            first[entry.code] = entry.position


def _unknown_parents(
    entries: list[OrgEntry], file: str, stored: Mapping[str, str | None]
) -> Iterator[OrgProblem]:
    codes = {e.code for e in entries}
    for entry in entries:
        if entry.parent is not None and entry.parent not in codes and entry.parent not in stored:
            message = f"unknown parent '{entry.parent}'"
            yield OrgProblem(file, entry.position, entry.code, message)


def _cycles(
    entries: list[OrgEntry], file: str, stored: Mapping[str, str | None]
) -> Iterator[OrgProblem]:
    """Each cycle once, at the first entry of the file on it: ``a → b → a``."""
    parents = {**stored, **{e.code: e.parent for e in entries}}
    first_position: dict[str, int] = {}
    for entry in entries:
        first_position.setdefault(entry.code, entry.position)
    settled: set[str] = set()
    for entry in entries:
        cycle = _cycle_from(entry.code, parents, settled)
        if not cycle:
            continue
        start = min((c for c in cycle if c in first_position), key=first_position.__getitem__)
        turn = cycle.index(start)
        ordered = [*cycle[turn:], *cycle[:turn], start]
        message = "cycle: " + " → ".join(ordered)
        yield OrgProblem(file, first_position[start], start, message)


def _cycle_from(code: str, parents: Mapping[str, str | None], settled: set[str]) -> list[str]:
    """The cycle reached by walking up from ``code`` (empty if the walk ends at a root
    or at a code already walked); every code walked is then settled."""
    path: list[str] = []
    seen: dict[str, int] = {}
    node: str | None = code
    cycle: list[str] = []
    while node is not None and node not in settled:
        if node in seen:
            cycle = path[seen[node] :]
            break
        seen[node] = len(path)
        path.append(node)
        node = parents.get(node)
    settled.update(path)
    return cycle
