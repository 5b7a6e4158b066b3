"""Load program definition files and check them before any user sees them.

Like pyxform, every problem becomes a coded error that names the file, the
field path inside it and what is wrong, so that whoever wrote the file can fix
it without reading Python.  All problems of a file are reported at once.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from dialogs.qtypes import QuestionType, registry
from dialogs.reach import unreachable
from dialogs.reference import COMMON_KEYS
from dialogs.repair import Repairs, did_you_mean, validate
from dialogs.schema import Check, Condition, Program, Question
from dialogs.suggest import builtin, compatible, recallable, template_refs

BUILTIN_DIR = Path(__file__).parent / "programs"
SUFFIXES = (".yaml", ".yml", ".toml")


@dataclass(frozen=True)
class DefinitionProblem:
    """One problem in a definition file."""

    file: str
    field: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: [{self.code}] {self.message}"


class DefinitionError(Exception):
    """A definition file could not be loaded; carries every problem found."""

    def __init__(self, problems: list[DefinitionProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _loc(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(file)"


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        return tomllib.loads(text)
    return yaml.safe_load(text)


def load_program(path: Path | str) -> Program:
    """Read, validate and cross-check one definition file."""
    path = Path(path)
    name = str(path)
    if path.suffix not in SUFFIXES:
        raise DefinitionError(
            [DefinitionProblem(name, "(file)", "E001", "a definition is a .yaml or .toml file")]
        )
    try:
        raw = _read(path)
    except OSError as exc:
        raise DefinitionError(
            [DefinitionProblem(name, "(file)", "E002", f"cannot read: {exc}")]
        ) from exc
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise DefinitionError(
            [DefinitionProblem(name, "(file)", "E003", f"not valid syntax: {exc}")]
        ) from exc
    if not isinstance(raw, dict):
        raise DefinitionError(
            [DefinitionProblem(name, "(file)", "E004", "the file must hold a mapping")]
        )
    found, program, repairs = validate(raw)
    problems = [DefinitionProblem(name, *problem) for problem in found]
    if program is not None:
        problems += _kept(_cross_check(program, name), repairs)
        lost = (DefinitionProblem(name, u.where, u.code, u.message) for u in unreachable(program))
        problems += _kept(lost, repairs, whole=True)
        if path.stem != program.id:
            message = f"the id '{program.id}' must match the file name '{path.stem}'"
            problems.append(DefinitionProblem(name, "id", "E020", message))
    problems = list(dict.fromkeys(problems))
    if problems:
        raise DefinitionError(problems)
    assert program is not None
    return program


def _kept(
    problems: Iterable[DefinitionProblem], repairs: Repairs, *, whole: bool = False
) -> list[DefinitionProblem]:
    """Problems of the definition as repaired that are new, at their paths as written."""
    out: list[DefinitionProblem] = []
    for problem in problems:
        path = repairs.original(problem.field, problem.message, whole=whole)
        if path is not None:
            out.append(replace(problem, field=path))
    return out


def _dupes(ids: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for i in ids:
        if i in seen and i not in out:
            out.append(i)
        seen.add(i)
    return out


def _check_question(
    q: Question, where: str, file: str, in_group: bool
) -> Iterator[DefinitionProblem]:
    """The question's type checks what only it can see; every question needs help text."""
    units = registry()
    if q.type not in units:
        known = ", ".join(sorted(units))
        close = did_you_mean(q.type, sorted(units))
        message = f"unknown question type '{q.type}' (known: {known}){close}"
        yield DefinitionProblem(file, f"{where}.type", "E010", message)
        return
    unit = units[q.type]
    for key in sorted(q.model_fields_set - set(COMMON_KEYS) - set(unit.keys) - TYPE_CHECKED):
        own = ", ".join(unit.keys) or "nothing more"
        message = (
            f"a '{q.type}' question does not read '{key}' (beyond the keys of every "
            f"question it reads: {own}){did_you_mean(key, unit.keys)}"
        )
        yield DefinitionProblem(file, f"{where}.{key}", "E122", message)
    for field, code, message in unit.check(q, in_group=in_group):
        yield DefinitionProblem(file, f"{where}.{field}", code, message)
    for field, code, message in _field_fits_type(q, unit.numeric):
        yield DefinitionProblem(file, f"{where}.{field}", code, message)
    for i, f in enumerate(q.fields or []):
        yield from _check_question(f, f"{where}.fields[{i}]", file, True)
    if not in_group and not q.help and unit.asked:
        yield DefinitionProblem(
            file,
            f"{where}.help",
            "E043",
            "every question needs a help text quoting its seed clause",
        )


DATE_TYPES = ("date", "yearmonth")
TYPE_CHECKED = frozenset({"options", "fields", "of", "kinds", "plausible", "past"})
"""Keys a question of the wrong type already has its own problem code for."""


