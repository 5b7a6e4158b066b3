"""Storage: migrations, data access round trips, concurrent writers, file store.

Database tests run on every backend ``database_url`` is parametrised with.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import os
import sys
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from storage import files as storage_files
from storage import repo
from storage.db import SessionFactory, create_engine, session_factory
from storage.files import FileStore, sniff_mime
from storage.migrate import alembic_config, current_revision, head_revision, upgrade_to_head
from storage.models import Application, ChannelIdentity, Person, UTCDateTime
from tests.stored import answer_history

TABLES = {
    "persons",
    "channel_identities",
    "applications",
    "answer_events",
    "attachments",
    "processed_updates",
}
T0 = dt.datetime(2025, 3, 1, 8, 30, 15, 123456, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parent.parent


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def new_user(sessions: SessionFactory, external_id: str = "1001") -> int:
    async with sessions.begin() as s:
        user = await repo.get_or_create_user(
            s, channel="telegram", external_id=external_id, display_name="张三", now=T0
        )
        assert user.id is not None
        return user.id


async def new_application(
    sessions: SessionFactory, user_id: int, *, now: dt.datetime = T0, program_id: str = "p1"
) -> int:
    async with sessions.begin() as s:
        app = await repo.create_application(
            s,
            user_id=user_id,
            program_id=program_id,
            program_version=1,
            cursor={"step": "start"},
            now=now,
        )
        assert app.id is not None
        return app.id


# --------------------------------------------------------------------------- migrations


async def test_upgrade_creates_all_tables(database_url: str) -> None:
    assert await current_revision(database_url) is None
    await upgrade_to_head(database_url)
    names = await table_names(database_url)
    assert names >= TABLES | {"alembic_version"}
    assert await current_revision(database_url) == head_revision()


async def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    await upgrade_to_head(database_url)
    await upgrade_to_head(database_url)
    assert await current_revision(database_url) == head_revision() is not None


async def run_python(code: str, *args: str) -> str:
    """Run ``code`` in a new interpreter (another process, as a second bot would be)."""
    pythonpath = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        *args,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(pythonpath)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode().strip()


async def test_concurrent_upgrades_in_one_process(database_url: str) -> None:
    await asyncio.gather(*(upgrade_to_head(database_url) for _ in range(3)))
    assert await current_revision(database_url) == head_revision()


async def test_concurrent_upgrades_from_several_processes(database_url: str) -> None:
    """Several bots starting at once on a new database must not trip over each other."""
    code = (
        "import asyncio, sys; from storage.migrate import upgrade_to_head; "
        "asyncio.run(upgrade_to_head(sys.argv[1])); print('ok')"
    )
    outputs = await asyncio.gather(*(run_python(code, database_url) for _ in range(3)))
    assert outputs == ["ok"] * 3
    assert await current_revision(database_url) == head_revision()


async def test_another_process_sees_head(database_url: str) -> None:
    await upgrade_to_head(database_url)
    code = (
        "import asyncio, sys; from storage.migrate import current_revision; "
        "print(asyncio.run(current_revision(sys.argv[1])))"
    )
    assert await run_python(code, database_url) == head_revision()


async def test_downgrade_to_base_and_back(database_url: str) -> None:
    """The hand-reviewed downgrade really removes what upgrade created."""
    await upgrade_to_head(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:

            def downgrade(sync_conn: Any) -> None:
                config = alembic_config(database_url)
                config.attributes["connection"] = sync_conn
                command.downgrade(config, "base")

            await conn.run_sync(downgrade)
    finally:
        await engine.dispose()
    assert await table_names(database_url) & TABLES == set()
    assert await current_revision(database_url) is None
    await upgrade_to_head(database_url)
    assert await table_names(database_url) >= TABLES


async def test_the_migrations_build_what_the_models_describe(database_url: str) -> None:
    """Tables, columns, types, keys and indexes at head are the models' (nothing for
    autogenerate to find), so a model change without its migration fails here."""
    await upgrade_to_head(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:

            def differences(sync_conn: Any) -> list[Any]:
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return list(compare_metadata(context, SQLModel.metadata))

            assert await conn.run_sync(differences) == []
    finally:
        await engine.dispose()


async def alembic_to(url: str, action: str, revision: str) -> None:
    """``alembic upgrade|downgrade <revision>`` on the database at ``url``."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:

            def run(sync_conn: Any) -> None:
                config = alembic_config(url)
                config.attributes["connection"] = sync_conn
                getattr(command, action)(config, revision)

            await conn.run_sync(run)
    finally:
        await engine.dispose()


JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _table(name: str, *columns: str | sa.ColumnClause[Any]) -> sa.TableClause:
    """A bare table as an old revision had it, for writing rows the models no longer describe."""
    return sa.table(name, *(sa.column(c) if isinstance(c, str) else c for c in columns))


def _times(*names: str) -> list[sa.ColumnClause[Any]]:
    return [sa.column(n, UTCDateTime()) for n in names]


OLD_USERS = _table(
    "users",
    *("id", "channel", "external_id", "display_name", "locale", "active_application_id"),
    *_times("created_at", "updated_at"),
)
OLD_APPLICATIONS = _table(
    "applications",
    *("id", "user_id", "program_id", "program_version", "status", "revision", "review_level"),
    *(sa.column("answers", JSON), sa.column("cursor", JSON)),
    *_times("created_at", "updated_at"),
)
OLD_EVENTS = _table(
    "answer_events", "application_id", "path", sa.column("value", JSON), *_times("created_at")
)


def _user(
    id: int,
    channel: str,
    external_id: str,
    name: str,
    locale: str,
    active: int | None,
    created: dt.datetime,
    updated: dt.datetime,
) -> dict[str, Any]:
    return {"id": id, "channel": channel, "external_id": external_id, "display_name": name,
            "locale": locale, "active_application_id": active, "created_at": created,
            "updated_at": updated}  # fmt: skip


def _application(
    id: int,
    owner: int,
    program: str,
    status: str,
    answers: dict[str, Any],
    revision: int,
    updated: dt.datetime,
) -> dict[str, Any]:
    return {"id": id, "user_id": owner, "program_id": program, "program_version": 1,
            "status": status, "answers": answers, "cursor": {}, "revision": revision,
            "review_level": 0, "created_at": T0, "updated_at": updated}  # fmt: skip


