"""Typed model of a program definition (one YAML file per program).

A definition is data written by union staff, not code: every model here
forbids unknown keys so that a typo in a file is an error at load time, never
a question silently missing from a declaration.  Cross-field checks (unique
ids, references, conditions) live in :mod:`dialogs.loader`, which reports
them with the file and the field path.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ID_PATTERN = r"^[a-z][a-z0-9_]*$"
PROGRAM_ID_PATTERN = r"^[a-z][a-z0-9-]{1,23}$"


class Strict(BaseModel):
    """Base for definition models: unknown keys are refused, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class QType(StrEnum):
    """The names of the built-in question types (``dialogs/qtypes/``); a definition
    may use any registered type, these are only constants for code and tests."""

    TEXT = "text"
    LONGTEXT = "longtext"
    INTEGER = "integer"
    NUMBER = "number"
    MONEY = "money"
    YEARMONTH = "yearmonth"
    DATE = "date"
    PHONE = "phone"
    CHOICE = "choice"
    MULTICHOICE = "multichoice"
    YESNO = "yesno"
    GROUP = "group"
    PHOTO = "photo"
    FILE = "file"
    SUM = "sum"
    ORG = "org"


OrgKind = Literal[
    "city",
    "district",
    "industry",
    "zone",
    "federation",
    "grassroots",
    "unit",
    "department",
    "commission",
]
"""Kinds of organisation a definition may name (``storage.models.OrganisationKind``)."""

ORG_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


OPTION_ID_PATTERN = r"^\S(?:.{0,62}\S)?$"


class Option(Strict):
    """One option of a choice: ``id`` is what is stored and what buttons carry, so a
    label may be reworded without touching answers already given."""

    id: Annotated[str, Field(pattern=OPTION_ID_PATTERN)]
    label: Annotated[str, Field(min_length=1)]
    synonyms: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    """Other words people type for this option (大专 for 大学专科, 党员 for 中共党员);
    a typed synonym picks the option, the buttons show the label only."""


def _options(value: Any) -> Any:
    """Options as written: ``{male: 男, female: 女}`` (id: label, in order), an id
    mapped to ``{label, synonyms}``, a list of ``{id, label}``, or bare labels, each
    then its own id."""
    if isinstance(value, dict):
        return [
            {"id": str(k), **v} if isinstance(v, dict) else {"id": str(k), "label": v}
            for k, v in value.items()
        ]
    if isinstance(value, list):
        return [{"id": v, "label": v} if isinstance(v, str) else v for v in value]
    return value


class Condition(Strict):
    """One test on the answers, or a combination of tests.

    Exactly one form is used per condition:

    * a test on a field: ``{field: x, eq: 1}`` with one operator among
      ``eq ne in not_in lt lte gt gte matches not_matches answered rows_lt rows_gte``;
    * a combination: ``{all: [...]}``, ``{any: [...]}`` or ``{not: {...}}``.

    ``matches`` is a regular expression in which ``{other_field}`` is replaced by
    that field's answer (escaped), so a name can be checked against the leader's.
    """

    field: str | None = None
    eq: Any = None
    ne: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    lt: Decimal | None = None
    lte: Decimal | None = None
    gt: Decimal | None = None
    gte: Decimal | None = None
    matches: str | None = None
    not_matches: str | None = None
    answered: bool | None = None
    rows_lt: int | None = None
    rows_gte: int | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True
    )

    OPERATORS: ClassVar[tuple[str, ...]] = (
        "eq",
        "ne",
        "in_",
        "not_in",
        "lt",
        "lte",
        "gt",
        "gte",
        "matches",
        "not_matches",
        "answered",
        "rows_lt",
        "rows_gte",
    )

    def operators(self) -> list[str]:
        """Names of the field operators this condition sets."""
        return [op for op in self.OPERATORS if op in self.model_fields_set]

    def first_field(self) -> str | None:
        """The first question this condition tests (depth first)."""
        if self.field is not None:
            return self.field
        for sub in [*(self.all or []), *(self.any or []), *([self.not_] if self.not_ else [])]:
            found = sub.first_field()
            if found is not None:
                return found
        return None

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        combos = [k for k in ("all", "any", "not_") if getattr(self, k) is not None]
        ops = self.operators()
        if combos:
            if self.field is not None or ops or len(combos) > 1:
                raise ValueError("use exactly one of all/any/not, without field operators")
            return self
        if self.field is None:
            raise ValueError("a condition needs 'field' with one operator, or all/any/not")
        if len(ops) != 1:
            raise ValueError(
                f"condition on '{self.field}' needs exactly one operator, got {len(ops)}"
            )
        for key in ("matches", "not_matches"):
            pattern = getattr(self, key)
            if pattern is not None:
                try:
                    re.compile(re.sub(r"\{[a-z][a-z0-9_]*\}", "x", pattern))
                except re.error as exc:
                    raise ValueError(f"bad regular expression in '{key}': {exc}") from exc
        return self

    def fields(self) -> set[str]:
        """Every field id this condition reads, including ``{ref}`` inside patterns."""
        out: set[str] = set()
        if self.field is not None:
            out.add(self.field)
        for pattern in (self.matches, self.not_matches):
            if pattern:
                out.update(re.findall(r"\{([a-z][a-z0-9_]*)\}", pattern))
        for sub in (self.all or []) + (self.any or []):
            out |= sub.fields()
        if self.not_ is not None:
            out |= self.not_.fields()
        return out


