"""Writing a program: the JSON Schema, the reference page and what ``programs check`` says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from dialogs.loader import (
    BUILTIN_DIR,
    DefinitionError,
    DefinitionProblem,
    definition_files,
    load_program,
)
from dialogs.qtypes import names
from dialogs.qtypes._upload import accepted_kinds
from dialogs.reference import COMMON_KEYS, program_schema, question_keys
from dialogs.schema import (
    Check,
    Condition,
    DateRule,
    Program,
    Question,
    ReviewLevel,
    Section,
    Total,
)
from tests.test_program_definitions import minimal, write

ROOT = Path(__file__).resolve().parent.parent


def _questions(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for section in data["sections"]:
        for q in section["questions"]:
            out.append(q)
            out.extend(q.get("fields") or [])
    return out


def test_the_schema_names_every_registered_type_and_its_keys() -> None:
    schema = program_schema()
    question = schema["$defs"]["Question"]
    assert question["properties"]["type"]["enum"] == names()
    assert set(question["properties"]) == set(question_keys())
    forbidden = {
        rule["if"]["properties"]["type"]["const"]: set(rule["then"]["properties"])
        for rule in question["allOf"]
    }
    assert set(forbidden) == set(names())
    assert not forbidden["choice"] & {"options", *COMMON_KEYS}
    assert "options" in forbidden["text"]
    assert "kinds" in forbidden["group"]


def test_the_five_programs_use_only_keys_the_schema_allows_their_types() -> None:
    schema = program_schema()
    forbidden = {
        rule["if"]["properties"]["type"]["const"]: set(rule["then"]["properties"])
        for rule in schema["$defs"]["Question"]["allOf"]
    }
    for path in definition_files(BUILTIN_DIR):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert set(data) <= set(schema["properties"]), path
        for q in _questions(data):
            assert not set(q) & forbidden[q["type"]], (path, q["id"])


# --- what ``programs check`` says -------------------------------------------


def _problems(tmp_path: Path, data: dict[str, Any]) -> list[DefinitionProblem]:
    path = write(tmp_path, data)
    with pytest.raises(DefinitionError) as info:
        load_program(path)
    return info.value.problems


def _codes(problems: list[DefinitionProblem]) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in problems]


def _venue_program() -> dict[str, Any]:
    data = minimal()
    data["sections"].append(
        {
            "id": "venue",
            "title": "场所",
            "questions": [
                {"id": "area", "label": "面积", "type": "number", "help": "「面积」"},
                {
                    "id": "kind",
                    "label": "类型",
                    "type": "choice",
                    "help": "「类型」",
                    "options": {"own": "自有", "rented": "租用"},
                },
            ],
        }
    )
    return data


def test_an_unknown_operator_lists_the_operators_and_suggests_the_nearest(tmp_path: Path) -> None:
    data = _venue_program()
    data["sections"][1]["questions"][1]["when"] = {"field": "has_venue", "inn": [True]}
    [problem] = _problems(tmp_path, data)
    assert (problem.field, problem.code) == ("sections[1].questions[1].when.inn", "E121")
    assert "'in'" in problem.message
    assert "not_in" in problem.message


def test_a_misspelt_key_is_one_problem_with_its_fix(tmp_path: Path) -> None:
    data = _venue_program()
    question = data["sections"][1]["questions"][0]
    question["lable"] = question.pop("label")
    data["sections"][1]["titel"] = data["sections"][1].pop("title")
    problems = _problems(tmp_path, data)
    by_field = {p.field: p for p in problems}
    assert sorted(_codes(problems)) == [
        ("sections[1].questions[0].lable", "E120"),
        ("sections[1].titel", "E120"),
    ]
    assert "'title'" in by_field["sections[1].titel"].message
    assert "'label'" in by_field["sections[1].questions[0].lable"].message


def test_model_and_cross_check_problems_come_in_one_run_each_once(tmp_path: Path) -> None:
    data = _venue_program()
    data["sections"][0]["questions"][1]["colour"] = "red"  # the model refuses it
    data["sections"][1]["questions"][0]["when"] = {"field": "has_venu", "eq": True}  # cross-check
    data["sections"][1]["questions"][1]["type"] = "choise"
    data["sections"][0]["questions"].insert(
        0,
        {"id": "broken_one", "type": "text", "help": "「x」"},  # no label: set aside
    )
    data["sections"][1]["questions"].append(
        {
            "id": "later",
            "label": "x",
            "type": "text",
            "help": "「x」",
            "when": {"field": "broken_one", "answered": True},
        }
    )
    problems = _problems(tmp_path, data)
    codes = _codes(problems)
    assert len(codes) == len(set(codes))
    assert ("sections[0].questions[2].colour", "E120") in codes
    assert ("sections[1].questions[0].when", "E050") in codes  # path as written
    assert ("sections[1].questions[1].type", "E010") in codes
    assert ("sections[0].questions[0].label", "E010") in codes
    # the question set aside is not said again as "not an earlier question"
    assert not [p for p in problems if "broken_one" in p.message]
    assert any("'has_venue'" in p.message for p in problems)  # the nearest id
    assert any("'choice'" in p.message for p in problems)


def test_a_condition_on_a_later_question_says_so(tmp_path: Path) -> None:
    data = _venue_program()
    data["sections"][0]["questions"][0]["when"] = {"field": "area", "gt": 0}
    [problem] = _problems(tmp_path, data)
    assert problem.code == "E050"
    assert "later" in problem.message


def test_a_key_the_type_does_not_read(tmp_path: Path) -> None:
    data = _venue_program()
    data["sections"][0]["questions"][0]["unit"] = "平方米"
    [problem] = _problems(tmp_path, data)
    assert (problem.field, problem.code) == ("sections[0].questions[0].unit", "E122")


def test_contradictory_conditions_leave_a_question_never_asked(tmp_path: Path) -> None:
    data = _venue_program()
    data["sections"][1]["questions"][1]["when"] = {
        "all": [{"field": "area", "gt": 100}, {"field": "area", "lt": 50}]
    }
    [problem] = _problems(tmp_path, data)
    assert (problem.field, problem.code) == ("sections[1].questions[1].when", "E132")


def test_a_section_condition_can_empty_it_or_hide_it(tmp_path: Path) -> None:
    data = _venue_program()
    data["sections"][1]["when"] = {"field": "has_venue", "eq": True}
    for q in data["sections"][1]["questions"]:
        q["when"] = {"field": "has_venue", "in": [False]}
    [problem] = _problems(tmp_path, data)
    assert (problem.field, problem.code) == ("sections[1]", "E131")
    data = _venue_program()
    data["sections"][1]["when"] = {
        "not": {
            "any": [
                {"field": "has_venue", "answered": True},
                {"field": "has_venue", "answered": False},
            ]
        }
    }
    [problem] = _problems(tmp_path, data)
    assert (problem.field, problem.code) == ("sections[1].when", "E130")


def test_conditions_that_can_hold_are_not_reported(tmp_path: Path) -> None:
    data = _venue_program()
    data["sections"][1]["when"] = {"field": "has_venue", "eq": True}
    questions = data["sections"][1]["questions"]
    questions[1]["when"] = {"all": [{"field": "area", "gt": 10}, {"field": "area", "lt": 11}]}
    questions.append(
        {
            "id": "other",
            "label": "x",
            "type": "text",
            "help": "「x」",
            "when": {
                "any": [{"field": "kind", "eq": "own"}, {"field": "leader_name", "matches": "王"}]
            },
        }
    )
    assert load_program(write(tmp_path, data)).id == "broken"


def test_the_five_programs_check_clean() -> None:
    for path in definition_files(BUILTIN_DIR):
        assert load_program(path).id == path.stem


# --- the reference page -----------------------------------------------------

PAGE = ROOT / "docs" / "programs.md"
MODELS: dict[str, type[BaseModel]] = {
    "program": Program,
    "section": Section,
    "question": Question,
    "condition": Condition,
    "check": Check,
    "total": Total,
    "level": ReviewLevel,
    "date": DateRule,
}


def _examples() -> list[tuple[str, str]]:
    blocks = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    return [(block.split("\n", 1)[0].removeprefix("# ").strip(), block) for block in blocks]


def _schema_words(schema: dict[str, Any]) -> set[str]:
    words = set(schema["properties"])
    for definition in schema["$defs"].values():
        words |= set(definition.get("properties", {}))
        words |= {str(v) for v in definition.get("enum", [])}
    words |= set(schema["$defs"]["Question"]["properties"]["type"]["enum"])
    words |= {str(v) for v in schema["$defs"]["DateRule"]["properties"]["audience"]["enum"]}
    return words


def test_the_page_documents_every_key_type_operator_and_date_kind() -> None:
    page = PAGE.read_text(encoding="utf-8")
    missing = sorted(w for w in _schema_words(program_schema()) if f"`{w}`" not in page)
    assert not missing


def test_every_example_of_the_page_validates() -> None:
    examples = _examples()
    assert {kind for kind, _ in examples} == set(MODELS)
    for kind, block in examples:
        MODELS[kind].model_validate(yaml.safe_load(block))


@pytest.mark.parametrize(
    ("accept", "kinds"),
    [
        (["pdf", "docx", "jpg"], ["pdf", "word", "jpg"]),
        ([".pdf", "application/pdf"], ["pdf"]),
        (["image/*"], ["jpg", "png", "webp", "heic", "gif"]),
        (["video/*"], ["mp4", "mov"]),
    ],
)
def test_an_upload_accepts_the_forms_authors_write(
    tmp_path: Path, accept: list[str], kinds: list[str]
) -> None:
    data = _venue_program()
    upload = {"id": "proof", "label": "证明", "type": "file", "help": "「证明」", "accept": accept}
    data["sections"][1]["questions"].append(upload)
    program = load_program(write(tmp_path, data))
    assert accepted_kinds(program.question("proof")) == kinds


def test_an_unknown_kind_of_upload_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    data = _venue_program()
    upload = {
        "id": "proof",
        "label": "证明",
        "type": "file",
        "help": "「证明」",
        "accept": ["movx"],
    }
    data["sections"][1]["questions"].append(upload)
    [problem] = _problems(tmp_path, data)
    assert (problem.field, problem.code) == ("sections[1].questions[2].accept[0]", "E110")
    assert "mov" in problem.message
