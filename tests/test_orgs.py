"""Organisations: the file check, the import (idempotent, updating, never deleting) and
the tree, on SQLite and PostgreSQL when configured."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from review import orgs
from review.orgfile import OrgEntry, OrgFileError, check_entries, load_org_file
from storage import staff
from storage.db import SessionFactory
from storage.models import Organisation, OrganisationKind
from storage.staff import OrgRow

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "review" / "examples" / "dalian.yaml"
NOW = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)


def problems(raw: list[Any], stored: dict[str, str | None] | None = None) -> list[str]:
    with pytest.raises(OrgFileError) as caught:
        check_entries(raw, file="orgs.yaml", stored=stored)
    return [str(p) for p in caught.value.problems]


def org(
    code: str, kind: str = "district", parent: str | None = "dl", **more: Any
) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": code, "name": f"{code} 工会", "kind": kind, **more}
    if parent is not None:
        entry["parent"] = parent
    return entry


CITY = org("dl", "city", None)


# --------------------------------------------------------------------------- the file


def test_example_file_is_a_sound_tree() -> None:
    entries = load_org_file(EXAMPLE)
    by_code = {e.code: e for e in entries}
    assert by_code["dl"].parent is None
    assert by_code["dl"].kind is OrganisationKind.CITY
    assert by_code["dl-xg"].name == "西岗区总工会"
    kinds = {e.kind for e in entries}
    assert kinds >= {
        OrganisationKind.CITY,
        OrganisationKind.DISTRICT,
        OrganisationKind.ZONE,
        OrganisationKind.INDUSTRY,
        OrganisationKind.GRASSROOTS,
        OrganisationKind.UNIT,
        OrganisationKind.DEPARTMENT,
        OrganisationKind.COMMISSION,
    }


def test_unknown_parent_is_named_with_the_entry() -> None:
    raw = [CITY, org("dl-xg"), org("dl-zs"), org("dl-xg-1", "grassroots", "dl-x")]
    assert problems(raw) == ["orgs.yaml: entries[3] (code dl-xg-1): unknown parent 'dl-x'"]


def test_a_parent_may_be_stored_already() -> None:
    entries = check_entries([org("dl-xg")], file="orgs.yaml", stored={"dl": None})
    assert [e.parent for e in entries] == ["dl"]


def test_duplicate_code_points_to_the_first() -> None:
    raw = [CITY, org("dl-xg"), org("dl-zs"), org("dl-xg", name="另一个")]
    assert problems(raw) == [
        "orgs.yaml: entries[3] (code dl-xg): duplicate code, first at entries[1]"
    ]


def test_cycles_are_refused_once_each() -> None:
    raw = [
        CITY,
        org("a", parent="b"),
        org("b", parent="c"),
        org("c", parent="a"),
        org("d", parent="d"),
    ]
    assert problems(raw) == [
        "orgs.yaml: entries[1] (code a): cycle: a → b → c → a",
        "orgs.yaml: entries[4] (code d): cycle: d → d",
    ]


def test_a_cycle_through_stored_rows_is_refused() -> None:
    # Stored: dl-xg under x; the file puts x under dl-xg.
    found = problems([org("x", parent="dl-xg")], stored={"dl": None, "dl-xg": "x"})
    assert found == ["orgs.yaml: entries[0] (code x): cycle: x → dl-xg → x"]


def test_unknown_kind_lists_the_known_ones() -> None:
    [found] = problems([CITY, org("dl-xg", "distrcit")])
    assert found.startswith(
        "orgs.yaml: entries[1] (code dl-xg): unknown kind 'distrcit' (known: city,"
    )
    assert "commission" in found


def test_missing_empty_and_wrong_fields() -> None:
    raw: list[Any] = [
        CITY,
        {"code": "a", "kind": "district", "parent": "dl"},
        {"code": "b", "name": "  ", "kind": "district", "parent": "dl"},
        {"code": "c", "name": "丙", "kind": "district", "parent": ""},
        {"code": 411, "name": "丁", "kind": "district", "parent": "dl"},
        {"code": "e", "name": "戊", "kind": "district", "parnet": "dl"},
        "just text",
        {"code": "f g", "name": "己", "kind": "district", "parent": "dl"},
        {"name": "庚", "kind": "district"},
    ]
    assert problems(raw) == [
        "orgs.yaml: entries[1] (code a): missing field 'name'",
        "orgs.yaml: entries[2] (code b): empty field 'name'",
        "orgs.yaml: entries[3] (code c): empty field 'parent' (leave it out for a root)",
        "orgs.yaml: entries[4]: field 'code' must be text (write 411 in quotes)",
        "orgs.yaml: entries[5] (code e): unknown field 'parnet' (known: code, name, kind, parent)",
        "orgs.yaml: entries[6]: an entry is a mapping of code, name, kind and"
        " (except for a root) parent",
        "orgs.yaml: entries[7] (code f g): code 'f g': use letters, digits, '.', '_' and '-',"
        " at most 64",
        "orgs.yaml: entries[8]: missing field 'code'",
    ]


def test_a_file_that_is_not_a_list_or_not_yaml(tmp_path: Path) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text("code: dl\n", encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text("- {code: dl, name: [\n", encoding="utf-8")
    for path, problem in ((mapping, "must hold a list"), (broken, "not valid YAML")):
        with pytest.raises(OrgFileError) as caught:
            load_org_file(path)
        [found] = caught.value.problems
        assert str(found).startswith(f"{path}: (file): ")
        assert problem in str(found)


def test_arrange_draws_children_under_parents_in_file_order() -> None:
    rows = [
        OrgRow(1, "dl", "市", "city", None),
        OrgRow(2, "kw", "科委", "commission", None),
        OrgRow(3, "b", "乙", "district", 1),
        OrgRow(4, "a", "甲", "district", 1),
        OrgRow(5, "a1", "甲一", "grassroots", 4),
    ]
    drawn = [(line.depth, line.org.code) for line in orgs.arrange(rows)]
    assert drawn == [(0, "dl"), (1, "b"), (1, "a"), (2, "a1"), (0, "kw")]


# --------------------------------------------------------------------------- the import


async def import_example(sessions: SessionFactory) -> orgs.ImportCounts:
    async with sessions() as session, session.begin():
        return await orgs.import_file(session, path=EXAMPLE, now=NOW)


async def stored_orgs(sessions: SessionFactory) -> dict[str, Organisation]:
    async with sessions() as session:
        return {o.code: o for o in await staff.organisations(session)}


async def test_import_is_idempotent_and_updates_what_changed(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    first = await import_example(sessions)
    assert (first.added, first.updated, first.unchanged, first.kept) == (18, 0, 0, [])
    before = await stored_orgs(sessions)
    assert before["dl-xg"].parent_id == before["dl"].id
    assert before["dl-xg-gk"].parent_id == before["dl-xg-gk-gh"].id

    again = await import_example(sessions)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 18)
    assert {c: (o.name, o.kind, o.parent_id, o.updated_at) for c, o in before.items()} == {
        c: (o.name, o.kind, o.parent_id, o.updated_at)
        for c, o in (await stored_orgs(sessions)).items()
    }

    # Renamed, re-kinded, moved; one entry gone from the file.
    changed = tmp_path / "changed.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("name: 西岗区总工会", "name: 大连市西岗区总工会")
    text = text.replace("- {code: dl-kfxd, name: 开放先导区总工会, kind: zone, parent: dl}\n", "")
    text = text.replace("kind: grassroots, parent: dl-kfxd}", "kind: grassroots, parent: dl-zs}")
    text = text.replace(
        "{code: dl-kw, name: 大连市科学技术委员会, kind: commission}",
        "{code: dl-kw, name: 大连市科学技术委员会, kind: commission, parent: dl}",
    )
    changed.write_text(text, encoding="utf-8")
    later = NOW + dt.timedelta(days=1)
    async with sessions() as session, session.begin():
        counts = await orgs.import_file(session, path=changed, now=later)
    assert (counts.added, counts.updated, counts.unchanged) == (0, 3, 14)
    assert counts.kept == ["dl-kfxd"]
    after = await stored_orgs(sessions)
    assert after["dl-xg"].name == "大连市西岗区总工会"
    assert after["dl-xg"].updated_at == later
    assert after["dl-kfxd-dz-gh"].parent_id == after["dl-zs"].id
    assert after["dl-kw"].parent_id == after["dl"].id
    assert after["dl-kfxd"].name == "开放先导区总工会"  # kept, untouched
    assert after["dl-zs"].updated_at == NOW


async def test_a_refused_file_writes_nothing(sessions: SessionFactory, tmp_path: Path) -> None:
    await import_example(sessions)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "- {code: dl, name: 新名字, kind: city}\n"
        "- {code: dl-new, name: 新区总工会, kind: district, parent: dl}\n"
        "- {code: dl-xg, name: 西岗区总工会, kind: district, parent: dl-xg-gk}\n",
        encoding="utf-8",
    )
    with pytest.raises(OrgFileError) as caught:
        async with sessions() as session, session.begin():
            await orgs.import_file(session, path=bad, now=NOW)
    assert [str(p) for p in caught.value.problems] == [
        f"{bad}: entries[2] (code dl-xg): cycle: dl-xg → dl-xg-gk → dl-xg-gk-gh → dl-xg"
    ]
    stored = await stored_orgs(sessions)
    assert "dl-new" not in stored
    assert stored["dl"].name == "大连市总工会"


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements the engine runs inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def big_union(size: int) -> list[OrgEntry]:
    """A city union, 30 districts and grassroots unions under them, ``size`` in all."""
    raw: list[dict[str, Any]] = [CITY]
    raw += [org(f"d{n}") for n in range(30)]
    raw += [org(f"g{n}", "grassroots", f"d{n % 30}") for n in range(size - len(raw))]
    return check_entries(raw, file="big.yaml")


async def test_a_tree_of_thousands_is_read_in_one_query(
    sessions: SessionFactory, db_engine: AsyncEngine
) -> None:
    entries = big_union(3000)
    async with sessions() as session, session.begin():
        counts = await orgs.import_entries(session, entries=entries, stored=[], now=NOW)
    assert counts.added == 3000
    async with sessions() as session, session.begin():
        with statements(db_engine) as seen:
            lines = await orgs.tree(session)
    assert [s for s in seen if s.lstrip().upper().startswith("SELECT")] == [seen[-1]]
    assert len([s for s in seen if "organisations" in s]) == 1
    assert len(lines) == 3000
    assert (lines[0].depth, lines[0].org.code) == (0, "dl")
    assert (lines[1].depth, lines[1].org.code) == (1, "d0")
    assert (lines[2].depth, lines[2].org.code) == (2, "g0")
    assert {line.depth for line in lines} == {0, 1, 2}
