"""The dispatcher's routers, in the order updates should try them.

Specific handlers come first; the catch-all for content the dialog cannot
use comes after them, and the error handler sees failures from all of them.
"""

from __future__ import annotations

from aiogram import Router

from bot.routers.callbacks import callbacks_router
from bot.routers.commands import commands_router
from bot.routers.errors import errors_router
from bot.routers.files import files_router
from bot.routers.other import other_router
from bot.routers.text import text_router


def get_routers() -> list[Router]:
    """Fresh routers (a router can belong to one dispatcher only, so none is module-level)."""
    return [
        commands_router(),
        callbacks_router(),
        text_router(),
        files_router(),
        other_router(),
        errors_router(),
    ]
