"""``/announce``: an administrator writes to the leaders of every declaration and
studio under their organisation, through the outbox, after a preview.

The text is shown back with the number of people it reaches, and goes only on
a press of 发送; every step is checked again on the server (the role held
now, the organisation named by the button).  The announcement is one audit
row, and each message's key names it and its recipient, so a press twice
sends it once.
"""

from __future__ import annotations

from typing import Any

from dialogs.flows import staff as staff_flow
from dialogs.turn import Turn
from dialogs.ui import Action, Button, ButtonIn, Outcome, Reply
from review.audit import AuditAct, record
from storage import outbox
from storage import reminders as data
from storage.models import Organisation, OutboxPriority, StaffRole

ACTIONS = frozenset({Action.ANNOUNCE_ORG, Action.ANNOUNCE_SEND})
TEXT_CHARS = 2000


async def announce(turn: Turn) -> Outcome:
    """Which organisation (when several), then the text."""
    orgs = await staff_flow.administered(turn)
    if not orgs:
        return turn.menu(turn.t("staff.not_admin"))
    if len(orgs) == 1:
        return _ask(turn, orgs[0])
    buttons = [[Button(o.name, Action.ANNOUNCE_ORG, o.id or 0)] for o in orgs]
    return Outcome(replies=[Reply(text=turn.t("announce.pick"), buttons=buttons)])


def _ask(turn: Turn, org: Organisation) -> Outcome:
    turn.user.pending = {"kind": "announce", "org": org.id}
    cancel = [[Button(turn.t("review.btn.cancel"), Action.REVIEW_CANCEL)]]
    text = turn.t("announce.ask", organisation=org.name)
    return Outcome(replies=[Reply(text=text, buttons=cancel, expects_text=True)])


async def _org(turn: Turn, org_id: Any) -> Organisation | None:
    """The organisation, if the person administers it now."""
    return next((o for o in await staff_flow.administered(turn) if o.id == org_id), None)


async def text(turn: Turn, typed: str) -> Outcome | None:
    """The announcement typed: its preview with the number it reaches."""
    pending = turn.user.pending or {}
    if pending.get("kind") != "announce":
        return None
    org = await _org(turn, pending.get("org"))
    if org is None:
        turn.user.pending = {}
        return turn.menu(turn.t("staff.forbidden"))
    words = typed.strip()
    if not words or len(words) > TEXT_CHARS:
        reply = Reply(text=turn.t("announce.length", max=TEXT_CHARS, length=len(words)))
        return Outcome(replies=[reply])
    people = await data.leaders_under(turn.session, organisation_id=org.id or 0)
    turn.user.pending = {"kind": "announce", "org": org.id, "text": words}
    buttons = [
        [Button(turn.t("announce.btn.send", count=len(people)), Action.ANNOUNCE_SEND, org.id or 0)],
        [Button(turn.t("review.btn.cancel"), Action.REVIEW_CANCEL)],
    ]
    preview = turn.t("announce.preview", organisation=org.name, count=len(people), text=words)
    return Outcome(replies=[Reply(text=preview, buttons=buttons, expects_text=True)])


async def button(turn: Turn, event: ButtonIn) -> Outcome:
    """An organisation picked, or 发送 pressed (after the preview only)."""
    org = await _org(turn, event.arg)
    if org is None:
        return turn.menu(turn.t("staff.forbidden"))
    if event.action is Action.ANNOUNCE_ORG:
        return _ask(turn, org)
    pending = turn.user.pending or {}
    words = pending.get("text")
    if pending.get("kind") != "announce" or pending.get("org") != org.id or not words:
        return turn.menu(turn.t("announce.nothing"))
    turn.user.pending = {}
    people = await data.leaders_under(turn.session, organisation_id=org.id or 0)
    entry = record(
        turn.session,
        act=AuditAct.ANNOUNCED,
        now=turn.now,
        person_id=turn.user.id,
        organisation_id=org.id,
        role=StaffRole.ADMIN.value,
        detail={"text": words, "recipients": len(people)},
    )
    await turn.session.flush()
    body = turn.t("announce.message", organisation=org.name, text=words)
    planned: list[outbox.Planned] = [
        {
            "person_id": person_id,
            "text": body,
            "buttons": [],
            "priority": int(OutboxPriority.BULK),
            "dedupe_key": f"ann:{entry.id}:{person_id}",
            "not_before": turn.now,
            "expires_at": None,
            "application_id": None,
            "revision": 0,
        }
        for person_id in people
    ]
    sent = await outbox.enqueue_many(turn.session, planned=planned, now=turn.now)
    return turn.menu(turn.t("announce.done", count=sent, organisation=org.name))
