"""``studiobot export table``: one program's submitted declarations as an .xlsx
workbook (``dialogs.exports``), for the whole tree or one organisation's part of it.

A program, organisation or status that does not exist is refused in one line
naming the valid ones; nothing is written then.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from dialogs.exports import write_table
from dialogs.i18n import Locale
from storage import staff
from storage.exports import EXPORTED_VALUES
from studiobot.app import load_programs
from studiobot.settings import Settings
from studiobot.staffcli import database

ORGS_LISTED = 20
"""Organisation codes a refusal names at most (a city's tree holds thousands)."""


def add_parser(export: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``export table`` under the ``export`` command."""
    table = export.add_parser(
        "table", help="one program's submitted declarations as an .xlsx, one row each"
    )
    table.add_argument("--program", required=True, help="the program's id")
    table.add_argument("--org", help="only declarations under this organisation (its code)")
    table.add_argument("--status", help="only declarations with this status")
    table.add_argument("--out", required=True, type=Path, help="the .xlsx file to write")


def table(args: argparse.Namespace, settings: Settings, loc: Locale) -> int:
    """Write the workbook; 2 when the program, organisation, status or file is refused."""
    return asyncio.run(_table(args, settings, loc))


def _refuse(loc: Locale, key: str, **params: object) -> int:
    print(loc.t(key, **params), file=sys.stderr)
    return 2


async def _table(args: argparse.Namespace, settings: Settings, loc: Locale) -> int:
    registry = load_programs(settings, quiet=True)
    program = registry.get(args.program)
    if program is None:
        valid = ", ".join(p.id for p in registry)
        return _refuse(loc, "export.cli.unknown_program", value=args.program, valid=valid)
    statuses = list(EXPORTED_VALUES)
    if args.status is not None and args.status not in statuses:
        valid = ", ".join(statuses)
        return _refuse(loc, "export.cli.unknown_status", value=args.status, valid=valid)
    out: Path = args.out
    if out.suffix.lower() != ".xlsx":
        return _refuse(loc, "export.cli.not_xlsx", path=out)
    async with database(settings) as sessions, sessions() as session:
        under = None
        if args.org is not None:
            org = await staff.organisation(session, code=args.org)
            if org is None:
                codes = [row.code for row in await staff.organisation_rows(session)]
                valid = _some(loc, codes)
                return _refuse(loc, "export.cli.unknown_org", value=args.org, valid=valid)
            under = org.id
        try:
            count = await write_table(
                session,
                program,
                loc=loc,
                zone=ZoneInfo(settings.timezone),
                path=out,
                under=under,
                statuses=[args.status] if args.status else statuses,
            )
        except OSError as exc:
            print(loc.t("export.cli.unwritable", path=out, error=exc), file=sys.stderr)
            return 1
    print(loc.t("export.cli.done", count=count, path=out))
    return 0


def _some(loc: Locale, codes: list[str]) -> str:
    """The codes, or the first of them and how many there are."""
    if len(codes) <= ORGS_LISTED:
        return ", ".join(codes) or "-"
    shown = ", ".join(codes[:ORGS_LISTED])
    return loc.t("export.cli.more_orgs", shown=shown, count=len(codes))
