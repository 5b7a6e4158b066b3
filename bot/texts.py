"""The texts only the Telegram transport says (its error notice, the command menu),
kept beside it in ``bot/locales``; the dialog's own texts stay with the dialog."""

from __future__ import annotations

from pathlib import Path

from dialogs.i18n import Locale

BOT_LOCALES = Path(__file__).parent / "locales"


def texts(lang: str) -> Locale:
    """The dialog's texts and the transport's, in ``lang``."""
    return Locale(lang, folders=(BOT_LOCALES,))
