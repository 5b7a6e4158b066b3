"""The registry of question types: every module of this package that defines
``TYPE`` (a :class:`~dialogs.qtypes.base.QuestionType`) is one type, found by
its ``name``.  Modules starting with ``_`` hold shared helpers."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from dialogs.qtypes.base import QuestionType
from dialogs.schema import Question


@cache
def registry() -> dict[str, QuestionType]:
    """Every question type by name, discovered once (on first use, not at import)."""
    found: dict[str, QuestionType] = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_") or module.name == "base":
            continue
        unit = getattr(importlib.import_module(f"{__name__}.{module.name}"), "TYPE", None)
        if not isinstance(unit, QuestionType):
            raise TypeError(f"dialogs.qtypes.{module.name} defines no TYPE")
        if unit.name in found:
            raise TypeError(f"question type '{unit.name}' is defined twice")
        found[unit.name] = unit
    return found


def names() -> list[str]:
    """The registered type names, sorted."""
    return sorted(registry())


def kind(q: Question) -> QuestionType:
    """The type of ``q`` (the loader has made sure it exists)."""
    try:
        return registry()[q.type]
    except KeyError:
        raise KeyError(f"unknown question type '{q.type}' (question '{q.id}')") from None
