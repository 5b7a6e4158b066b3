"""Importing the tree of organisations and drawing it.

Importing is idempotent and never deletes: an entry is matched to a stored
organisation by its code; a changed name, kind or parent is updated; an entry
no longer in the file stays (reviewers may hold roles in it and declarations
may be routed to it), and the caller says how many stayed.  The file is
checked whole against what is stored before the first write.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from review.orgfile import OrgEntry, check_entries, read_org_file
from storage import staff
from storage.models import Organisation
from storage.staff import OrgRow


@dataclass(frozen=True)
class ImportCounts:
    """What an import did; ``kept`` lists the stored codes the file no longer names."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: list[str] = field(default_factory=list)


async def import_file(session: AsyncSession, *, path: Path, now: dt.datetime) -> ImportCounts:
    """Check ``path`` against the stored tree and bring the tree in line with it;
    :class:`~review.orgfile.OrgFileError` (nothing written) if the file is unsound."""
    raw = read_org_file(path)
    stored = await staff.organisations(session)
    by_id = {o.id: o for o in stored}
    parents = {o.code: (by_id[o.parent_id].code if o.parent_id in by_id else None) for o in stored}
    entries = check_entries(raw, file=str(path), stored=parents)
    return await import_entries(session, entries=entries, stored=stored, now=now)


async def import_entries(
    session: AsyncSession, *, entries: list[OrgEntry], stored: list[Organisation], now: dt.datetime
) -> ImportCounts:
    """Store checked entries: new ones first (to learn their ids), then every parent."""
    by_code = {o.code: o for o in stored}
    before = {o.code: (o.name, o.kind, o.parent_id) for o in stored}
    added = 0
    for entry in entries:
        org = by_code.get(entry.code)
        if org is None:
            org = staff.add_organisation(
                session, code=entry.code, name=entry.name, kind=entry.kind.value, now=now
            )
            by_code[entry.code] = org
            added += 1
        else:
            org.name, org.kind = entry.name, entry.kind.value
    await session.flush()
    updated = 0
    for entry in entries:
        org = by_code[entry.code]
        org.parent_id = by_code[entry.parent].id if entry.parent is not None else None
        if entry.code in before and before[entry.code] != (org.name, org.kind, org.parent_id):
            org.updated_at = now
            updated += 1
    await session.flush()
    named = {e.code for e in entries}
    kept = [o.code for o in stored if o.code not in named]
    unchanged = len(entries) - added - updated
    return ImportCounts(added=added, updated=updated, unchanged=unchanged, kept=kept)


@dataclass(frozen=True)
class TreeLine:
    """One organisation in the drawn tree, ``depth`` levels below its root."""

    depth: int
    org: OrgRow


async def tree(session: AsyncSession) -> list[TreeLine]:
    """Every organisation under its parent, children in the order they were added;
    one query, so a union of thousands of entries is drawn at once."""
    return arrange(await staff.organisation_rows(session))


def arrange(rows: list[OrgRow]) -> list[TreeLine]:
    """Rows in tree order (depth first).  A row whose parent is missing (impossible
    through the import, which checks) is shown as a root rather than lost."""
    ids = {r.id for r in rows}
    children: dict[int | None, list[OrgRow]] = defaultdict(list)
    for row in rows:
        children[row.parent_id if row.parent_id in ids else None].append(row)
    out: list[TreeLine] = []
    stack = [(0, row) for row in reversed(children[None])]
    seen: set[int] = set()
    while stack:
        depth, row = stack.pop()
        if row.id in seen:
            continue
        seen.add(row.id)
        out.append(TreeLine(depth, row))
        stack += [(depth + 1, child) for child in reversed(children[row.id])]
    return out
