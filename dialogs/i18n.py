"""User-facing texts, kept in locale files rather than in code.

Each language is a folder of TOML files under ``dialogs/locales/<lang>/``;
the files are merged, so each part of the product owns its own file.  A
transport keeps the texts only it says (a Telegram error notice, its command
menu) in a ``locales`` folder of its own, passed as ``folders``.  Keys are
dotted (``validation.integer``); values are ``str.format`` templates.
Simplified Chinese is the reference language: a key missing in another
language falls back to it, and a key missing everywhere is a bug that the
tests catch (``Locale.t`` raises).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT_LANG = "zh-CN"


def _flatten(prefix: str, data: Mapping[str, Any], out: dict[str, str]) -> None:
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            _flatten(full, value, out)
        else:
            out[full] = str(value)


@cache
def load_catalog(lang: str, folders: tuple[Path, ...] = ()) -> dict[str, str]:
    """All keys of one language, merged from its files (file stem is the first key part)
    in ``dialogs/locales`` and in each of ``folders``."""
    out: dict[str, str] = {}
    for root in (LOCALES_DIR, *folders):
        folder = root / lang
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            with path.open("rb") as fh:
                _flatten(path.stem, tomllib.load(fh), out)
    return out


def available_languages() -> list[str]:
    """Languages that have a folder of texts."""
    return sorted(p.name for p in LOCALES_DIR.iterdir() if p.is_dir())


class Locale:
    """Texts of one language with the reference language behind it."""

    def __init__(self, lang: str = DEFAULT_LANG, *, folders: tuple[Path, ...] = ()) -> None:
        self.lang = lang if lang in available_languages() else DEFAULT_LANG
        self._texts = load_catalog(self.lang, folders)
        self._fallback = load_catalog(DEFAULT_LANG, folders)

    def t(self, key: str, /, **params: Any) -> str:
        """The text for ``key`` filled with ``params``; KeyError if no language has it."""
        template = self._texts.get(key)
        if template is None:
            template = self._fallback[key]
        return template.format(**params) if params else template

    def has(self, key: str) -> bool:
        return key in self._texts or key in self._fallback
