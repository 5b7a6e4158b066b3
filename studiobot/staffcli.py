"""``studiobot org`` and ``studiobot invite``: the organisations' tree and the links
that let union staff in, for whoever runs the product.

Invitations made here have no person behind them in the audit log (the
operator at the command line); the token is printed once and only its hash is
stored, so a lost link is revoked and made again, never shown again.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot import logsafe
from dialogs.flows.staff import ROLE_KEYS
from dialogs.i18n import Locale
from review import invites, orgs
from review.invites import Verdict
from review.orgfile import OrgFileError
from storage import staff
from storage.db import SessionFactory, create_engine, session_factory
from storage.migrate import upgrade_to_head
from storage.models import StaffRole
from studiobot.settings import Settings

KEPT_SHOWN = 10
"""At most this many codes of organisations kept (not in the file) are named."""


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``org`` and ``invite`` commands."""
    org = sub.add_parser("org", help="organisations: import the tree from a file, list it")
    osub = org.add_subparsers(dest="action", required=True)
    imp = osub.add_parser("import", help="add or update organisations from a YAML file")
    imp.add_argument("file", type=Path)
    osub.add_parser("list", help="the tree of organisations: code, name, kind")
    invite = sub.add_parser(
        "invite", help="a one-time link making someone reviewer or admin of an organisation"
    )
    invite.add_argument("--org", help="the organisation's code")
    invite.add_argument("--role", choices=[r.value for r in StaffRole])
    invite.add_argument(
        "--days", type=int, default=invites.DEFAULT_DAYS, help="days the link works (default 7)"
    )
    isub = invite.add_subparsers(dest="action")
    revoke = isub.add_parser("revoke", help="make an unused invitation unusable")
    revoke.add_argument("reference", help="the invitation's number (printed), its link or token")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[SessionFactory]:
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
        async with database(settings) as sessions, sessions() as session, session.begin():
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
    async with database(settings) as sessions, sessions() as session, session.begin():
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


def invite(args: argparse.Namespace, settings: Settings, loc: Locale) -> int:
    """``invite --org CODE --role R [--days N]`` and ``invite revoke REFERENCE``."""
    if args.action == "revoke":
        return asyncio.run(_revoke(settings, loc, args.reference))
    if not args.org or not args.role:
        print(loc.t("staff.cli.needs_org_role"), file=sys.stderr)
        return 2
    if not 1 <= args.days <= invites.MAX_DAYS:
        print(loc.t("staff.cli.bad_days", max=invites.MAX_DAYS), file=sys.stderr)
        return 2
    return asyncio.run(_invite(settings, loc, args.org, StaffRole(args.role), args.days))


async def _invite(settings: Settings, loc: Locale, code: str, role: StaffRole, days: int) -> int:
    async with database(settings) as sessions, sessions() as session, session.begin():
        found = await staff.organisation(session, code=code)
        if found is None:
            print(loc.t("staff.cli.no_org", code=code), file=sys.stderr)
            return 1
        created = await invites.create(
            session, organisation=found, role=role, days=days, now=_now()
        )
    expires = created.invitation.expires_at.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M")
    print(
        loc.t(
            "staff.cli.invite_made",
            organisation=found.name,
            role=loc.t(ROLE_KEYS[role]),
            id=created.invitation.id,
            expires=expires,
        )
    )
    username, hint = await bot_username(settings, loc)
    if username:
        print(invites.start_link(username, created.token))
    else:
        print(hint)
        print(created.token)
    print(loc.t("staff.cli.revoke_hint", id=created.invitation.id))
    return 0


async def bot_username(settings: Settings, loc: Locale) -> tuple[str | None, str]:
    """The bot's username (configured, or asked of the Bot API with the token), or
    None and a one-line hint saying why there is none."""
    if settings.bot_username:
        return settings.bot_username, ""
    token = settings.bot_token.get_secret_value() if settings.bot_token else ""
    if not token:
        return None, loc.t("staff.cli.invite_bare")
    # Imported here: aiogram is slow to import and only this path needs it.
    from aiogram.exceptions import AiogramError

    from bot.identity import fetch_username

    try:
        return await fetch_username(settings.telegram()), ""
    except (AiogramError, ValueError, OSError, TimeoutError) as exc:
        error = logsafe.redact(str(exc), [token])
        return None, loc.t("staff.cli.invite_getme_failed", error=error)


async def _revoke(settings: Settings, loc: Locale, reference: str) -> int:
    async with database(settings) as sessions, sessions() as session, session.begin():
        found = await invites.find(session, reference=reference)
        if found is None:
            print(loc.t("staff.cli.revoke_unknown"), file=sys.stderr)
            return 1
        verdict = await invites.revoke(session, invitation=found, now=_now())
        place = await staff.organisation(session, organisation_id=found.organisation_id)
    if verdict is Verdict.USED:
        print(loc.t("staff.cli.revoke_used", id=found.id), file=sys.stderr)
        return 1
    if verdict is Verdict.REVOKED:
        print(loc.t("staff.cli.revoke_again", id=found.id))
        return 0
    name = place.name if place is not None else ""
    role = loc.t(ROLE_KEYS[StaffRole(found.role)])
    print(loc.t("staff.cli.revoked", id=found.id, organisation=name, role=role))
    return 0
