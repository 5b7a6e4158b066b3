"""The definition format as a JSON Schema, generated from the models the loader
validates with (:mod:`dialogs.schema`) and the question types of the registry, so
that the reference an editor completes and checks with cannot drift from the code.

``studiobot programs schema`` prints it; ``docs/programs.md`` explains it.
"""

from __future__ import annotations

from typing import Any

from dialogs.qtypes import registry
from dialogs.schema import Condition, Program, Question

SCHEMA_ID = "https://studiobot.invalid/program.schema.json"

COMMON_KEYS: tuple[str, ...] = (
    "id",
    "label",
    "type",
    "help",
    "required",
    "when",
    "example",
    "suggest",
    "same_as",
)
"""Keys every question may carry, whatever its type."""


def type_keys() -> dict[str, tuple[str, ...]]:
    """Each registered question type with the keys it reads beyond the common ones."""
    return {name: unit.keys for name, unit in sorted(registry().items())}


def question_keys() -> list[str]:
    """Every key a question may carry (by its name in a file)."""
    return [f.alias or name for name, f in Question.model_fields.items()]


def condition_operators() -> list[str]:
    """The field operators of a condition, as written in a file (``in``, not ``in_``)."""
    return [Condition.model_fields[op].alias or op for op in Condition.OPERATORS]


def condition_combinations() -> list[str]:
    """The keys that combine conditions."""
    return [Condition.model_fields[k].alias or k for k in ("all", "any", "not_")]


_OPTIONS = {
    "description": (
        "The options of a choice: a mapping of id to label ({male: 男, female: 女}) "
        "or to {label, synonyms}, a list of {id, label, synonyms}, or bare labels "
        "(each then its own id)."
    ),
    "anyOf": [
        {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "anyOf": [
                    {"type": "string", "minLength": 1},
                    {
                        "type": "object",
                        "properties": {
                            "label": {"type": "string", "minLength": 1},
                            "synonyms": {"type": "array", "items": {"type": "string"}},
                        },
                        "required": ["label"],
                        "additionalProperties": False,
                    },
                ]
            },
        },
        {
            "type": "array",
            "items": {"anyOf": [{"type": "string", "minLength": 1}, {"$ref": "#/$defs/Option"}]},
        },
        {"type": "null"},
    ],
}


def program_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a definition file."""
    schema = Program.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    question = schema["$defs"]["Question"]
    props = question["properties"]
    keys = type_keys()
    props["type"] = {
        "description": "The question type (dialogs/qtypes/): what is answered and how.",
        "enum": list(keys),
    }
    props["options"] = _OPTIONS
    every = set(question_keys())
    question["allOf"] = [
        {
            "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
            "then": {
                "description": f"A '{name}' question reads, beyond the common keys: "
                + (", ".join(own) if own else "nothing more"),
                "properties": dict.fromkeys(sorted(every - set(COMMON_KEYS) - set(own)), False),
            },
        }
        for name, own in keys.items()
    ]
    cond = schema["$defs"]["Condition"]
    ops = condition_operators()
    combos = condition_combinations()
    cond["description"] = (
        "A test on one earlier answer ({field: x, <operator>: value}, one operator among "
        + ", ".join(ops)
        + ") or a combination ({all: [...]}, {any: [...]}, {not: {...}})."
    )
    cond["oneOf"] = [
        {
            "required": ["field"],
            "oneOf": [{"required": [op]} for op in ops],
            "not": {"anyOf": [{"required": [k]} for k in combos]},
        },
        *(
            {
                "required": [k],
                "not": {
                    "anyOf": [
                        {"required": [x]}
                        for x in ["field", *ops, *condition_combinations()]
                        if x != k
                    ]
                },
            }
            for k in combos
        ),
    ]
    return schema
