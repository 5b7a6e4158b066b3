"""``studiobot org``: the organisations' tree, imported from a file and shown, for
whoever runs the product."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from dialogs.i18n import Locale
from review import orgs
from review.orgfile import OrgFileError
from storage.db import SessionFactory, create_engine, session_factory
from storage.migrate import upgrade_to_head
from studiobot.settings import Settings

KEPT_SHOWN = 10
"""At most this many codes of organisations kept (not in the file) are named."""


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``org`` command."""
    org = sub.add_parser("org", help="organisations: import the tree from a file, list it")
    osub = org.add_subparsers(dest="action", required=True)
    imp = osub.add_parser("import", help="add or update organisations from a YAML file")
    imp.add_argument("file", type=Path)
    osub.add_parser("list", help="the tree of organisations: code, name, kind")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[SessionFactory]:
    await upgrade_to_head(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


def org(args: argparse.Namespace, settings: Settings, loc: Locale) -> int:
    """``org import FILE`` and ``org list``."""
    if args.action == "import":
        return asyncio.run(_import(settings, loc, args.file))
    return asyncio.run(_list(settings, loc))


async def _import(settings: Settings, loc: Locale, path: Path) -> int:
    try:
        async with _database(settings) as sessions, sessions() as session, session.begin():
            counts = await orgs.import_file(session, path=path, now=_now())
    except OrgFileError as exc:
        print(loc.t("staff.cli.refused"), file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(
        loc.t(
            "staff.cli.imported",
            file=path,
            added=counts.added,
            updated=counts.updated,
            unchanged=counts.unchanged,
        )
    )
    if counts.kept:
        key = "staff.cli.kept_more" if len(counts.kept) > KEPT_SHOWN else "staff.cli.kept"
        codes = loc.t("staff.cli.code_sep").join(counts.kept[:KEPT_SHOWN])
        print(loc.t(key, count=len(counts.kept), codes=codes))
    return 0


async def _list(settings: Settings, loc: Locale) -> int:
    async with _database(settings) as sessions, sessions() as session, session.begin():
        lines = await orgs.tree(session)
    if not lines:
        print(loc.t("staff.cli.tree_empty"))
        return 0
    out = [
        loc.t(
            "staff.cli.tree_line",
            indent="  " * line.depth,
            code=line.org.code,
            name=line.org.name,
            kind=line.org.kind,
        )
        for line in lines
    ]
    out.append(loc.t("staff.cli.tree_total", count=len(lines)))
    print("\n".join(out))
    return 0
