"""The workbook of a program's declarations (``studiobot export table``): time and
peak memory as the number of declarations grows, to show the export streams.

1. one ``cccc-model`` declaration (three tables: funding, benefit, core members)
   is filled by the scripted applicant on the pure engine, with long texts of
   about 1,000 characters and five rows in each table: its answers are the
   template of every declaration below;
2. a new database (SQLite; with ``--postgres`` also a throw-away PostgreSQL
   database), migrated to head, gets the shipped CCCC tree of organisations and,
   in bulk (core ``insert()``, 1,000 rows a statement), declarations of that
   program in review: a person, the application (status ``in_review``, under the
   example unit) and its submitted version, each with its own leader, studio and
   team members' names;
3. at each size of ``--sizes`` (default 1,000, 5,000, 10,000) the workbook of the
   whole tree (``dialogs.exports.write_table``, as the CLI and ``/export`` call it)
   is written in a fresh child process, twice: once timed, reporting the child's
   peak resident memory (``ru_maxrss``, which counts the libraries loaded too),
   and once under ``tracemalloc``, reporting the peak of Python's own allocations
   during the export alone;
4. printed: declarations, rows of the table sheets, seconds, declarations a second,
   the workbook's size, peak RSS and the tracemalloc peak.  Memory flat as the
   count grows is the claim: one batch (500 declarations) is held at a time.

    .venv/bin/python bench/export_table.py
    .venv/bin/python bench/export_table.py --quick
    .venv/bin/python bench/export_table.py --postgres
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import multiprocessing
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _common import (
    Applicant,
    chosen_backends,
    describe_url,
    header,
    table,
    throwaway_database,
)
from sqlalchemy import func, insert, select

from dialogs.exports import write_table
from dialogs.i18n import Locale
from dialogs.loader import load_registry
from review import orgs
from storage import staff
from storage.db import create_engine, session_factory
from storage.migrate import upgrade_to_head
from storage.models import Application, Person, Submission

PROGRAM = "cccc-model"
ORG_FILE = Path(__file__).resolve().parent.parent / "review" / "examples" / "cccc.yaml"
UNIT, ROOT = "cccc-hg", "cccc"
TODAY = dt.date(2026, 6, 1)
INSERT_BATCH = 1000


def template() -> dict[str, Any]:
    """The answers of one filled declaration (the scripted applicant on the engine)."""
    program = load_registry().get(PROGRAM)
    assert program is not None
    walk = Applicant(program, today=TODAY, long_chars=1000, rows=5)
    walk.start()
    while (move := walk.next_move()) is not None:
        walk.apply(move)
    return walk.answers


def varied(answers: dict[str, Any], n: int) -> dict[str, Any]:
    """A copy with its own leader, studio and team members."""
    out = dict(answers)
    out["leader_name"] = f"张伟{n}"
    out["studio_name"] = f"张伟{n}劳模创新工作室"
    out["core_members"] = [
        {**row, "name": f"成员{n}-{i}"} for i, row in enumerate(answers.get("core_members", []))
    ]
    return out


async def grow(url: str, answers: dict[str, Any], start: int, stop: int) -> None:
    """Insert declarations ``start`` .. ``stop - 1`` (numbers, not ids)."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            unit = await staff.organisation(session, code=UNIT)
            assert unit is not None
            top = (await session.execute(select(func.max(Application.id)))).scalar() or 0
        now = dt.datetime.now(dt.UTC)
        for first in range(start, stop, INSERT_BATCH):
            numbers = range(first, min(stop, first + INSERT_BATCH))
            people, apps, subs = [], [], []
            for n in numbers:
                row_id = top + 1 + n - start
                filled = varied(answers, n)
                people.append(
                    {"id": row_id, "display_name": f"张伟{n}", "created_at": now, "updated_at": now}
                )
                apps.append(
                    {
                        "id": row_id,
                        "user_id": row_id,
                        "program_id": PROGRAM,
                        "status": "in_review",
                        "answers": filled,
                        "cursor": {},
                        "review_level": 1,
                        "organisation_id": unit.id,
                        "submission_no": 1,
                        "created_at": now,
                        "updated_at": now,
                        "submitted_at": now,
                    }
                )
                digest = hashlib.sha256(json.dumps(filled, sort_keys=True).encode()).hexdigest()
                subs.append(
                    {
                        "application_id": row_id,
                        "number": 1,
                        "sha256": digest,
                        "answers": filled,
                        "submitted_at": now,
                    }
                )
            async with engine.begin() as conn:
                await conn.execute(insert(Person), people)
                await conn.execute(insert(Application), apps)
                await conn.execute(insert(Submission), subs)
    finally:
        await engine.dispose()


