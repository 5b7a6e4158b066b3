"""The seeds' rules: those that forbid submitting keep the declaration a draft and say
which answer to change (on the server too), those that advise only warn; rows of
「近两年」 are those two years; definitions that misname a rule's answer are refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogs.engine import Walker
from dialogs.i18n import load_catalog
from dialogs.loader import DefinitionError
from dialogs.qtypes.base import stable_key
from dialogs.schema import Program
from dialogs.service import Conversation
from dialogs.ui import Action, ButtonIn, TextIn, UserRef
from dialogs.view import Msg
from tests.test_engine import TODAY, define, uses
from tests.test_preview_i9 import actions_of, current, to_preview, with_action
from tests.test_review_chain import REGISTRY, conv, press

__all__ = ["conv"]  # the fixture, used by name


def program(pid: str) -> Program:
    found = REGISTRY.get(pid)
    assert found is not None
    return found


def fix_keys(view_buttons: object) -> set[str]:
    return {
        b.key
        for row in view_buttons  # type: ignore[attr-defined]
        for b in row
        if b.action is Action.EDIT_ANSWER
    }


# --------------------------------------------------------------------------- flows


async def test_a_studio_named_before_cannot_submit_and_is_shown_the_answer_to_change(
    conv: Conversation,
) -> None:
    yangpu = program("yangpu-model")
    user = UserRef("telegram", "leader-yp-named", "李强")
    out = await to_preview(conv, user, yangpu)
    named = stable_key("named_before")

    # 工作室往年是否已被区总工会命名: changed to 是 from the preview
    out = await conv.handle(user, TextIn("4"))
    out = await conv.handle(user, press(out.replies[-1], Action.CHOOSE))
    app = await current(conv, user, yangpu.id)
    assert app.answers["named_before"] is True  # the first button of a yes/no is 是
    preview = with_action(out, Action.SUBMIT)
    assert named in fix_keys(preview.buttons)

    # 提交: refused, with the button that opens that answer; still a draft
    out = await conv.handle(user, press(preview, Action.SUBMIT))
    assert Action.SUBMIT_OK not in {a for r in out.replies for a in actions_of(r)}
    assert named in fix_keys(out.replies[-1].buttons)
    app = await current(conv, user, yangpu.id)
    assert (app.status, app.submission_no) == ("draft", 0)

    # a 确认提交 press carrying the current state is refused on the server too
    stale = ButtonIn(Action.SUBMIT_OK, 0, app.id or 0, app.revision)
    out = await conv.handle(user, stale)
    app = await current(conv, user, yangpu.id)
    assert (app.status, app.submission_no) == ("draft", 0)
    assert named in fix_keys(out.replies[-1].buttons)

    # the button opens the answer alone; 否 brings back the preview, and 提交 goes on
    out = await conv.handle(user, press(out.replies[-1], Action.EDIT_ANSWER, named))
    app = await current(conv, user, yangpu.id)
    assert (app.cursor.get("mode"), app.cursor.get("q")) == ("ask", "named_before")
    buttons = [b for row in out.replies[-1].buttons for b in row if b.action is Action.CHOOSE]
    no = next(b for b in buttons if b.arg == 0)
    reply = out.replies[-1]
    out = await conv.handle(
        user, ButtonIn(no.action, no.arg, reply.application_id, reply.revision, no.key)
    )
    preview = with_action(out, Action.SUBMIT)
    assert fix_keys(preview.buttons) == set()
    out = await conv.handle(user, press(preview, Action.SUBMIT))
    await conv.handle(user, press(out.replies[-1], Action.SUBMIT_OK))
    app = await current(conv, user, yangpu.id)
    assert app.status == "in_review"


async def test_a_beijing_team_of_fifteen_submits_with_a_note(conv: Conversation) -> None:
    beijing = program("beijing-worker")
    user = UserRef("telegram", "leader-bj-15", "赵敏")
    out = await to_preview(conv, user, beijing)
    app = await current(conv, user, beijing.id)
    walker = Walker(beijing, {**app.answers, "team_size": 15}, {}, today=TODAY)
    assert walker.blocked() == []
    assert [m for m, _ in walker.warnings() if "30人左右" in m]

    number = next(n for n, q in walker.numbered() if q.id == "team_size")
    out = await conv.handle(user, TextIn(str(number)))
    out = await conv.handle(user, TextIn("15"))
    app = await current(conv, user, beijing.id)
    assert app.answers["team_size"] == 15
    preview = with_action(out, Action.SUBMIT)
    out = await conv.handle(user, press(preview, Action.SUBMIT))
    await conv.handle(user, press(out.replies[-1], Action.SUBMIT_OK))
    assert (await current(conv, user, beijing.id)).status == "in_review"


# --------------------------------------------------------------------------- the programs


def blocking_ids(pid: str, answers: dict[str, object]) -> set[str]:
    walker = Walker(program(pid), answers, {"mode": "preview"}, today=TODAY)
    return {b.check.id for b in walker.blocked()}


def test_yangpu_name_needs_its_elements_in_any_order() -> None:
    base = {"leader_name": "张伟", "direction": "智能装备", "named_before": False}
    for name in ("张伟智能装备劳模创新工作室", "智能装备张伟技师创新工作室"):
        assert "name_format" not in blocking_ids("yangpu-model", {**base, "studio_name": name})
    for name in ("张伟劳模创新工作室", "张伟智能装备创新工作室", "智能装备劳模创新工作室"):
        assert "name_format" in blocking_ids("yangpu-model", {**base, "studio_name": name})


def test_yangpu_team_of_three_besides_the_leader_blocks_and_funds_are_optional() -> None:
    yangpu = program("yangpu-model")
    row = {"name": "王五"}
    assert "team_too_small" in blocking_ids("yangpu-model", {"members": [row, row]})
    assert "team_too_small" not in blocking_ids("yangpu-model", {"members": [row] * 3})
    assert yangpu.question("funds").required is False


def test_cccc_rules_of_the_seven_standards() -> None:
    cccc = program("cccc-model")
    ids = {q.id for _, q in cccc.questions()}
    assert "is_named" not in ids
    assert cccc.question("naming_unit").when is None
    assert cccc.question("naming_date").when is None
    assert {"leader_kind", "projects_prev1", "projects_prev2"} <= ids
    one_year_empty = {"results_prev2": 3, "results_prev1": 0, "projects_prev2": 1}
    blocked = blocking_ids("cccc-model", {**one_year_empty, "projects_prev1": 0})
    assert {"no_results_prev1", "no_project_prev1"} <= blocked
    assert "no_results_prev2" not in blocked
    assert "leader_not_eligible" in blocking_ids("cccc-model", {"leader_kind": "other"})
    assert "team_too_small" in blocking_ids("cccc-model", {"member_count": 2})
    small = Walker(cccc, {"area": 15}, {}, today=TODAY)
    assert small.blocked() == []
    assert small.warnings()


def test_cccc_yearly_rows_are_the_two_years_before_the_declaration() -> None:
    cccc = program("cccc-model")
    q = cccc.question("funding")
    row = {"amount": "5", "source": "单位"}
    right = [{**row, "year": TODAY.year - 2}, {**row, "year": TODAY.year - 1}]
    wrong = [{**row, "year": TODAY.year - 3}, {**row, "year": TODAY.year - 1}]
    twice = [{**row, "year": TODAY.year - 1}, {**row, "year": TODAY.year - 1}]
    walker = Walker(cccc, {"funding": right}, {}, today=TODAY)
    assert not [p for p in walker.question_problems(1, q) if p.key == "rules.years"]
    for rows in (wrong, twice):
        walker = Walker(cccc, {"funding": rows}, {}, today=TODAY)
        [problem] = [p for p in walker.question_problems(1, q) if p.key == "rules.years"]
        assert isinstance(problem, Msg)


def test_dalian_model_takes_several_leaders_and_funds_with_their_unit() -> None:
    dalian = program("dalian-model")
    co = dalian.question("co_leaders")
    assert co.required is False
    assert [f.label for f in co.fields or []] == [
        "姓名",
        "性别",
        "出生年月",
        "学历",
        "职称/技术等级",
        "劳模最高荣誉",
        "所在单位",
    ]
    assert dalian.question("members").min_rows is None
    assert program("dalian-worker").question("members").min_rows is None
    funds = dalian.question("funds_amount")
    assert funds.type == "text"
    walker = Walker(dalian, {}, {"mode": "ask", "q": "funds_amount"}, today=TODAY)
    walker.on_text("50000元")
    assert walker.answers["funds_amount"] == "50000元"
    warned = Walker(dalian, {"funds_amount": "0元", "honour": "全国劳模"}, {}, today=TODAY)
    assert next(c for c in dalian.checks if c.id == "no_funds").message in dict(warned.warnings())
    led = {"co_leaders": [{"name": "李四", "honour": "全国劳动模范"}]}
    messages = dict(Walker(dalian, led, {}, today=TODAY).warnings())
    assert next(c for c in dalian.checks if c.id == "no_model_worker").message not in messages


# --------------------------------------------------------------------------- definitions

SECTIONS = """
sections:
  - id: s
    title: 基本情况
    questions:
      - {id: named, label: 是否已命名, type: yesno, help: h}
      - {id: size, label: 人数, type: integer, help: h}
      - id: years
        label: 经费
        type: group
        max_rows: 2
        help: h
        row_years: {field: year, count: 2}
        fields:
          - {id: year, label: 年度, type: integer}
