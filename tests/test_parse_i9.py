"""Forgiving input and honest checks: an unusual amount asked about once, a month
where a day is asked, past-only dates, option synonyms, parts adding up to a
total, the year's deadline told at the start, and the definition fields that
carry these rules checked at load.

Behaviour only (stored answers, cursor, locale keys, buttons); wording is left
to ``test_golden_screens.py``.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from dialogs import deadlines, totals
from dialogs.answers import parse_answer
from dialogs.engine import Walker
from dialogs.i18n import Locale
from dialogs.loader import DefinitionError, load_program, load_registry
from dialogs.qtypes.base import InvalidAnswer
from dialogs.render import draw
from dialogs.schema import Program, Question
from dialogs.service import Conversation
from dialogs.ui import Action, ButtonIn, CommandIn, Outcome, UserRef
from dialogs.view import Answer
from storage.db import SessionFactory
from storage.files import FileStore
from tests.test_engine import TODAY, Run, define, params, uses

MONEY = """
sections:
  - id: funds
    title: 经费
    questions:
      - {id: funds, label: 配套资金, type: money, unit: 万元, min: 0, help: h}
      - {id: members, label: 成员人数, type: integer, unit: 人, plausible: [1, 200], help: h}
      - {id: after, label: 联系人, type: text, help: h}
"""


def readings(run: Run) -> list[tuple[Action, int, str]]:
    return [a for a in run.view.actions() if a[0] is Action.READING]


# --------------------------------------------------------------------------- money


def test_a_bare_amount_far_over_the_usual_range_is_asked_about_with_two_buttons(
    tmp_path: Path,
) -> None:
    run = Run(define(tmp_path, MONEY))
    step = run.text("50000")
    assert "funds" not in run.answers
    assert step.events == []
    assert run.at == "funds"
    assert run.cursor["s"] == {"ask": ["5", "50000"]}
    assert run.view.kind == "question"
    assert uses(run.view, "parse.reading.which")
    assert readings(run) == [(Action.READING, 0, ""), (Action.READING, 1, "")]

    step = run.press(Action.READING, 0)
    assert run.answers["funds"] == "5"
    assert step.events == [("funds", "5")]
    assert run.at == "members"
    assert "s" not in run.cursor


def test_the_other_reading_stores_the_number_as_typed(tmp_path: Path) -> None:
    run = Run(define(tmp_path, MONEY))
    run.text("50000")
    run.press(Action.READING, 1)
    assert run.answers["funds"] == "50000"
    assert run.at == "members"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("50000元", "5"), ("5万", "5"), ("5万元", "5"), ("每年20万", "20"), ("12.5", "12.5")],
)
def test_an_amount_with_its_unit_or_a_usual_one_is_taken_without_asking(
    tmp_path: Path, typed: str, stored: str
) -> None:
    run = Run(define(tmp_path, MONEY))
    run.text(typed)
    assert run.answers["funds"] == stored
    assert run.at == "members"


def test_a_reading_outside_the_bounds_is_not_offered(tmp_path: Path) -> None:
    body = MONEY.replace("min: 0, help: h}", "min: 1, help: h}", 1)
    run = Run(define(tmp_path, body))
    run.text("5000")  # 0.5 万元 is below the minimum of 1 万元
    assert run.cursor["s"] == {"ask": ["5000"]}
    assert uses(run.view, "parse.reading.sure")


def test_asked_once_what_is_typed_next_is_taken(tmp_path: Path) -> None:
    run = Run(define(tmp_path, MONEY))
    run.text("50000")
    run.text("50000")
    assert run.answers["funds"] == "50000"
    assert run.at == "members"

    run = Run(define(tmp_path, MONEY, name="again"))
    run.text("50000")
    run.text("5")
    assert run.answers["funds"] == "5"


def test_a_reading_button_is_rechecked(tmp_path: Path) -> None:
    run = Run(define(tmp_path, MONEY))
    step = run.press(Action.READING, 0)  # nothing asked yet
    assert step.toast is not None
    assert step.toast.key == "engine.not_now"
    assert "funds" not in run.answers
    run.text("50000")
    step = run.press(Action.READING, 5)
    assert step.toast is not None
    assert step.toast.key == "engine.not_now"
    assert "funds" not in run.answers
    assert run.cursor["s"] == {"ask": ["5", "50000"]}


def test_back_forgets_the_pending_question(tmp_path: Path) -> None:
    run = Run(define(tmp_path, MONEY))
    run.text("12")
    run.text("5000")  # 成员人数 outside [1, 200]
    assert run.cursor["s"] == {"ask": [5000]}
    run.press(Action.BACK)
    assert run.at == "funds"
    assert "s" not in run.cursor
    assert run.answers["funds"] == "12"


def test_a_count_outside_its_plausible_range_is_confirmed_with_one_button(tmp_path: Path) -> None:
    run = Run(define(tmp_path, MONEY))
    run.text("12")
    run.text("5000")
    assert "members" not in run.answers
    assert uses(run.view, "parse.reading.sure")
    assert readings(run) == [(Action.READING, 0, "")]
    run.press(Action.READING, 0)
    assert run.answers["members"] == 5000
    assert run.at == "after"


def test_nothing_is_zero_where_zero_is_allowed(tmp_path: Path) -> None:
    run = Run(define(tmp_path, MONEY))
    run.text("没有")
    assert run.answers["funds"] == "0"
    assert run.at == "members"
    run.text("无")  # no 成员: zero is allowed, but far outside the usual 1 to 200
    assert run.cursor["s"] == {"ask": [0]}
    run.press(Action.READING, 0)
    assert run.answers["members"] == 0


# --------------------------------------------------------------------------- dates

DATES = """
sections:
  - id: dates
    title: 日期
    questions:
      - {id: founded, label: 创建日期, type: date, past: true, help: h}
      - {id: birth, label: 出生年月, type: yearmonth, help: h}
      - {id: after, label: 联系人, type: text, help: h}
