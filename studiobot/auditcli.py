"""``studiobot audit --application ID``: how a declaration was decided, act by act.

Prints the append-only audit log of one declaration, oldest first: when, what,
who (and as what role, for which organisation), the opinion and the hash of
the version it was given on, so that what a union files can be checked
against what happened.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from dialogs.i18n import Locale
from storage.models import Application, AuditEntry, Organisation, Person
from studiobot.settings import Settings
from studiobot.staffcli import database

HASH_SHOWN = 12
"""Characters of a version's SHA-256 printed (the whole hash is in the database)."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``audit`` command."""
    audit = sub.add_parser("audit", help="the audit log of one declaration, oldest first")
    audit.add_argument("--application", type=int, required=True, help="the declaration's number")


def audit(args: argparse.Namespace, settings: Settings, loc: Locale) -> int:
    """Print the log; 1 when there is no such declaration."""
    return asyncio.run(_audit(settings, loc, args.application))


async def _audit(settings: Settings, loc: Locale, app_id: int) -> int:
    zone = ZoneInfo(settings.timezone)
    async with database(settings) as sessions, sessions() as session:
        app = await session.get(Application, app_id) if 0 < app_id < 2**31 else None
        if app is None:
            print(loc.t("staff.cli.audit_none", id=app_id), file=sys.stderr)
            return 1
        rows = await session.execute(
            select(AuditEntry, Person, Organisation)
            .outerjoin(Person, col(Person.id) == col(AuditEntry.person_id))
            .outerjoin(Organisation, col(Organisation.id) == col(AuditEntry.organisation_id))
            .where(AuditEntry.application_id == app_id)
            .order_by(col(AuditEntry.at), col(AuditEntry.id))
        )
        entries = rows.all()
    print(loc.t("staff.cli.audit_title", id=app_id, program=app.program_id, status=app.status))
    for entry, person, org in entries:
        print(
            loc.t(
                "staff.cli.audit_line",
                at=entry.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                act=entry.act,
                who=(person.display_name or f"#{person.id}")
                if person
                else loc.t("staff.cli.audit_system"),
                role=entry.role or "-",
                organisation=org.name if org is not None else "-",
                opinion=entry.opinion or "",
                version=(entry.version_sha256 or "")[:HASH_SHOWN] or "-",
                detail=", ".join(f"{k}={v}" for k, v in sorted(entry.detail.items())),
            )
        )
    print(loc.t("staff.cli.audit_total", count=len(entries)))
    return 0