async def _fill_revision_0001(url: str) -> None:
    """Users of two channels (ids with a gap), their applications and history."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                OLD_USERS.insert(),
                [
                    _user(1, "telegram", "1001", "王伟", "zh-CN", 10, T0, at(5)),
                    _user(2, "terminal", "leader", "leader", "zh-CN", None, at(1), at(1)),
                    _user(5, "telegram", "1002", "李娜", "en", None, at(2), at(3)),
                ],
            )
            await conn.execute(
                OLD_APPLICATIONS.insert(),
                [
                    _application(10, 1, "dalian-worker", "draft", {"unit": "大连港"}, 3, at(5)),
                    _application(11, 5, "cccc-model", "submitted", {}, 7, at(3)),
                ],
            )
            await conn.execute(
                OLD_EVENTS.insert(),
                [{"application_id": 10, "path": "unit", "value": "大连港", "created_at": at(4)}],
            )
    finally:
        await engine.dispose()


OLD_MARKERS = _table("processed_updates", "source", "update_id", *_times("processed_at"))


async def test_update_markers_become_text_and_stay_recognised(database_url: str) -> None:
    """Revision 0003 on a database with markers: Telegram's numbers become their digits,
    so an update handled before the upgrade is still recognised after it."""
    await alembic_to(database_url, "upgrade", "0002")
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                OLD_MARKERS.insert(),
                [
                    {"source": "telegram:1", "update_id": 2**40, "processed_at": T0},
                    {"source": "telegram:1", "update_id": 7, "processed_at": T0},
                ],
            )
    finally:
        await engine.dispose()
    await upgrade_to_head(database_url)
    engine = create_engine(database_url)
    try:
        async with session_factory(engine).begin() as s:
            big = str(2**40)
            assert await repo.update_seen(s, source="telegram:1", update_id=big, now=at(1))
            assert not await repo.mark_update(s, source="telegram:1", update_id="7", now=at(1))
            assert await repo.mark_update(s, source="telegram:1", update_id="8", now=at(1))
            assert await repo.mark_update(s, source="feishu:1", update_id="evt-a", now=at(1))
    finally:
        await engine.dispose()
    # Back to numbers: markers that are not numbers are forgotten, the rest kept.
    await alembic_to(database_url, "downgrade", "0002")
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(sa.select(OLD_MARKERS.c.source, OLD_MARKERS.c.update_id))
            ).all()
    finally:
        await engine.dispose()
    assert sorted((source, int(n)) for source, n in rows) == [
        ("telegram:1", 7),
        ("telegram:1", 8),
        ("telegram:1", 2**40),
    ]
    await upgrade_to_head(database_url)


async def test_users_become_persons_with_one_identity_each(database_url: str) -> None:
    """Revision 0002 on a database with data: every user is a person with the same
    id (their applications stay theirs) and their channel account is their identity."""
    await alembic_to(database_url, "upgrade", "0001")
    await _fill_revision_0001(database_url)
    await upgrade_to_head(database_url)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as s:
            persons = (await s.execute(sa.select(Person).order_by(Person.id))).scalars().all()
            assert [
                (p.id, p.display_name, p.locale, p.active_application_id, p.created_at,
                 p.updated_at)
                for p in persons
            ] == [
                (1, "王伟", "zh-CN", 10, T0, at(5)),
                (2, "leader", "zh-CN", None, at(1), at(1)),
                (5, "李娜", "en", None, at(2), at(3)),
            ]  # fmt: skip
            identities = (await s.execute(sa.select(ChannelIdentity))).scalars().all()
            found = sorted(
                (i.channel, i.external_id, i.person_id, i.created_at) for i in identities
            )
            assert found == [
                ("telegram", "1001", 1, T0),
                ("telegram", "1002", 5, at(2)),
                ("terminal", "leader", 2, at(1)),
            ]  # fmt: skip
            assert [(a.id, a.user_id) for a in await repo.list_applications(s, user_id=5)] == [
                (11, 5)
            ]
        async with sessions.begin() as s:
            person, active = await repo.load_user(s, channel="telegram", external_id="1001")
            assert person is not None
            assert active is not None
            assert (person.id, active.id, active.revision, active.answers) == (
                1, 10, 3, {"unit": "大连港"}
            )  # fmt: skip
            # New persons get new ids (PostgreSQL's sequence was moved past the copied ones).
            new = await repo.get_or_create_user(
                s, channel="dingtalk", external_id="m1", display_name="赵六", now=at(9)
            )
            assert new.id is not None
            assert new.id > 5
            await repo.create_application(
                s,
                user_id=new.id,
                program_id="beijing-worker",
                program_version=1,
                cursor={},
                now=at(9),
            )
    finally:
        await engine.dispose()

    # Back to 0001: one user per person again, with the applications they own.
    await alembic_to(database_url, "downgrade", "0001")
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            users = (
                await conn.execute(
                    sa.select(
                        OLD_USERS.c.id, OLD_USERS.c.channel, OLD_USERS.c.external_id
                    ).order_by(OLD_USERS.c.id)
                )
            ).all()
            owners = (
                (
                    await conn.execute(
                        sa.select(OLD_APPLICATIONS.c.user_id).order_by(OLD_APPLICATIONS.c.id)
                    )
                )
                .scalars()
                .all()
            )
    finally:
        await engine.dispose()
    assert [tuple(u) for u in users] == [
        (1, "telegram", "1001"),
        (2, "terminal", "leader"),
        (5, "telegram", "1002"),
        (new.id, "dingtalk", "m1"),
    ]
    assert sorted(owners) == [1, 5, new.id]
    await upgrade_to_head(database_url)


# --------------------------------------------------------------------------- repo


async def test_get_or_create_user_is_idempotent(sessions: SessionFactory) -> None:
    async with sessions.begin() as s:
        first = await repo.get_or_create_user(
            s, channel="telegram", external_id="42", display_name="王五", now=T0
        )
    async with sessions.begin() as s:
        again = await repo.get_or_create_user(
            s, channel="telegram", external_id="42", display_name="王五(工会)", now=at(1)
        )
        other = await repo.get_or_create_user(
            s, channel="terminal", external_id="42", display_name="", now=at(1)
        )
    assert again.id == first.id
    assert other.id != first.id
    assert again.display_name == "王五(工会)"
    assert again.updated_at == at(1)
    assert again.created_at == T0


async def test_a_person_can_come_through_several_channels(sessions: SessionFactory) -> None:
    """Identities of several channels lead to one person and their applications."""
    person_id = await new_user(sessions, "1001")
    app_id = await new_application(sessions, person_id)
    async with sessions.begin() as s:
        s.add(
            ChannelIdentity(
                channel="dingtalk", external_id="manager4711", person_id=person_id, created_at=at(1)
            )
        )
    async with sessions.begin() as s:
        person = await s.get(Person, person_id)
        assert person is not None
        person.active_application_id = app_id
    async with sessions.begin() as s:
        via_telegram, app = await repo.load_user(s, channel="telegram", external_id="1001")
        via_dingtalk, same = await repo.load_user(s, channel="dingtalk", external_id="manager4711")
        again = await repo.get_or_create_user(
            s, channel="dingtalk", external_id="manager4711", display_name="", now=at(2)
        )
    assert via_telegram is not None
    assert via_telegram.id == via_dingtalk.id == again.id == person_id  # type: ignore[union-attr]
    assert app is not None
    assert same is not None
    assert app.id == same.id == app_id
    with pytest.raises(IntegrityError):  # an identity belongs to one person
        async with sessions.begin() as s:
            s.add(
                ChannelIdentity(
                    channel="dingtalk",
                    external_id="manager4711",
                    person_id=person_id,
                    created_at=at(3),
                )
            )


@pytest.mark.parametrize(
    ("language", "locale"),
    [
        ("en", "en"),
        ("zh-hans", "zh-hans"),
        ("pt_BR", "pt-BR"),
        (None, "zh-CN"),
        ("", "zh-CN"),
        ("english please", "zh-CN"),
        ("x" * 40, "zh-CN"),
    ],
)
async def test_the_language_a_channel_reports_becomes_the_new_persons_locale(
    sessions: SessionFactory, language: str | None, locale: str
) -> None:
    async with sessions.begin() as s:
        person = await repo.get_or_create_user(
            s, channel="telegram", external_id="5", display_name="", now=T0, locale=language
        )
    assert person.locale == locale
    async with sessions.begin() as s:  # stored; and a person once made keeps theirs
        again = await repo.get_or_create_user(
            s, channel="telegram", external_id="5", display_name="", now=at(1), locale="fr"
        )
        assert again.locale == locale


async def test_application_round_trip_and_revision(sessions: SessionFactory) -> None:
    user_id = await new_user(sessions)
    app_id = await new_application(sessions, user_id)
    async with sessions.begin() as s:
        app = await repo.get_application(s, application_id=app_id)
        assert app is not None
        assert (app.status, app.revision, app.answers, app.cursor) == (
            "draft",
            0,
            {},
            {"step": "start"},
        )
        repo.touch_application(app, answers={"a": 1}, cursor={"step": "a"}, now=at(1))
    async with sessions.begin() as s:
        app = await repo.get_application(s, application_id=app_id)
        assert app is not None
        assert (app.revision, app.answers, app.cursor, app.updated_at) == (
            1,
            {"a": 1},
            {"step": "a"},
            at(1),
        )
        # A dict changed in place and handed back must still be written.
        app.answers["b"] = [1, 2]
        app.cursor["step"] = "b"
        repo.touch_application(app, answers=app.answers, cursor=app.cursor, now=at(2))
    async with sessions() as s:
        app = await repo.get_application(s, application_id=app_id)
        assert app is not None
        assert (app.revision, app.answers, app.cursor) == (2, {"a": 1, "b": [1, 2]}, {"step": "b"})
        assert (await s.execute(sa.select(sa.func.count()).select_from(Application))).scalar() == 1
        found = await repo.find_open_application(s, user_id=user_id, program_id="p1")
        assert found is not None
        assert found.id == app_id
        assert await repo.find_open_application(s, user_id=user_id, program_id="nope") is None


async def test_answers_json_round_trips_exactly(sessions: SessionFactory) -> None:
    answers: dict[str, Any] = {
        "studio_name": "李明劳模创新工作室",
        "leader": {
            "name": "李明",
            "title": "高级技师",
            "honours": ["全国劳动模范", "五一劳动奖章"],
        },
        "funding_wan_yuan": str(Decimal("1234.50")),
        "tiny": str(Decimal("0.000001")),
        "members": [["王芳", "工程师", ["焊接", "数控"]], ["赵磊", "技师", []]],
        "flags": [True, False, None],
        "count": 12,
        "ratio": 0.25,
        "quote": '引号"与\\反斜杠\n换行',
        "emoji": "🏭✓",
        "empty": {},
    }
    user_id = await new_user(sessions)
    app_id = await new_application(sessions, user_id)
    async with sessions.begin() as s:
        app = await repo.get_application(s, application_id=app_id)
        assert app is not None
        repo.touch_application(app, answers=answers, cursor={"path": ["a", 0]}, now=at(1))
        await repo.record_answer(
            s, application_id=app_id, path="members", value=answers["members"], now=at(1)
        )
        await repo.record_answer(s, application_id=app_id, path="gone", value=None, now=at(2))
    async with sessions() as s:
        app = await repo.get_application(s, application_id=app_id)
        assert app is not None
        assert app.answers == answers
        assert Decimal(app.answers["funding_wan_yuan"]) == Decimal("1234.50")
        assert app.answers["funding_wan_yuan"] == "1234.50"
        # Key order is NOT part of the contract: JSONB on PostgreSQL reorders keys.
        history = await answer_history(s, application_id=app_id)
        assert [(e.path, e.value) for e in history] == [
            ("members", answers["members"]),
            ("gone", None),
        ]


async def test_datetimes_come_back_aware_utc(sessions: SessionFactory) -> None:
    beijing = dt.datetime(2025, 3, 1, 16, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Shanghai"))
    user_id = await new_user(sessions)
    app_id = await new_application(sessions, user_id, now=beijing)
    async with sessions() as s:
        app = await repo.get_application(s, application_id=app_id)
        assert app is not None
        assert app.created_at == T0
        assert app.created_at.utcoffset() == dt.timedelta(0)
        assert app.created_at.replace(tzinfo=None) == T0.replace(tzinfo=None)
        assert app.submitted_at is None


async def test_naive_datetime_is_refused(sessions: SessionFactory) -> None:
    with pytest.raises((ValueError, StatementError), match="naive"):
        async with sessions.begin() as s:
            await repo.get_or_create_user(
                s, channel="telegram", external_id="x", display_name="", now=dt.datetime(2025, 1, 1)
            )


async def test_list_applications_most_recent_first(sessions: SessionFactory) -> None:
    user_id = await new_user(sessions)
    other_user = await new_user(sessions, external_id="2002")
    a = await new_application(sessions, user_id, now=at(0), program_id="p1")
    b = await new_application(sessions, user_id, now=at(1), program_id="p2")
    c = await new_application(sessions, user_id, now=at(1), program_id="p3")
    await new_application(sessions, other_user, now=at(9))
    async with sessions.begin() as s:
        app = await repo.get_application(s, application_id=a)
        assert app is not None
        repo.touch_application(app, answers={}, cursor={}, now=at(5))
    async with sessions() as s:
        listed = await repo.list_applications(s, user_id=user_id)
    # a was touched last; b and c tie on updated_at, so the newer id comes first.
    assert [x.id for x in listed] == [a, c, b]


async def test_attachments_in_the_order_asked(sessions: SessionFactory) -> None:
    user_id = await new_user(sessions)
    app_id = await new_application(sessions, user_id)
    ids: list[int] = []
    async with sessions.begin() as s:
        for n in range(3):
            att = await repo.add_attachment(
                s,
                application_id=app_id,
                question_id="photos",
                kind="photo",
                file_name=f"照片{n}.jpg",
                mime_type="image/jpeg",
                size=100 + n,
                sha256=f"{n:064x}",
                storage_path=f"00/{n:064x}.jpg",
                source_ref=f"tg-file-{n}",
                now=at(n),
            )
            assert att.id is not None
            ids.append(att.id)
    async with sessions() as s:
        got = await repo.get_attachments(s, ids=[ids[2], ids[0], 999_999, ids[1]])
        assert [g.id for g in got] == [ids[2], ids[0], ids[1]]
        assert got[0].file_name == "照片2.jpg"
        assert got[0].created_at == at(2)
        assert await repo.get_attachments(s, ids=[]) == []


async def test_mark_update_once_per_source(sessions: SessionFactory) -> None:
    big = str(2**40)  # Telegram update ids outgrow 32 bits
    async with sessions.begin() as s:
        assert await repo.mark_update(s, source="telegram", update_id=big, now=T0) is True
        assert await repo.mark_update(s, source="telegram", update_id=big, now=T0) is False
    async with sessions.begin() as s:
        assert await repo.mark_update(s, source="telegram", update_id=big, now=at(1)) is False
        assert await repo.mark_update(s, source="terminal", update_id=big, now=at(1)) is True
        assert await repo.mark_update(s, source="telegram", update_id=big + "1", now=at(1)) is True


async def test_event_ids_of_any_channel_are_text(sessions: SessionFactory) -> None:
    """DingTalk and Feishu name their events with strings; they are remembered the same."""
    feishu = "5e3702a84e847582be8db7fb73283c02"
    dingtalk = "msgA1B2c3D4+e5F6/g7==" + "x" * 100  # long ones too, up to 128 characters
    async with sessions.begin() as s:
        for source, event in (("feishu:cli_1", feishu), ("dingtalk:4711", dingtalk)):
            assert await repo.mark_update(s, source=source, update_id=event, now=T0) is True
            assert await repo.update_seen(s, source=source, update_id=event, now=T0) is True
            assert await repo.mark_update(s, source=source, update_id=event, now=T0) is False
        assert (
            await repo.update_seen(s, source="feishu:cli_1", update_id=feishu.upper(), now=T0)
            is False
        )


async def test_mark_update_rolled_back_with_its_transaction(sessions: SessionFactory) -> None:
    """A handler that fails must leave its update unmarked, so a retry is processed."""

    class Boom(Exception):
        pass

    async def failing_handler() -> None:
        async with sessions.begin() as s:
            assert await repo.mark_update(s, source="telegram", update_id="7", now=T0)
            raise Boom

    with pytest.raises(Boom):
        await failing_handler()
    async with sessions.begin() as s:
        assert await repo.mark_update(s, source="telegram", update_id="7", now=T0) is True


async def test_concurrent_increments_lose_nothing(
    sessions: SessionFactory, db_engine: AsyncEngine
) -> None:
    """20 writers read-modify-write one row; every increment must survive."""
    user_id = await new_user(sessions)
    app_id = await new_application(sessions, user_id)
    writers = 20

    async def bump(n: int) -> None:
        async with sessions.begin() as s:
            app = await repo.get_application(s, application_id=app_id, for_update=True)
            assert app is not None
            answers = dict(app.answers)
            answers["counter"] = int(answers.get("counter", 0)) + 1
            answers[f"writer_{n}"] = True
            await asyncio.sleep(0.001)  # let the other writers run in between
            repo.touch_application(app, answers=answers, cursor=app.cursor, now=at(n))

    await asyncio.gather(*(bump(n) for n in range(writers)))
    async with sessions() as s:
        app = await repo.get_application(s, application_id=app_id)
        assert app is not None
        assert app.answers["counter"] == writers
        assert app.revision == writers
        assert all(app.answers[f"writer_{n}"] for n in range(writers))


# --------------------------------------------------------------------------- file store


async def test_file_store_saves_by_hash(file_store: FileStore) -> None:
    data = b"\xff\xd8\xff\xe0 fake jpeg"
    stored = await file_store.save(data, suffix="JPG")
    digest = hashlib.sha256(data).hexdigest()
    assert stored.sha256 == digest
    assert stored.size == len(data)
    assert stored.path == f"{digest[:2]}/{digest}.jpg"
    assert stored.created is True
    path = file_store.root / stored.path
    assert path.is_absolute()
    assert path.read_bytes() == data
    assert path.is_relative_to(file_store.root.resolve())


async def test_outgoing_files_are_fresh_owner_only_and_gone_after_a_day(
    file_store: FileStore,
) -> None:
    """A form or workbook made to be sent is not kept as an upload is."""
    first = await file_store.outgoing("forms", ".pdf")
    first.write_bytes(b"%PDF-1.4 sent yesterday")
    kept = await file_store.outgoing("forms", ".pdf")
    kept.write_bytes(b"%PDF-1.4 sent now")
    assert first != kept
    assert first.parent == file_store.root / "forms"
    assert first.parent.stat().st_mode & 0o077 == 0
    day_ago = first.stat().st_mtime - storage_files.OUTGOING_KEPT_S - 1
    os.utime(first, (day_ago, day_ago))
    await file_store.outgoing("forms", ".pdf")
    assert not first.exists()
    assert kept.exists()


async def test_file_store_deduplicates(file_store: FileStore) -> None:
    data = b"%PDF-1.7 same bytes"
    first = await file_store.save(data, suffix=".pdf")
    mtime = (file_store.root / first.path).stat().st_mtime_ns
    again = await file_store.save(data, suffix=".pdf")
    assert again.path == first.path
    assert again.created is False
    assert (file_store.root / first.path).stat().st_mtime_ns == mtime
    many = await asyncio.gather(*(file_store.save(b"racing", suffix=".bin") for _ in range(10)))
    assert len({m.path for m in many}) == 1
    files = sorted(p.name for p in file_store.root.rglob("*") if p.is_file())
    assert len(files) == 2
    assert not any(name.startswith(".tmp-") for name in files)


async def test_file_store_repairs_a_damaged_file(file_store: FileStore) -> None:
    stored = await file_store.save(b"complete content", suffix=".txt")
    (file_store.root / stored.path).write_bytes(b"compl")
    again = await file_store.save(b"complete content", suffix=".txt")
    assert again.created is True
    assert (file_store.root / stored.path).read_bytes() == b"complete content"


async def test_file_store_write_is_atomic(
    file_store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure before the final rename leaves neither the file nor a temporary."""

    def failing_replace(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        await file_store.save(b"never lands", suffix=".bin")
    monkeypatch.undo()
    assert [p for p in file_store.root.rglob("*") if p.is_file()] == []
    stored = await file_store.save(b"never lands", suffix=".bin")
    assert stored.created is True


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [
        ("PDF", ".pdf"),
        (".Docx", ".docx"),
        ("", ""),
        ("../x", ".bin"),
        (".a/b", ".bin"),
        (".exe\x00", ".bin"),
        (".文档", ".bin"),
        (".toolongsuffix1", ".bin"),
    ],
)
async def test_file_store_sanitises_suffix(
    file_store: FileStore, suffix: str, expected: str
) -> None:
    stored = await file_store.save(b"x", suffix=suffix)
    assert stored.path == f"{stored.sha256[:2]}/{stored.sha256}{expected}"
    assert (file_store.root / stored.path).parent.parent == file_store.root


