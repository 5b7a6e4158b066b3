"""Who the bot is on Telegram: its username, for links that open it.

An invitation link is ``https://t.me/<username>?start=<token>``.  The username
may be configured; when it is not, the Bot API says it (``getMe``).  The call
lives here, with the transport, so that the command line that prints a link
needs no aiogram of its own.
"""

from __future__ import annotations

from bot.app import create_bot
from bot.config import TelegramConfig


async def fetch_username(config: TelegramConfig) -> str:
    """The bot's username as the Bot API reports it; ``ValueError`` if it has none,
    aiogram's errors if the server cannot be asked."""
    bot = create_bot(config)
    try:
        me = await bot.get_me()
    finally:
        await bot.session.close()
    if not me.username:
        raise ValueError("the Bot API reports no username for this bot")
    return me.username
