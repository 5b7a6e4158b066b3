"""Assemble the product from settings: database, file store, programs, dialogs.

Everything is built here, when asked, and passed on explicitly: no module
builds a connection or registers a handler at import time.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from dialogs.loader import BUILTIN_DIR, ProgramRegistry, load_registry
from dialogs.service import Clock, Conversation, system_clock
from storage import repo
from storage.db import create_engine, session_factory
from storage.files import FileStore
from storage.migrate import upgrade_to_head
from studiobot.settings import Settings


def load_programs(settings: Settings) -> ProgramRegistry:
    """The built-in programs plus those of ``STUDIOBOT_PROGRAMS_DIR``, all checked."""
    dirs = [BUILTIN_DIR]
    if settings.programs_dir is not None:
        dirs.append(settings.programs_dir)
    return load_registry(*dirs)


async def build_conversation(
    settings: Settings, *, clock: Clock = system_clock
) -> tuple[Conversation, AsyncEngine]:
    """A ready conversation service over a database brought to the newest schema."""
    registry = load_programs(settings)
    await upgrade_to_head(settings.database_url)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        # Markers of handled updates are needed only while Telegram may redeliver.
        await repo.prune_updates(session, before=clock() - repo.UPDATE_MEMORY)
    conversation = Conversation(
        registry=registry,
        sessions=sessions,
        files=FileStore(settings.files_dir),
        clock=clock,
        zone=settings.zone,
        locale=settings.locale,
    )
    return conversation, engine