class RowYears(Strict):
    """A table of one row per year: ``count`` years before the declaration's year, in
    the integer column ``field``.  「近两年」 is those two years, each once, not any two."""

    field: Annotated[str, Field(pattern=ID_PATTERN)]
    count: int = Field(ge=1, le=10)


class Question(Strict):
    """One question of the form, or one column of a repeating group."""

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    label: Annotated[str, Field(min_length=1)]
    type: Annotated[str, Field(min_length=1)]
    help: str | None = None
    required: bool = True
    when: Condition | None = None
    example: str | None = None
    # text / longtext
    min_chars: int | None = Field(default=None, ge=0)
    max_chars: int | None = Field(default=None, ge=1)
    # integer / number / money
    min: Decimal | None = None
    max: Decimal | None = None
    unit: str | None = None
    plausible: tuple[Decimal, Decimal] | None = None
    """The range most answers fall in (``[0, 500]``): a bare number outside it is asked
    about once instead of stored (``50000`` for an amount in 万元: 5 万元 or 50000 万元?).
    Default per type (money in 万元: ``[0, 1000]``)."""
    # date
    past: bool = False
    """A date that has happened: today or earlier (填报日期, 创建日期, 命名日期)."""
    # choice / multichoice
    options: list[Option] | None = None
    # group
    fields: list[Question] | None = None
    min_rows: int | None = Field(default=None, ge=0)
    max_rows: int | None = Field(default=None, ge=1)
    # photo / file
    min_files: int | None = Field(default=None, ge=0)
    max_files: int | None = Field(default=None, ge=1)
    max_size_mb: Decimal | None = Field(default=None, gt=0)
    accept: list[str] | None = None
    # sum: computed from sibling numeric fields, never asked
    of: list[str] | None = None
    # org: the kinds of organisation the applicant may pick (grassroots union, unit)
    kinds: list[OrgKind] | None = None
    # answer suggestions shown as buttons (``dialogs.suggest``): "{field}" is an earlier
    # answer, "{field.name}" the name of an org answer, "{today}" today's date as the
    # question's type writes it, "{year}" / "{year-1}" / "{year-2}" this year and the
    # years before it
    suggest: list[str] | None = None
    # group: one row for each of the years before the declaration's year (CCCC's
    # 「近两年」 tables: declaring in 2026, the rows are 2024 and 2025)
    row_years: RowYears | None = None
    # group: the columns of the first row that the leader's own earlier answers fill
    # with one button (column id: earlier top-level question id)
    first_row_from: dict[str, str] | None = None
    # the same question in other programs (a key shared by their definitions), so that
    # a leader declaring again is offered the earlier declaration's answer
    same_as: Annotated[str, Field(pattern=ID_PATTERN)] | None = None

    @field_validator("options", mode="before")
    @classmethod
    def _option_forms(cls, value: Any) -> Any:
        return _options(value)

    def option(self, option_id: Any) -> Option | None:
        """The option stored as ``option_id`` (None if the definition no longer has it)."""
        for option in self.options or []:
            if option.id == option_id:
                return option
        return None


class Total(Strict):
    """Numbers that add up to another: the parts of a total as the form breaks it
    down (CCCC's 培养人才: the technical grades of the people trained, of 总数).

    ``equal``: the parts together are the total; ``at_most``: they never exceed
    it (not everyone trained got an honour).  Checked before submission, with
    the numbers named.
    """

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    parts: Annotated[list[str], Field(min_length=2)]
    total: str
    relation: Literal["equal", "at_most"] = "equal"
    what: Annotated[str, Field(min_length=1)]
    """The parts as the form names them together (「技术等级」各项)."""
    cite: Annotated[str, Field(min_length=1)]


