"""Every text key used in code exists in both languages, with the same slots."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bot.texts import BOT_LOCALES
from dialogs.i18n import Locale, load_catalog
from dialogs.schema import QType
from storage.models import ApplicationStatus

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    *ROOT.glob("dialogs/**/*.py"),
    *ROOT.glob("bot/**/*.py"),
    *ROOT.glob("studiobot/*.py"),
    *ROOT.glob("review/**/*.py"),
]
# Any string literal shaped like a key of one of the catalogs: keys are passed as
# data (views, refusals, separators) as often as they are looked up with t().
LITERAL_KEY = re.compile(
    r"""["']((?:engine|validation|bot|cli|staff|outbox)\.[a-z_0-9]+(?:\.[a-z_0-9]+)*)["']"""
)

DYNAMIC_KEYS = (
    [f"engine.hint.{t.value}" for t in QType]
    + [f"validation.examples.{t.value}" for t in QType]
    + [f"engine.program_state.{s.value}" for s in ApplicationStatus]
    + [f"engine.status.{s.value}" for s in ApplicationStatus if s is not ApplicationStatus.DRAFT]
    + ["engine.status.draft", "engine.upload.send_photo", "engine.upload.send_file"]
    + [f"engine.unsupported.{k}" for k in ("sticker", "voice", "location", "other")]
)


def _used_keys() -> set[str]:
    keys: set[str] = set()
    for path in SOURCES:
        keys.update(LITERAL_KEY.findall(path.read_text(encoding="utf-8")))
    return keys | set(DYNAMIC_KEYS)


def _slots(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_code_uses_keys() -> None:
    # The scan itself must find the keys, or the next test proves nothing.
    assert len(_used_keys()) > 150


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_used_key_exists(lang: str) -> None:
    catalog = load_catalog(lang, (BOT_LOCALES,))
    missing = sorted(k for k in _used_keys() if k not in catalog)
    assert missing == []


def test_languages_have_the_same_keys_and_slots() -> None:
    zh, en = load_catalog("zh-CN", (BOT_LOCALES,)), load_catalog("en", (BOT_LOCALES,))
    assert sorted(set(zh) ^ set(en)) == []
    differing = [k for k in zh if _slots(zh[k]) != _slots(en[k])]
    assert differing == []


def test_locale_falls_back_and_fills() -> None:
    assert Locale("fr").lang == "zh-CN"
    assert (
        Locale("en").t("engine.progress", n=5, total=32, section="Team") == "Question 5/32 · Team"
    )
    assert (
        Locale().t("engine.progress", n=5, total=32, section="团队成员") == "第 5/32 题 · 团队成员"
    )
    with pytest.raises(KeyError):
        Locale().t("engine.no_such_key")