def test_file_store_default_root() -> None:
    assert FileStore().root == Path("data") / "files"


def _zip(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        for name in names:
            archive.writestr(name, "<x/>")
    return buffer.getvalue()


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"GIF87a\x01\x00\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "application/octet-stream"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        (
            _zip("word/document.xml"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            _zip("xl/workbook.xml"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (
            _zip("word/document.xml")[:120],
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (_zip("readme.txt"), "application/zip"),
        (OLE + "WordDocument".encode("utf-16-le"), "application/msword"),
        (OLE + "Workbook".encode("utf-16-le"), "application/vnd.ms-excel"),
        (OLE + "PowerPoint Document".encode("utf-16-le"), "application/x-ole-storage"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1", "image/heif"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomavc1", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime"),
        (b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00avifmif1", "application/octet-stream"),
        (b"\x7fELF\x02\x01\x01\x00", "application/octet-stream"),
        (b"MZ\x90\x00", "application/octet-stream"),
        ("纯文本".encode(), "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_sniff_mime(data: bytes, expected: str) -> None:
    assert sniff_mime(data) == expected


async def test_update_ids_are_remembered_for_a_while_only(sessions: SessionFactory) -> None:
    """Telegram may reuse update ids after a quiet week: an old marker must not
    swallow a new update, while a recent one still stops a redelivery."""
    memory = repo.UPDATE_MEMORY
    later = T0 + memory + dt.timedelta(seconds=1)
    async with sessions.begin() as s:
        assert await repo.mark_update(s, source="telegram:1", update_id="5", now=T0) is True
        assert await repo.update_seen(s, source="telegram:1", update_id="5", now=T0) is True
        assert await repo.update_seen(s, source="telegram:1", update_id="6", now=T0) is False
    async with sessions.begin() as s:
        recent = T0 + memory - dt.timedelta(seconds=1)
        assert await repo.mark_update(s, source="telegram:1", update_id="5", now=recent) is False
        assert await repo.update_seen(s, source="telegram:1", update_id="5", now=later) is False
        assert await repo.mark_update(s, source="telegram:1", update_id="5", now=later) is True
        assert await repo.mark_update(s, source="telegram:1", update_id="5", now=later) is False
    async with sessions.begin() as s:
        assert await repo.mark_update(s, source="telegram:1", update_id="9", now=T0) is True
        assert await repo.prune_updates(s, before=T0 + dt.timedelta(seconds=1)) == 1
        assert await repo.update_seen(s, source="telegram:1", update_id="5", now=later) is True


async def test_load_user_brings_the_active_application_along(sessions: SessionFactory) -> None:
    async with sessions.begin() as s:
        assert await repo.load_user(s, channel="telegram", external_id="nobody") == (None, None)
    user_id = await new_user(sessions)
    app_id = await new_application(sessions, user_id)
    async with sessions.begin() as s:
        found, active = await repo.load_user(s, channel="telegram", external_id="1001")
        assert found is not None
        assert found.id == user_id
        assert active is None
        found.active_application_id = app_id
    async with sessions.begin() as s:
        found, active = await repo.load_user(s, channel="telegram", external_id="1001")
        assert active is not None
        assert active.id == app_id


async def test_sqlite_lock_of_another_process_is_awaited_off_the_event_loop(
    tmp_path: Path,
) -> None:
    """Calls run on the loop, but waiting for another process's write lock must not
    freeze it: the wait moves to the worker thread and the write then succeeds."""
    import sqlite3

    from storage.db import session_factory

    url = f"sqlite+aiosqlite:///{tmp_path}/locked.db"
    await upgrade_to_head(url)
    engine = create_engine(url)
    other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    running = asyncio.create_task(ticker())
    asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
    try:
        started = asyncio.get_running_loop().time()
        async with session_factory(engine).begin() as s:
            await repo.get_or_create_user(s, channel="t", external_id="1", display_name="", now=T0)
        waited = asyncio.get_running_loop().time() - started
        assert waited >= 0.25  # it did wait for the other process
        assert ticks >= 15  # and the loop kept running meanwhile
        async with session_factory(engine)() as s:
            found, _ = await repo.load_user(s, channel="t", external_id="1")
            assert found is not None
    finally:
        running.cancel()
        other.close()
        await engine.dispose()