def _field_fits_type(q: Question, numeric: bool) -> Iterator[tuple[str, str, str]]:
    """Fields that only some types read: set elsewhere, they would silently do nothing."""
    if q.plausible is not None and not numeric:
        yield "plausible", "E082", f"only a number has a plausible range, not a '{q.type}'"
    if q.past and q.type not in DATE_TYPES:
        yield "past", "E083", f"only a date or a year-month can be 'past', not a '{q.type}'"
    seen: dict[str, str] = {}
    for option in q.options or []:
        for word in [option.label, option.id, *option.synonyms]:
            owner = seen.setdefault(word, option.id)
            if owner != option.id:
                message = f"'{word}' names both option '{owner}' and option '{option.id}'"
                yield "options", "E085", message


def _check_totals(p: Program, file: str, known: dict[str, Question]) -> Iterator[DefinitionProblem]:
    """Each number of a total rule is a numeric question of the form (not in a table)."""
    for ti, rule in enumerate(p.totals):
        where = f"totals[{ti}]"
        for name, qid in [
            ("total", rule.total),
            *((f"parts[{i}]", x) for i, x in enumerate(rule.parts)),
        ]:
            q = known.get(qid)
            if q is None or not _is(q, "numeric"):
                message = f"'{qid}' is not a number question of this program"
                yield DefinitionProblem(file, f"{where}.{name}", "E084", message)
        if rule.total in rule.parts or len(set(rule.parts)) != len(rule.parts):
            message = "the parts are different questions, and the total is not one of them"
            yield DefinitionProblem(file, f"{where}.parts", "E086", message)


def _is(q: Question, flag: str) -> bool:
    unit = registry().get(q.type)
    return unit is not None and bool(getattr(unit, flag))


def _check_condition(
    cond: Condition,
    where: str,
    file: str,
    known: dict[str, Question],
    every: frozenset[str] = frozenset(),
) -> Iterator[DefinitionProblem]:
    """A condition tests earlier answers with operators that fit them (``every``: the
    ids of all questions, to tell a later question from a misspelt one)."""
    for ref in sorted(cond.fields()):
        if ref not in known:
            message = f"condition refers to '{ref}', which is not an earlier question"
            if ref in every:
                message += ": it is asked later, and a condition tests answers already given"
            else:
                message += did_you_mean(ref, list(known))
            yield DefinitionProblem(file, where, "E050", message)
    if cond.field is not None and cond.field in known and known[cond.field].type in registry():
        q = known[cond.field]
        for op in cond.operators():
            for code, message in _operator_problems(cond, op, q):
                yield DefinitionProblem(file, where, code, message)
    subs = [
        *((f"{where}.all[{i}]", sub) for i, sub in enumerate(cond.all or [])),
        *((f"{where}.any[{i}]", sub) for i, sub in enumerate(cond.any or [])),
        *([(f"{where}.not", cond.not_)] if cond.not_ is not None else []),
    ]
    for sub_where, sub in subs:
        yield from _check_condition(sub, sub_where, file, known, every)


def _operator_problems(cond: Condition, op: str, q: Question) -> Iterator[tuple[str, str]]:
    """Whether operator ``op`` can test question ``q`` at all."""
    if op in ("lt", "lte", "gt", "gte") and not _is(q, "numeric"):
        yield "E051", f"'{op}' needs a number, but '{q.id}' is a '{q.type}'"
    if op in ("rows_lt", "rows_gte") and not (_is(q, "repeats") or _is(q, "upload")):
        yield "E052", f"'{op}' counts rows or files, but '{q.id}' is a '{q.type}'"
    if op in ("eq", "ne", "in_", "not_in") and q.options:
        values = cond.in_ or cond.not_in or [cond.eq if op == "eq" else cond.ne]
        ids = [o.id for o in q.options]
        for v in values:
            if v not in ids:
                yield "E053", _not_an_option(v, q)


def _not_an_option(value: Any, q: Question) -> str:
    """Conditions compare stored values, which are option ids: say so when a label was used."""
    for option in q.options or []:
        if option.label == value:
            return f"'{value}' is the label of option '{option.id}' of '{q.id}': use its id"
    return f"'{value}' is not an option id of '{q.id}'"


def _check_fix(
    check: Check, where: str, file: str, known: dict[str, Question]
) -> Iterator[DefinitionProblem]:
    """A rule says which answer to change: a question of the form (a blocking rule's
    refusal opens it for editing)."""
    target = check.fix_field
    if check.fix is not None and check.fix not in known:
        message = f"'{check.fix}' is not a question of this program"
        yield DefinitionProblem(file, f"{where}.fix", "E100", message)
    elif check.blocks and target is None:
        message = "a blocking check needs 'fix': the question whose answer to change"
        yield DefinitionProblem(file, f"{where}.fix", "E101", message)