"""


def test_a_month_where_a_day_is_asked_is_its_first_day_and_said_so(tmp_path: Path) -> None:
    run = Run(define(tmp_path, DATES))
    step = run.text("2018年4月")
    assert run.answers["founded"] == "2018-04-01"
    assert run.at == "birth"
    notes = [v for v in step.views if uses(v, "parse.first_of_month")]
    assert len(notes) == 1
    # shown before the next question
    assert step.views.index(notes[0]) < len(step.views) - 1
    assert step.views[-1].kind == "question"


def test_a_full_day_says_nothing_more(tmp_path: Path) -> None:
    run = Run(define(tmp_path, DATES))
    step = run.text("2018-04-20")
    assert run.answers["founded"] == "2018-04-20"
    assert not any(uses(v, "parse.first_of_month") for v in step.views)


def test_a_past_date_in_the_future_is_refused_and_nothing_saved(tmp_path: Path) -> None:
    run = Run(define(tmp_path, DATES))
    tomorrow = (TODAY + dt.timedelta(days=1)).isoformat()
    step = run.text(tomorrow)
    assert "founded" not in run.answers
    assert step.views[0].keys() == ["validation.future_date"]
    run.text("今天")
    assert run.answers["founded"] == TODAY.isoformat()


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("85年3月", "1985-03"), ("81年3月", "1981-03"), ("85.3", "1985-03"), ("05.10", "2005-10")],
)
def test_two_digit_years_are_the_latest_such_year_in_the_past(
    tmp_path: Path, typed: str, stored: str
) -> None:
    run = Run(define(tmp_path, DATES))
    run.text("今天")
    run.text(typed)
    assert run.answers["birth"] == stored


# --------------------------------------------------------------------------- synonyms

CHOICES = """
sections:
  - id: person
    title: 个人
    questions:
      - id: education
        label: 学历
        type: choice
        help: h
        options:
          bachelor: {label: 大学本科, synonyms: [本科]}
          college: {label: 大学专科, synonyms: [大专, 专科]}
          secondary: {label: 中专/技校, synonyms: [中专, 技校]}
      - id: status
        label: 政治面貌
        type: multichoice
        help: h
        options:
          cpc_member: {label: 中共党员, synonyms: [党员]}
          cpc_probationary: 中共预备党员
          masses: 群众
