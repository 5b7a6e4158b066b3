"""Messages that leave through the outbox, seen from the conversation's side.

``storage.outbox`` keeps rows; this module turns a row back into a
:class:`~dialogs.ui.Reply` for any channel (Telegram builds its keyboard from
it, the terminal numbers its buttons), and tells administrators when a person
can no longer be reached, in words from the locale files.  It knows no
transport, so a second channel's sender does the same with the same code.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.i18n import Locale
from dialogs.ui import Action, Button, Reply
from storage import outbox
from storage.models import ChannelIdentity, OutboxMessage, OutboxPriority, Person

log = logging.getLogger(__name__)


def reply_of(message: OutboxMessage) -> Reply:
    """The row as a reply: its text, its buttons and the state they were sent for.

    ``ValueError`` for a button whose action this version does not know (a row
    written by a newer version): sending it would give the person a dead button.
    """
    rows = [
        [Button(b["label"], Action(b["action"]), b["arg"], b["key"]) for b in row]
        for row in outbox.stored_rows(message)
    ]
    return Reply(
        text=message.text,
        buttons=[row for row in rows if row],
        application_id=message.application_id or 0,
        revision=message.revision,
    )


def channel_name(loc: Locale, channel: str) -> str:
    """A channel as people call it (Telegram, the terminal), or its id when unnamed."""
    key = f"outbox.channel.{channel}"
    return loc.t(key) if loc.has(key) else channel


async def tell_admins_unreachable(
    session: AsyncSession, *, identity: ChannelIdentity, now: dt.datetime, loc: Locale
) -> int:
    """Enqueue, in the caller's transaction, a notice to each administrator of the
    organisations where the unreachable person holds a role; how many.  Without
    one, the fact is logged: someone must learn that messages stop reaching them.

    One notice per administrator and blocking episode (the key holds the time
    the identity was marked), so a second sender seeing the same refusal, or the
    next message bouncing, tells nobody twice.
    """
    person = await session.get(Person, identity.person_id)
    admins = await outbox.administrators_of(session, person_id=identity.person_id)
    if not admins:
        log.warning(
            "person %s cannot be reached on %s and has no administrator to tell",
            identity.person_id,
            identity.channel,
        )
        return 0
    marked = identity.unreachable_at or now
    text = loc.t(
        "outbox.unreachable",
        name=person.display_name if person is not None else str(identity.person_id),
        channel=channel_name(loc, identity.channel),
    )
    for admin in admins:
        await outbox.enqueue(
            session,
            person_id=admin.id or 0,
            text=text,
            priority=OutboxPriority.ROUTINE,
            dedupe_key=f"unreachable:{identity.id}:{admin.id}:{marked.timestamp():.0f}",
            now=now,
        )
    log.info(
        "person %s cannot be reached on %s; %d administrator(s) told",
        identity.person_id,
        identity.channel,
        len(admins),
    )
    return len(admins)