def _check_row_years(q: Question, where: str, file: str) -> Iterator[DefinitionProblem]:
    """``row_years`` names an integer column of its table, which holds at most a row a year."""
    if q.row_years is None:
        return
    if q.type != "group":
        message = f"row_years is for tables, and '{q.id}' is a '{q.type}'"
        yield DefinitionProblem(file, f"{where}.row_years", "E102", message)
        return
    column = next((f for f in q.fields or [] if f.id == q.row_years.field), None)
    if column is None or column.type != "integer":
        message = f"'{q.row_years.field}' is not an integer column of '{q.id}'"
        yield DefinitionProblem(file, f"{where}.row_years.field", "E103", message)
    if q.max_rows is not None and q.max_rows < q.row_years.count:
        message = f"max_rows {q.max_rows} leaves no room for {q.row_years.count} years"
        yield DefinitionProblem(file, f"{where}.row_years.count", "E104", message)


def _cross_check(p: Program, file: str) -> Iterator[DefinitionProblem]:
    for where, code, what, ids in (
        ("sections", "E060", "section id", [s.id for s in p.sections]),
        ("sections", "E061", "question id", [q.id for _, q in p.questions()]),
        ("checks", "E062", "check id", [c.id for c in p.checks]),
        ("totals", "E087", "total id", [t.id for t in p.totals]),
        ("review_chain", "E063", "level id", [r.id for r in p.review_chain]),
        ("dates", "E064", "date id", [d.id for d in p.dates]),
    ):
        for dup in _dupes(ids):
            yield DefinitionProblem(file, where, code, f"duplicate {what} '{dup}'")
    known: dict[str, Question] = {}
    every = frozenset(q.id for _, q in p.questions())
    for si, section in enumerate(p.sections):
        if section.when is not None:
            where = f"sections[{si}].when"
            yield from _check_condition(section.when, where, file, known, every)
        for qi, q in enumerate(section.questions):
            yield from _check_in_order(q, f"sections[{si}].questions[{qi}]", file, known, every)
            yield from _check_row_years(q, f"sections[{si}].questions[{qi}]", file)
            known[q.id] = q
    for ci, check in enumerate(p.checks):
        yield from _check_condition(check.when, f"checks[{ci}].when", file, known)
        yield from _check_fix(check, f"checks[{ci}]", file, known)
    yield from _check_totals(p, file, known)
    if p.studio_name is not None:
        target = known.get(p.studio_name.field)
        if target is None or target.type != "text":
            message = f"'{p.studio_name.field}' is not a text question of this program"
            yield DefinitionProblem(file, "studio_name.field", "E065", message)
    yield from _check_chain(p, file, known)


def _check_chain(p: Program, file: str, known: dict[str, Question]) -> Iterator[DefinitionProblem]:
    """Who acts at each level can be worked out: a level relative to the applicant's
    organisation needs the question that asks it, a level naming nobody needs
    the program's issuer."""
    if p.applicant_org is not None:
        target = known.get(p.applicant_org)
        if target is None or target.type != "org":
            message = f"'{p.applicant_org}' is not an org question of this program"
            yield DefinitionProblem(file, "applicant_org", "E067", message)
    for li, level in enumerate(p.review_chain):
        where = f"review_chain[{li}]"
        if level.acts is None and p.issuer is None:
            message = f"level '{level.id}' names nobody: give 'acts' or the program's 'issuer'"
            yield DefinitionProblem(file, f"{where}.acts", "E068", message)
        whos = ([("acts", level.acts)] if level.acts else []) + [
            (f"joint[{ji}]", acts) for ji, acts in enumerate(level.joint)
        ]
        for name, acts in whos:
            if acts is not None and acts.relative and p.applicant_org is None:
                message = (
                    f"level '{level.id}' acts relative to the applicant's organisation, "
                    "but the program has no 'applicant_org' question"
                )
                yield DefinitionProblem(file, f"{where}.{name}", "E069", message)


def _check_in_order(
    q: Question, where: str, file: str, known: dict[str, Question], every: frozenset[str]
) -> Iterator[DefinitionProblem]:
    """A question, and what it refers to among the questions before it (``known``)."""
    yield from _check_question(q, where, file, False)
    if q.when is not None:
        yield from _check_condition(q.when, f"{where}.when", file, known, every)
    yield from _check_templates(q, where, file, known)
    for fi, column in enumerate(q.fields or []):
        yield from _check_templates(column, f"{where}.fields[{fi}]", file, known)
    yield from _check_first_row(q, where, file, known)
    if q.same_as is not None and not recallable(q):
        message = f"a '{q.type}' answer is not offered again: it takes no 'same_as'"
        yield DefinitionProblem(file, f"{where}.same_as", "E094", message)


