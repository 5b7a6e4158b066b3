"""``/export``: an administrator's workbook of the declarations under their
organisation, sent as a document.

Which organisation (when they administer several), then which program (when
the bot serves several); every press is checked again on the server: the role
held now, in the organisation the button names.  Only the declarations of that
organisation's subtree are read (``storage.exports``), the latest submitted
version of each; drafts never leave.  The workbook is written to a file of its
own beside the file store (``FileStore.outgoing``: removed after a day) and
sent as every document is (``Media``).
"""

from __future__ import annotations

from dialogs import exports
from dialogs.flows import staff as staff_flow
from dialogs.schema import Program
from dialogs.turn import Turn
from dialogs.ui import Action, Button, ButtonIn, Media, Outcome, Reply
from storage.models import Organisation

ACTIONS = frozenset({Action.EXPORT_ORG, Action.EXPORT_PROGRAM})

FOLDER = "exports"
"""Where workbooks are written, under the file store's root."""


async def export(turn: Turn) -> Outcome:
    """Which organisation (when several), which program (when several), then the file."""
    orgs = await staff_flow.administered(turn)
    if not orgs:
        return turn.menu(turn.t("export.not_admin"))
    if len(orgs) == 1:
        return await _programs(turn, orgs[0])
    buttons = [[Button(o.name, Action.EXPORT_ORG, o.id or 0)] for o in orgs]
    return Outcome(replies=[Reply(text=turn.t("export.pick_org"), buttons=buttons)])


async def _programs(turn: Turn, org: Organisation) -> Outcome:
    programs = list(turn.desk.registry)
    if len(programs) == 1:
        return await _send(turn, org, programs[0])
    buttons = [
        [Button(p.button_title, Action.EXPORT_PROGRAM, org.id or 0, key=p.id)] for p in programs
    ]
    return Outcome(replies=[Reply(text=turn.t("export.pick_program"), buttons=buttons)])


async def button(turn: Turn, event: ButtonIn) -> Outcome:
    """An organisation or a program picked; the presser must administer it now."""
    org = next((o for o in await staff_flow.administered(turn) if o.id == event.arg), None)
    if org is None:
        return turn.menu(turn.t("staff.forbidden"))
    if event.action is Action.EXPORT_ORG:
        return await _programs(turn, org)
    program = turn.desk.registry.get(event.key)
    if program is None:
        return turn.menu(turn.t("staff.forbidden"))
    return await _send(turn, org, program)


async def _send(turn: Turn, org: Organisation, program: Program) -> Outcome:
    path = await turn.desk.files.outgoing(FOLDER, ".xlsx")
    count = await exports.write_table(
        turn.session, program, loc=turn.loc, zone=turn.desk.zone, path=path, under=org.id
    )
    title = program.button_title
    if not count:
        path.unlink(missing_ok=True)
        return turn.menu(turn.t("export.none", organisation=org.name, program=title))
    name = turn.t("export.file_name", program=program.id, date=turn.today().isoformat())
    text = turn.t("export.sent", organisation=org.name, program=title, count=count)
    media = Media(kind="document", name=name, path=str(path))
    return Outcome(replies=[Reply(text=text, media=[media])])