async def prepare(url: str) -> None:
    await upgrade_to_head(url)
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await orgs.import_file(session, path=ORG_FILE, now=dt.datetime.now(dt.UTC))
    finally:
        await engine.dispose()


async def _export(url: str, out: Path) -> int:
    program = load_registry().get(PROGRAM)
    assert program is not None
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            root = await staff.organisation(session, code=ROOT)
            assert root is not None
            return await write_table(
                session,
                program,
                loc=Locale("zh-CN"),
                zone=ZoneInfo("Asia/Shanghai"),
                path=out,
                under=root.id,
            )
    finally:
        await engine.dispose()


def export_in_child(url: str, out: str, traced: bool) -> dict[str, float]:
    """One export in this (fresh) process: seconds, count, peak RSS and traced peak."""
    if traced:
        tracemalloc.start()
    began = time.perf_counter()
    count = asyncio.run(_export(url, Path(out)))
    seconds = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "count": count,
        "seconds": seconds,
        "rss_mib": rss_kib / 1024,
        "traced_mib": peak / 2**20,
    }


def in_child(url: str, out: Path, traced: bool) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(export_in_child, (url, str(out), traced))


def table_rows(path: Path) -> int:
    """Rows of the table sheets (team members, funding, benefit), headers left out."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    try:
        return sum(sum(1 for _ in s.iter_rows(min_row=2)) for s in book.worksheets[1:])
    finally:
        book.close()


async def run(kind: str, server: str | None, sizes: Sequence[int], tmp: Path) -> list[list[str]]:
    answers = template()
    rows: list[list[str]] = []
    async with throwaway_database(kind, tmp, server) as url:
        print(f"{kind}: {describe_url(url)}", flush=True)
        await prepare(url)
        stored = 0
        for size in sizes:
            began = time.perf_counter()
            await grow(url, answers, stored, size)
            print(f"  {size - stored} declarations inserted in {time.perf_counter() - began:.1f} s")
            stored = size
            out = tmp / f"export-{kind}-{size}.xlsx"
            timed = await asyncio.to_thread(in_child, url, out, False)
            traced = await asyncio.to_thread(in_child, url, out, True)
            assert timed["count"] == size, timed
            rows.append(
                [
                    kind,
                    f"{size:,}",
                    f"{table_rows(out):,}",
                    f"{timed['seconds']:.1f}",
                    f"{size / timed['seconds']:.0f}",
                    f"{out.stat().st_size / 2**20:.1f}",
                    f"{timed['rss_mib']:.0f}",
                    f"{traced['traced_mib']:.1f}",
                ]
            )
            print(f"  {size:,}: {timed['seconds']:.1f} s", flush=True)
    return rows


HEAD = [
    "backend",
    "declarations",
    "table rows",
    "seconds",
    "decl/s",
    "xlsx MiB",
    "peak RSS MiB",
    "traced peak MiB",
]


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1000, 5000, 10000],
        help="declarations at each step, comma separated (default 1000,5000,10000)",
    )
    parser.add_argument("--quick", action="store_true", help="sizes 200,500,1000")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL too")
    parser.add_argument("--database-url", help="PostgreSQL server for --postgres")
    args = parser.parse_args(argv)
    sizes = [200, 500, 1000] if args.quick else sorted(args.sizes)
    print(header("export table: one program's declarations as an .xlsx"), flush=True)
    backends, server = await chosen_backends(args.postgres, args.database_url)
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="studiobot-bench-") as tmp:
        for kind in backends:
            rows += await run(kind, server, sizes, Path(tmp))
    print()
    print(table(rows, HEAD))


if __name__ == "__main__":
    asyncio.run(main())
