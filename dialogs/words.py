"""Navigation words: the buttons that move through a declaration, said in words.

A person who types 上一步, 跳过 or 完成 instead of tapping means the button; a
terminal shows these buttons as words to type rather than as numbers that move
from screen to screen.  Which actions count, and the words for each (the
button's own label and the locale's list ``words.<name>``, the first of which is
the word a terminal shows), live here, so every transport and the applicant's
flow agree.  Options of a question are never among them: their types read
typed options themselves.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from dialogs.i18n import Locale
from dialogs.ui import Action, Button

NAV_WORDS: dict[Action, str] = {
    Action.BACK: "words.back",
    Action.SKIP: "words.skip",
    Action.KEEP: "words.keep",
    Action.DONE: "words.done",
    Action.SAVE_EXIT: "words.save_exit",
    Action.PREVIEW: "words.preview",
    Action.SUBMIT: "words.submit",
    Action.CANCEL: "words.cancel",
}
"""The navigation and finishing actions, with the locale key listing their words."""

LITERAL = frozenset({Action.DONE, Action.SUBMIT, Action.CANCEL})
"""Actions whose words could be someone's real answer (a task 完成, a plan 提交):
where their button is not on screen, a free-text question takes them as text."""

NEVER_ANSWERS = frozenset(NAV_WORDS) - LITERAL
"""Actions whose words nobody means as an answer (上一步, 跳过, 保存并退出...)."""

SHORT = 24
"""Longer typed text is never a navigation word (it is not even looked at)."""


def squeeze(text: str) -> str:
    """What a word is compared by: letters and digits only, case folded, so that
    「上一步。」, 「 上 一 步 」, 「⬅️ 上一步」 and 「〔上一步〕」 all read 上一步."""
    kept = (c for c in unicodedata.normalize("NFKC", text) if c.isalnum())
    return "".join(kept).casefold()


def words_of(action: Action, loc: Locale) -> list[str]:
    """The words for ``action`` in ``loc``, the one to show first."""
    return [w.strip() for w in loc.t(NAV_WORDS[action]).split("|") if w.strip()]


def shown_word(action: Action, loc: Locale) -> str:
    """The word a transport shows for a navigation button (上一步, 跳过...)."""
    return words_of(action, loc)[0]


def is_nav(action: Action) -> bool:
    return action in NAV_WORDS


def named(typed: str, loc: Locale) -> Action | None:
    """The navigation action ``typed`` names by one of its listed words, if any."""
    if len(typed) > SHORT:
        return None
    said = squeeze(typed)
    if not said:
        return None
    for action in NAV_WORDS:
        if any(squeeze(w) == said for w in words_of(action, loc)):
            return action
    return None


def pressed(typed: str, buttons: Iterable[Button], loc: Locale) -> Button | None:
    """The navigation button among ``buttons`` that ``typed`` names: by its listed
    words, or by its own label with the decoration left out (「完成（已选 3 项）」)."""
    if len(typed) > SHORT:
        return None
    said = squeeze(typed)
    action = named(typed, loc)
    for button in buttons:
        if not is_nav(button.action):
            continue
        if button.action is action or (said and squeeze(button.label) == said):
            return button
    return None