"""


def test_a_synonym_typed_picks_its_option(tmp_path: Path) -> None:
    run = Run(define(tmp_path, CHOICES))
    run.text("大专")
    assert run.answers["education"] == "college"
    run.text("党员、群众")  # typed options tick; 完成 stores them
    run.press(Action.DONE)
    assert run.answers["status"] == ["cpc_member", "masses"]


def test_buttons_show_labels_not_synonyms(tmp_path: Path) -> None:
    program = define(tmp_path, CHOICES)
    run = Run(program)
    labels = [b.label for row in run.view.buttons for b in row]
    assert not any("大专" in str(label) for label in labels)
    assert program.question("education").option("college") is not None


def test_without_a_synonym_a_part_shared_by_two_options_is_refused(tmp_path: Path) -> None:
    q = define(tmp_path, CHOICES).question("status")
    with pytest.raises(InvalidAnswer):
        parse_answer(
            q.model_copy(
                update={"options": [o.model_copy(update={"synonyms": []}) for o in q.options or []]}
            ),
            "党员",
            today=TODAY,
        )


# --------------------------------------------------------------------------- totals

TOTALS = """
sections:
  - id: talent
    title: 培养人才
    questions:
      - {id: total, label: 总数, type: integer, unit: 人, help: h}
      - {id: senior, label: 高级技师, type: integer, unit: 人, help: h}
      - {id: other, label: 其他, type: integer, unit: 人, help: h}
      - {id: honour, label: 全国劳模, type: integer, unit: 人, help: h}
      - {id: honour2, label: 企业劳模, type: integer, unit: 人, help: h}
totals:
  - {id: grades, parts: [senior, other], total: total, what: 技术等级, cite: 技术等级}
  - id: honours
    parts: [honour, honour2]
    total: total
    relation: at_most
    what: 荣誉
    cite: 荣誉
"""


def walker(program: Program, answers: dict[str, int]) -> Walker:
    return Walker(program, dict(answers), {"mode": "preview"}, today=TODAY)


def test_parts_that_do_not_add_up_are_a_problem_naming_the_numbers(tmp_path: Path) -> None:
    program = define(tmp_path, TOTALS)
    w = walker(program, {"total": 8, "senior": 3, "other": 4, "honour": 1, "honour2": 1})
    [problem] = w.problems()
    assert problem.key == "parse.total.equal"
    assert problem.params["sum"] == "7"
    assert w.first_problem_section() is not None
    assert not w.submit()
    assert w.step.views[-1].kind != "done"


def test_parts_within_the_total_pass_and_at_most_allows_fewer(tmp_path: Path) -> None:
    program = define(tmp_path, TOTALS)
    w = walker(program, {"total": 8, "senior": 3, "other": 5, "honour": 1, "honour2": 0})
    assert w.problems() == []
    w = walker(program, {"total": 8, "senior": 3, "other": 5, "honour": 5, "honour2": 4})
    assert [p.key for p in w.problems()] == ["parse.total.at_most"]


def test_a_total_waits_for_all_its_numbers(tmp_path: Path) -> None:
    program = define(tmp_path, TOTALS)
    w = walker(program, {"total": 8, "senior": 3})
    assert not any(p.key.startswith("parse.total") for p in w.problems())


def test_a_total_broken_is_said_when_its_last_number_is_typed(tmp_path: Path) -> None:
    run = Run(define(tmp_path, TOTALS))
    run.text("8")
    step = run.text("3")
    assert not any(uses(v, "parse.total.equal") for v in step.views)
    step = run.text("4")  # 3 + 4 is not 8
    assert run.answers["other"] == 4  # kept: the applicant decides which number to change
    [said] = [v for v in step.views if uses(v, "parse.total.equal")]
    assert step.views.index(said) < len(step.views) - 1  # before the next question
    assert run.at == "honour"
    run.press(Action.BACK)
    step = run.text("5")
    assert not any(uses(v, "parse.total.equal") for v in step.views)


def test_cccc_talent_grades_add_up_to_the_total() -> None:
    program = load_registry().programs["cccc-model"]
    rule = next(t for t in program.totals if t.total == "talent_total")
    assert rule.relation == "equal"
    assert set(rule.parts) == {
        "grade_dual",
        "grade_senior_tech",
        "grade_tech",
        "grade_senior_worker",
        "grade_other",
    }


def test_cccc_two_years_results_make_the_two_year_cell() -> None:
    """「技术创新*」's 创新成果 is 近两年's: 前年 and 去年 asked apart must add up to it."""
    program = load_registry().programs["cccc-model"]
    shown = {"results_prev2", "results_prev1", "innov_results"}
    answers = {"results_prev2": 1, "results_prev1": 2, "innov_results": 5}
    assert [r.id for r in totals.broken(program, answers, shown)] == ["results_by_year"]
    answers["innov_results"] = 3
    assert list(totals.broken(program, answers, shown)) == []


# --------------------------------------------------------------------------- loader

HEADER = """\
id: t-prog
version: 1
issuer: test-union
seed: "900"
union: 测试市总工会
kind: 职工创新工作室
form_title: 职工创新工作室申报表
notice: 测试
review_chain:
  - {id: city, reviewer: 市总工会, opinion_label: 市总工会意见, action: 审定命名}
