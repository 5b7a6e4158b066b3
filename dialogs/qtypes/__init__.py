"""The question types: every module of this package that defines ``TYPE`` (a
:class:`~dialogs.qtypes.base.QuestionType`) is one type, found by its ``name``.
Modules starting with ``_`` hold what several types share."""

from __future__ import annotations

from dialogs.qtypes.base import QuestionType, kind, registry

__all__ = ["QuestionType", "kind", "names", "registry"]


def names() -> list[str]:
    """The registered type names, sorted."""
    return sorted(registry())
