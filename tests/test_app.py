"""Assembling the product: what happens at every start."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from storage import repo
from storage.db import create_engine, session_factory
from storage.migrate import upgrade_to_head
from studiobot.app import build_conversation
from studiobot.settings import Settings

NOW = dt.datetime(2026, 5, 20, 2, 0, tzinfo=dt.UTC)


async def test_start_forgets_update_markers_older_than_they_are_needed(
    database_url: str, tmp_path: Path
) -> None:
    await upgrade_to_head(database_url)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    old, recent = NOW - repo.UPDATE_MEMORY - dt.timedelta(hours=1), NOW - dt.timedelta(hours=1)
    async with sessions() as s, s.begin():
        assert await repo.mark_update(s, source="telegram:1", update_id="1", now=old)
        assert await repo.mark_update(s, source="telegram:1", update_id="2", now=recent)
    settings = Settings(_env_file=None, database_url=database_url, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    conversation, built = await build_conversation(settings, clock=lambda: NOW)
    await built.dispose()
    async with sessions() as s:
        seen = [
            await repo.update_seen(
                s, source="telegram:1", update_id=str(n), now=NOW, memory=NOW - old
            )
            for n in (1, 2)
        ]
    await engine.dispose()
    assert seen == [False, True]
    assert len(conversation.registry) == 5