"""


def test_a_blocking_rule_is_shown_in_the_preview_with_the_answer_to_change(
    tmp_path: Path,
) -> None:
    body = (
        SECTIONS
        + """
checks:
  - {id: named, when: {field: named, eq: true}, blocks: true, message: 不再申报, cite: 条款甲}
  - {id: small, when: {field: size, lt: 3}, message: 人数少, cite: 条款乙}
"""
    )
    p = define(tmp_path, body)
    answers = {
        "named": True,
        "size": 2,
        "years": [{"year": TODAY.year - 2}, {"year": TODAY.year - 1}],
    }
    walker = Walker(p, answers, {"mode": "preview"}, today=TODAY)
    view = walker.preview()
    assert uses(view, "rules.blocked")
    assert not uses(view, "engine.preview.ready")
    assert stable_key("named") in fix_keys(view.buttons)
    assert walker.warnings() == [("人数少", "条款乙")]
    assert walker.submit() is False
    assert walker.mode == "preview"


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        (
            "checks:\n  - {id: c, when: {field: size, lt: 3}, fix: nope, message: m, cite: c}",
            "E100",
        ),
        (
            "checks:\n  - id: c\n    when: {all: []}\n    blocks: true\n"
            "    message: m\n    cite: c",
            "E101",
        ),
    ],
)
def test_a_rule_names_a_question_of_the_form(tmp_path: Path, extra: str, code: str) -> None:
    with pytest.raises(DefinitionError) as err:
        define(tmp_path, SECTIONS + extra + "\n")
    assert code in str(err.value)


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ("type: group\n", "type: text\n", "E102"),
        ("{field: year, count: 2}", "{field: nope, count: 2}", "E103"),
        ("max_rows: 2", "max_rows: 1", "E104"),
    ],
)
def test_row_years_are_checked_at_load(tmp_path: Path, old: str, new: str, code: str) -> None:
    body = SECTIONS.replace(old, new, 1)
    if code == "E102":
        body = body.replace("        max_rows: 2\n", "").split("        fields:")[0]
    with pytest.raises(DefinitionError) as err:
        define(tmp_path, body)
    assert code in str(err.value)


def test_the_rules_words_exist_in_both_languages() -> None:
    keys = ("rules.blocked_title", "rules.blocked", "rules.years", "rules.btn.fix")
    for lang in ("zh-CN", "en"):
        catalog = load_catalog(lang)
        assert [k for k in keys if k not in catalog] == []
