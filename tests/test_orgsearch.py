"""The applicant's organisation among thousands: typed part of a name, the shortest
matches within the issuing union offered as buttons, more narrowed by typing more
(SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import datetime as dt

from dialogs.engine import Walker
from dialogs.loader import load_registry
from dialogs.qtypes.base import stable_key
from dialogs.qtypes.org import SHOWN
from dialogs.ui import Action
from review.orgfile import check_entries
from review.orgs import import_entries
from storage import review as data
from storage import staff
from storage.db import SessionFactory

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
REGISTRY = load_registry()


def _tree(units: int) -> list[dict[str, str]]:
    entries = [
        {"code": "dl", "name": "大连市总工会", "kind": "city"},
        {"code": "dl-xg", "name": "西岗区总工会", "kind": "district", "parent": "dl"},
        {"code": "sh", "name": "上海市总工会", "kind": "city"},
        {"code": "sh-yp", "name": "杨浦区总工会", "kind": "district", "parent": "sh"},
    ]
    for n in range(units):
        city = "dl-xg" if n % 2 == 0 else "sh-yp"
        entries.append(
            {"code": f"gh{n}", "name": f"第{n}机械厂工会", "kind": "grassroots", "parent": city}
        )
        entries.append(
            {"code": f"u{n}", "name": f"第{n}机械厂", "kind": "unit", "parent": f"gh{n}"}
        )
    return entries


async def _import(sessions: SessionFactory, units: int) -> None:
    async with sessions() as session, session.begin():
        entries = check_entries(_tree(units), file="big.yaml", stored={})
        await import_entries(session, entries=entries, stored=[], now=NOW)


async def test_thousands_of_units_found_by_part_of_a_name_within_the_issuer(
    sessions: SessionFactory,
) -> None:
    await _import(sessions, 3000)
    async with sessions() as session:
        dalian = await staff.organisation(session, code="dl")
        assert dalian is not None
        found = await data.search(
            session, words=["机械厂"], kinds=["unit"], under_id=dalian.id, limit=SHOWN
        )
        assert found.total == 1500  # Dalian's half only
        assert len(found.orgs) == SHOWN
        exact = await data.search(
            session, words=["第12机械厂"], kinds=["unit"], under_id=dalian.id, limit=SHOWN
        )
        # 第12机械厂 first (the shortest), then 第120…, 第1200…; never Shanghai's 第13….
        assert exact.orgs[0].code == "u12"
        assert all(int(o.code[1:]) % 2 == 0 for o in exact.orgs)
        two_words = await data.search(
            session, words=["第1", "8机械"], kinds=["unit", "grassroots"], under_id=None, limit=50
        )
        assert {o.code for o in two_words.orgs} >= {"u18", "gh18", "u108"}
        literal = await data.search(session, words=["%"], kinds=["unit"], under_id=None, limit=5)
        assert literal.total == 0  # a typed % is a character, not a wildcard


def test_an_org_question_offers_the_matches_and_the_typed_name() -> None:
    program = REGISTRY.get("dalian-worker")
    assert program is not None
    assert program.applicant_org is not None
    walker = Walker(program, {}, {}, today=NOW.date())
    walker.start()
    assert walker.question().id == program.applicant_org
    walker.cur["s"] = {"typed": "机械", "found": [["u1", "第1机械厂"], ["u3", "第3机械厂"]]}
    step = walker.on_text("机械")
    offered = step.views[-1].actions()
    assert (Action.CHOOSE, 0, stable_key("u1")) in offered
    assert (Action.CHOOSE, 0, "typed") in offered
    assert program.applicant_org not in walker.answers
    walker.on_button(Action.CHOOSE, 0, stable_key("u3"))
    assert walker.answers[program.applicant_org] == {"code": "u3", "name": "第3机械厂"}


def test_typing_the_exact_name_of_one_match_answers_at_once() -> None:
    program = REGISTRY.get("dalian-worker")
    assert program is not None
    assert program.applicant_org is not None
    walker = Walker(program, {}, {}, today=NOW.date())
    walker.start()
    walker.cur["s"] = {"typed": "第1机械厂", "found": [["u1", "第1机械厂"], ["u10", "第10机械厂"]]}
    walker.on_text("第1机械厂")
    assert walker.answers[program.applicant_org] == {"code": "u1", "name": "第1机械厂"}