"""


def refused(tmp_path: Path, body: str) -> str:
    path = tmp_path / "t-prog.yaml"
    path.write_text(HEADER + textwrap.dedent(body), encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        load_program(path)
    return str(info.value)


ONE = """
sections:
  - id: s
    title: s
    questions:
"""


@pytest.mark.parametrize(
    ("question", "where", "code"),
    [
        ("{id: a, label: a, type: text, plausible: [1, 2], help: h}", "plausible", "E082"),
        ("{id: a, label: a, type: integer, plausible: [5, 2], help: h}", "plausible", "E080"),
        (
            "{id: a, label: a, type: integer, max: 10, plausible: [1, 20], help: h}",
            "plausible",
            "E081",
        ),
        ("{id: a, label: a, type: integer, past: true, help: h}", "past", "E083"),
        (
            "{id: a, label: a, type: choice, help: h,"
            " options: {x: {label: 甲, synonyms: [乙]}, y: 乙}}",
            "options",
            "E085",
        ),
    ],
)
def test_new_question_fields_are_checked_at_load(
    tmp_path: Path, question: str, where: str, code: str
) -> None:
    message = refused(tmp_path, ONE + f"      - {question}\n")
    assert f"sections[0].questions[0].{where}: [{code}]" in message


def test_a_plausible_range_is_two_numbers(tmp_path: Path) -> None:
    message = refused(
        tmp_path, ONE + "      - {id: a, label: a, type: integer, plausible: [1], help: h}\n"
    )
    assert "sections[0].questions[0].plausible" in message
    assert "[E010]" in message


def test_totals_name_number_questions_of_the_form(tmp_path: Path) -> None:
    body = ONE + textwrap.indent(
        textwrap.dedent("""\
        - {id: n, label: n, type: integer, help: h}
        - {id: m, label: m, type: integer, help: h}
        - {id: t, label: t, type: text, help: h}
        """),
        "      ",
    )
    message = refused(
        tmp_path,
        body
        + "totals:\n  - {id: x, parts: [n, t], total: nope, what: w, cite: c}\n"
        + "  - {id: y, parts: [n, m], total: n, what: w, cite: c}\n",
    )
    assert "totals[0].total: [E084]" in message
    assert "totals[0].parts[1]: [E084]" in message
    assert "totals[1].parts: [E086]" in message


# --------------------------------------------------------------------------- real programs


def test_the_five_programs_read_what_people_write() -> None:
    programs = load_registry().programs
    for pid, program in programs.items():
        for _, q in program.questions():
            questions = [q, *(q.fields or [])]
            for f in questions:
                if f.id == "education":
                    assert parse_answer(f, "大专", today=TODAY) == "college", pid
                    assert parse_answer(f, "本科", today=TODAY) == "bachelor", pid
                    assert parse_answer(f, "中专", today=TODAY) == "secondary_vocational", pid
                if f.id == "gender":
                    assert parse_answer(f, "女性", today=TODAY) == "female", pid
                if f.type == "date":
                    assert f.past, (pid, f.id)
    politics = programs["cccc-model"].question("politics")
    assert parse_answer(politics, "党员", today=TODAY) == "cpc_member"


def test_help_texts_say_the_format_asked() -> None:
    program = load_registry().programs["cccc-model"]
    help_text = program.question("birth").help or ""
    assert "1985-03" in help_text
    value = parse_answer(program.question("birth"), "1985-03", today=TODAY)
    assert value == "1985-03"


# --------------------------------------------------------------------------- deadline


def test_the_years_deadline_is_found_only_once_it_has_passed() -> None:
    programs = load_registry().programs
    dalian = programs["dalian-model"]
    assert deadlines.passed(dalian, dt.date(2026, 7, 31)) is None
    rule = deadlines.passed(dalian, dt.date(2026, 8, 1))
    assert rule is not None
    assert "超过期限视为放弃当年申报" in rule.cite
    # a date for the reviewers, or a season, is no applicant's deadline
    assert deadlines.passed(programs["dalian-worker"], dt.date(2026, 12, 1)) is None
    assert deadlines.passed(programs["yangpu-model"], dt.date(2026, 12, 1)) is None


ALICE = UserRef(channel="telegram", external_id="2001", display_name="王伟")


async def open_dalian(sessions: SessionFactory, tmp_path: Path, now: dt.datetime) -> Outcome:
    conv = Conversation(
        registry=load_registry(),
        sessions=sessions,
        files=FileStore(tmp_path / "files"),
        clock=lambda: now,
    )
    menu = await conv.handle(ALICE, CommandIn("apply"))
    reply = menu.replies[-1]
    key = next(b.key for row in reply.buttons for b in row if b.key == "dalian-model")
    event = ButtonIn(Action.PICK_PROGRAM, 0, reply.application_id, reply.revision, key)
    return await conv.handle(ALICE, event)


async def test_a_declaration_started_after_the_deadline_is_told_so_first(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    late = await open_dalian(sessions, tmp_path, dt.datetime(2026, 8, 3, 2, 0, tzinfo=dt.UTC))
    text = "\n".join(r.text for r in late.replies)
    assert "超过期限视为放弃当年申报" in text
    assert text.index("超过期限视为放弃当年申报") < text.index("申报单位")


async def test_in_time_nothing_is_said(sessions: SessionFactory, tmp_path: Path) -> None:
    early = await open_dalian(sessions, tmp_path, dt.datetime(2026, 6, 3, 2, 0, tzinfo=dt.UTC))
    assert "超过期限视为放弃当年申报" not in "\n".join(r.text for r in early.replies)


def test_totals_params_name_each_part(tmp_path: Path) -> None:
    program = define(tmp_path, TOTALS)
    w = walker(program, {"total": 8, "senior": 3, "other": 4, "honour": 0, "honour2": 0})
    view = w.preview()
    assert params(view, "parse.total.equal")["sum"] == "7"


# --------------------------------------------------------------------------- character counts


def test_a_clipped_long_text_counts_characters_not_line_breaks() -> None:
    q = Question(id="story", label="简介", type="longtext")
    text = "甲" * 10 + "\n" + "乙" * 15
    drawn = draw(Answer(q, text, clip=5), Locale("zh-CN"))
    assert "25" in drawn
    assert "26" not in drawn
