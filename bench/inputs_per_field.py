"""Inputs per form field: how many messages and taps a leader who makes no mistake
needs for each program, from picking the program to the confirmed submission.

The tests' scripted applicant (``tests.walkthrough.Applicant``) plays that
leader through the conversation service on a throw-away SQLite database: it
answers every question in one message or tap where the screen allows it,
taps suggestions (today's date, the leader's own row, a table's years),
pastes tables of three rows or more in one message and confirms them, and
sends each long text in one message followed by 完成.  A form field is one
value the printed form holds: an answered question, or one cell of a table.

    .venv/bin/python bench/inputs_per_field.py [--rows N]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _common import header, table  # noqa: E402

from dialogs.engine import Walker  # noqa: E402
from dialogs.loader import load_registry  # noqa: E402
from dialogs.qtypes import kind  # noqa: E402
from dialogs.schema import Program  # noqa: E402
from dialogs.service import Conversation  # noqa: E402
from dialogs.ui import Action, ButtonIn, CommandIn, UserRef  # noqa: E402
from storage import repo  # noqa: E402
from storage.db import create_engine, session_factory  # noqa: E402
from storage.files import FileStore  # noqa: E402
from storage.migrate import upgrade_to_head  # noqa: E402
from tests.walkthrough import PASTED_ROWS, Applicant, event_for  # noqa: E402

NOW = dt.datetime(2026, 5, 20, 2, 0, tzinfo=dt.UTC)


def fields_filled(program: Program, answers: dict[str, Any]) -> int:
    """Values the printed form holds: answered questions and filled table cells."""
    walker = Walker(program, answers, {"mode": "preview"}, today=NOW.date())
    count = 0
    for q in walker.visible():
        value = answers.get(q.id)
        if kind(q).repeats:
            rows = value if isinstance(value, list) else []
            count += sum(1 for row in rows for v in row.values() if v is not None)
        elif value is not None:
            count += 1
    return count


async def declare(conv: Conversation, program: Program, rows: int) -> tuple[int, int, int]:
    """(inputs, fields, table cells) for one declaration of ``program``."""
    user = UserRef("telegram", f"bench-{program.id}-{rows}", "张伟")
    await conv.handle(user, CommandIn("apply"))
    out = await conv.handle(user, ButtonIn(Action.PICK_PROGRAM, 0, 0, 0, program.id))
    inputs = 1
    applicant = Applicant(program, NOW.date(), rows=rows, paste=True, whole=True)
    for _ in range(2000):
        async with conv.sessions() as session:
            person = await repo.get_or_create_user(
                session,
                channel=user.channel,
                external_id=user.external_id,
                display_name="",
                now=NOW,
            )
            apps = await repo.list_applications(session, user_id=person.id or 0)
        app = next(a for a in apps if a.program_id == program.id)
        if app.status == "submitted":
            cells = fields_filled(program, app.answers)
            tables = sum(
                len(v) * len(v[0])
                for v in app.answers.values()
                if isinstance(v, list) and v and isinstance(v[0], dict)
            )
            return inputs, cells, tables
        move = applicant.next_move(app.answers, app.cursor)
        out = await conv.handle(user, event_for(move, out))
        inputs += 1
    raise RuntimeError(f"{program.id}: the declaration did not finish")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=10, help="rows of each team table")
    args = parser.parse_args(argv)
    registry = load_registry()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await upgrade_to_head(url)
        engine = create_engine(url)
        conv = Conversation(
            registry=registry,
            sessions=session_factory(engine),
            files=FileStore(Path(tmp) / "files"),
            clock=lambda: NOW,
        )
        result = []
        for program in registry:
            row = [program.id]
            # A team of three and a team of ``--rows`` (pasted), then the smallest team
            # each table allows (entered row by row below three rows): another person
            # each time.
            for rows in (PASTED_ROWS, args.rows, 0):
                inputs, fields, _ = await declare(conv, program, rows)
                row += [str(inputs), str(fields), f"{inputs / fields:.2f}"]
            result.append(row)
        await engine.dispose()
    print(header("inputs per form field, from picking the program to the confirmed submission"))
    head = ["program"]
    for team in (f"{PASTED_ROWS} rows", f"{args.rows} rows", "smallest"):
        head += [f"inputs ({team})", "fields", "per field"]
    print(table(result, head))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