class Section(Strict):
    """A titled part of the form; the preview is grouped and edited by section
    (its id travels in the edit button, hence at most 24 characters)."""

    id: Annotated[str, Field(pattern=ID_PATTERN, max_length=24)]
    title: Annotated[str, Field(min_length=1)]
    help: str | None = None
    when: Condition | None = None
    questions: Annotated[list[Question], Field(min_length=1)]


class Check(Strict):
    """An eligibility rule, raised before submission when ``when`` holds.

    Where the seed forbids (「往年已命名的工作室不再重复申报」, a team of at least
    three) the rule ``blocks``: the declaration stays a draft until the answer
    ``fix`` names is changed.  Where it only advises (「一般不少于20平方米」,
    「30人左右」) it is a warning shown with its clause, and submission goes on.
    ``fix`` defaults to the first question the condition tests.
    """

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    when: Condition
    message: Annotated[str, Field(min_length=1)]
    cite: Annotated[str, Field(min_length=1)]
    blocks: bool = False
    fix: str | None = None

    @property
    def fix_field(self) -> str | None:
        """The question whose answer to change to lift the rule."""
        return self.fix if self.fix is not None else self.when.first_field()


class Acts(Strict):
    """Who acts for a level, relative to the applicant's organisation: exactly one of

    * ``nearest``: the applicant's organisation itself, or its nearest ancestor,
      of one of these kinds (``[unit]``, ``[grassroots]``, ``[district, industry]``);
    * ``body``: the body of the applicant's unit with this name (技术部门, 党委, 党政),
      an organisation of kind ``department`` under the unit;
    * ``org``: a fixed organisation, by its code in the organisation file.
    """

    nearest: Annotated[list[OrgKind], Field(min_length=1)] | None = None
    body: Annotated[str, Field(min_length=1)] | None = None
    org: Annotated[str, Field(pattern=ORG_CODE_PATTERN)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Acts:
        given = [k for k in ("nearest", "body", "org") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("say who acts with exactly one of nearest, body or org")
        return self

    @property
    def relative(self) -> bool:
        """Whether this depends on the applicant's organisation."""
        return self.org is None


class ReviewLevel(Strict):
    """One level of the review chain: who writes which opinion box.

    ``acts`` says which organisation's staff decide (the program's ``issuer``
    when left out); ``joint`` adds organisations that decide the level together
    with it (each must agree: Beijing's 市总工会 with the 市科委); a ``panel``
    level is decided by its organisation's reviewers each giving an opinion and
    an administrator (the convener) closing it with the panel's result.
    ``label_printed`` is False where the seed prints no form and the label is
    worded from its text.
    """

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    reviewer: Annotated[str, Field(min_length=1)]
    opinion_label: Annotated[str, Field(min_length=1)]
    label_printed: bool = True
    stamp: bool = True
    signature: bool = False
    action: Annotated[str, Field(min_length=1)]
    acts: Acts | None = None
    joint: list[Acts] = Field(default_factory=list)
    panel: bool = False
    suggest: list[Annotated[str, Field(min_length=1)]] | None = None
    """Opinion texts offered as buttons (default: 「同意<action>」)."""
    max_days: int = Field(default=14, ge=1, le=365)
    """Days a declaration may wait at this level before its reviewers are nudged (催办)."""
    cite: str | None = None

    @model_validator(mode="after")
    def _panel_alone(self) -> ReviewLevel:
        if self.panel and self.joint:
            raise ValueError("a level is a panel or joint, not both")
        return self


class Naming(Strict):
    """How the final approval names the studio, in the seed's words."""

    by: Annotated[str, Field(min_length=1)]
    """Who decides the naming (市总主席办公会或常委会, 区总工会主席办公会议)."""
    plaque: str | None = None
    """How the plaque is handed over (集中命名授牌), if the seed says."""
    cite: Annotated[str, Field(min_length=1)]


class DateKind(StrEnum):
    """How a program date recurs."""

    YEARLY = "yearly"
    ONCE = "once"
    WINDOW = "window"
    QUARTERLY = "quarterly"
    EVERY_YEARS = "every_years"


class DateRule(Strict):
    """A date or a recurring date of a program, from the seed's own words.

    * ``yearly``: ``month`` and ``day`` every year (``day: 31`` for "end of July");
    * ``once``: a single ``date``;
    * ``window``: from ``month``/``day`` to ``end_month``/``end_day`` every year;
    * ``quarterly``: the last day of each quarter;
    * ``every_years``: every ``years`` years after the studio's event ``after``
      (``named``: the day the last level approved it).

    ``carried_out`` marks work done around the date (「一般于每年年底开展」) rather
    than due on it: people are reminded ahead of the season, not of a deadline.
    ``only: named`` limits a studio's duty to studios that were named (Beijing's
    quarterly summaries concern 「命名的30家」 only).
    """

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    kind: DateKind
    what: Annotated[str, Field(min_length=1)]
    audience: Literal["applicant", "reviewer", "studio"]
    cite: Annotated[str, Field(min_length=1)]
    month: int | None = Field(default=None, ge=1, le=12)
    day: int | None = Field(default=None, ge=1, le=31)
    end_month: int | None = Field(default=None, ge=1, le=12)
    end_day: int | None = Field(default=None, ge=1, le=31)
    date: dt.date | None = None
    years: int | None = Field(default=None, ge=1)
    after: Literal["named"] | None = None
    carried_out: bool = False
    only: Literal["named"] | None = None

    @model_validator(mode="after")
    def _shape(self) -> DateRule:
        need: dict[DateKind, tuple[str, ...]] = {
            DateKind.YEARLY: ("month", "day"),
            DateKind.ONCE: ("date",),
            DateKind.WINDOW: ("month", "day", "end_month", "end_day"),
            DateKind.QUARTERLY: (),
            DateKind.EVERY_YEARS: ("years",),
        }
        wanted = need[self.kind]
        given = {
            k
            for k in ("month", "day", "end_month", "end_day", "date", "years")
            if getattr(self, k) is not None
        }
        missing = [k for k in wanted if k not in given]
        extra = sorted(given - set(wanted))
        if self.kind is DateKind.EVERY_YEARS and self.after is None:
            missing.append("after (the studio's event it counts from: named)")
        if self.after is not None and self.kind is not DateKind.EVERY_YEARS:
            extra.append("after")
        if self.only is not None and self.audience != "studio":
            raise ValueError("'only' picks studios: it needs audience 'studio'")
        if missing:
            raise ValueError(f"a '{self.kind}' date needs {', '.join(missing)}")
        if extra:
            raise ValueError(f"a '{self.kind}' date does not take {', '.join(extra)}")
        for month, day in ((self.month, self.day), (self.end_month, self.end_day)):
            if month is not None and day is not None:
                try:
                    dt.date(2000, month, day)  # a leap year, so 02-29 is allowed
                except ValueError as exc:
                    raise ValueError(f"no such day: {month:02d}-{day:02d}") from exc
        return self


class StudioName(Strict):
    """Where the studio's name is asked and the pattern the seed prescribes."""

    field: str
    pattern: str
    example: str
    cite: str


class Program(Strict):
    """A whole declaration program: the form, its checks, review chain and dates."""

    id: Annotated[str, Field(pattern=PROGRAM_ID_PATTERN)]
    version: int = Field(ge=1)
    seed: str
    union: Annotated[str, Field(min_length=1)]
    kind: Annotated[str, Field(min_length=1)]
    form_title: Annotated[str, Field(min_length=1)]
    notice: Annotated[str, Field(min_length=1)]
    date_style: Literal["iso", "compact"] = "iso"
    studio_name: StudioName | None = None
    issuer: Annotated[str, Field(pattern=ORG_CODE_PATTERN)] | None = None
    """The code of the issuing union (the organisation file's): its subtree is where
    applicants find their organisation, its administrators place the ones who
    find none, and levels without ``acts`` are its own."""
    applicant_org: str | None = None
    """The question (of type ``org``) where the applicant names their organisation."""
    naming: Naming | None = None
    sections: Annotated[list[Section], Field(min_length=1)]
    checks: list[Check] = Field(default_factory=list)
    totals: list[Total] = Field(default_factory=list)
    review_chain: Annotated[list[ReviewLevel], Field(min_length=1)]
    dates: list[DateRule] = Field(default_factory=list)

    @property
    def button_title(self) -> str:
        """What a program button shows: issuing union and studio kind."""
        return f"{self.union} · {self.kind}"

    def questions(self) -> list[tuple[Section, Question]]:
        """Top-level questions in form order, with their section (duplicates included,
        so that the loader can report them)."""
        return [(s, q) for s in self.sections for q in s.questions]

    def question(self, qid: str) -> Question:
        """The top-level question with this id (KeyError if none)."""
        return self._index[qid][1]

    def section_of(self, qid: str) -> Section:
        """The section holding the top-level question ``qid``."""
        return self._index[qid][0]

    @cached_property
    def _index(self) -> dict[str, tuple[Section, Question]]:
        # Every event looks questions up by id many times; a definition never
        # changes once loaded (the model is frozen), so the index is built once.
        # Duplicate ids are refused by the loader; the first one wins here.
        index: dict[str, tuple[Section, Question]] = {}
        for s in self.sections:
            for q in s.questions:
                index.setdefault(q.id, (s, q))
        return index