def _check_templates(
    q: Question, where: str, file: str, known: dict[str, Question]
) -> Iterator[DefinitionProblem]:
    """Each slot of a suggestion is a built-in one or an earlier answer (``{x.name}``:
    the name of an earlier org answer); a question offering any is answered by typing
    (a suggestion is parsed as typed text)."""
    unit = registry().get(q.type)
    if q.suggest and unit is not None and type(unit).parse is QuestionType.parse:
        message = f"a '{q.type}' question is not answered by typing: it takes no 'suggest'"
        yield DefinitionProblem(file, f"{where}.suggest", "E095", message)
    for ti, template in enumerate(q.suggest or []):
        for ref in template_refs(template):
            name, dot, key = ref.partition(".")
            if builtin(ref):
                continue
            if name not in known:
                message = f"suggestion refers to '{ref}', which is not an earlier question"
                yield DefinitionProblem(file, f"{where}.suggest[{ti}]", "E054", message)
            elif dot and (known[name].type != "org" or key not in ("name", "code")):
                message = f"'{ref}': only an org answer has parts (.name, .code)"
                yield DefinitionProblem(file, f"{where}.suggest[{ti}]", "E090", message)
            elif not dot and known[name].type == "org":
                message = f"'{ref}' is an organisation: write '{{{name}.name}}'"
                yield DefinitionProblem(file, f"{where}.suggest[{ti}]", "E090", message)


def _check_first_row(
    q: Question, where: str, file: str, known: dict[str, Question]
) -> Iterator[DefinitionProblem]:
    """``first_row_from`` belongs to a group and maps its columns to earlier questions
    whose answers fit them."""
    if q.first_row_from is None:
        return
    if not _is(q, "repeats"):
        message = "only a group takes 'first_row_from'"
        yield DefinitionProblem(file, f"{where}.first_row_from", "E091", message)
        return
    columns = {f.id: f for f in q.fields or []}
    for column_id, source_id in q.first_row_from.items():
        at = f"{where}.first_row_from.{column_id}"
        column, source = columns.get(column_id), known.get(source_id)
        if column is None:
            message = f"'{column_id}' is not a column of '{q.id}'"
            yield DefinitionProblem(file, at, "E092", message)
        elif source is None:
            message = f"'{source_id}' is not an earlier question"
            yield DefinitionProblem(file, at, "E092", message)
        else:
            why = compatible(source, column)
            if why is not None:
                yield DefinitionProblem(file, at, "E093", why)


@dataclass(frozen=True)
class Broken:
    """A definition file left out of the registry, with every problem it has."""

    file: str
    problems: tuple[DefinitionProblem, ...]

    @property
    def first(self) -> DefinitionProblem:
        return self.problems[0]


@dataclass(frozen=True)
class ProgramRegistry:
    """The programs served, in a stable order (by seed document, then id), and the
    definition files that were left out because they do not load."""

    programs: dict[str, Program]
    broken: tuple[Broken, ...] = ()
    sources: dict[str, Path] = dataclasses.field(default_factory=dict)
    """Each program's definition file (its printed form's template lies beside it)."""

    def get(self, program_id: str) -> Program | None:
        return self.programs.get(program_id)

    def __iter__(self) -> Iterator[Program]:
        return iter(sorted(self.programs.values(), key=lambda p: (p.seed, p.id)))

    def __len__(self) -> int:
        return len(self.programs)


def definition_files(directory: Path) -> list[Path]:
    """The definition files of a folder, sorted by name."""
    return sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file())


def load_registry(*directories: Path) -> ProgramRegistry:
    """Load every definition of the built-in folder and of any extra folders.

    A file that fails to load is left out with all its problems (``broken``) and
    the others serve: one union's mistake must not take every program down.  A
    half-checked form is never served.  A second file with an id already loaded
    is left out too (the first keeps its drafts' program).
    """
    dirs = directories or (BUILTIN_DIR,)
    programs: dict[str, Program] = {}
    sources: dict[str, Path] = {}
    broken: list[Broken] = []
    for directory in dirs:
        for path in definition_files(directory):
            try:
                program = load_program(path)
            except DefinitionError as exc:
                broken.append(Broken(str(path), tuple(exc.problems)))
                continue
            if program.id in programs:
                message = f"program id '{program.id}' is used twice"
                broken.append(
                    Broken(str(path), (DefinitionProblem(str(path), "id", "E066", message),))
                )
                continue
            programs[program.id] = program
            sources[program.id] = path
    return ProgramRegistry(programs, tuple(broken), sources)
