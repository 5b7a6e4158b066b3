"""A group's table as a spreadsheet: the template sent as a document, and a
filled-in sheet read back into rows waiting for confirmation.

The template is made from the definition (nothing the user typed goes into
it) and kept in the file store like any file, so every transport sends it the
way it sends a reviewer an applicant's documents (``Media``).  A sheet sent
back is never stored as an attachment: its cells become rows, shown back to
confirm exactly as a paste is.
"""

from __future__ import annotations

from dialogs import workbook
from dialogs.engine import Walker
from dialogs.tables import SHEET_LIMIT_BYTES
from dialogs.turn import Turn
from dialogs.ui import Action, Media, Outcome, Reply
from storage.files import MIME_XLSX, sniff_mime
from storage.models import Application


async def template(turn: Turn, app: Application, walker: Walker) -> Outcome:
    """Send the template of the group whose menu is shown."""
    group = walker.group_menu_question()
    if group is None:  # no table's menu is shown now: the press says so
        return await turn.apply(app, walker, walker.on_button(Action.TABLE_TEMPLATE, 0))
    data = workbook.template(group, turn.loc)
    stored = await turn.desk.files.save(data, suffix=".xlsx")
    media = Media(
        kind="document",
        name=turn.t("table.sheet.name", label=group.label),
        path=str(turn.desk.files.root / stored.path),
    )
    reply = Reply(
        text=turn.t("table.sheet.sent", label=group.label),
        application_id=app.id or 0,
        revision=app.revision,
        media=[media],
    )
    return Outcome(replies=[reply, *turn.current(app)])


async def receive(turn: Turn, app: Application, walker: Walker, data: bytes | None) -> Outcome:
    """A file sent at a group's menu: an .xlsx is read into rows, anything else refused."""
    if data is not None and len(data) > SHEET_LIMIT_BYTES:
        return refused(turn, app, "table.sheet.too_big")
    if data is None or sniff_mime(data) != MIME_XLSX or not workbook.is_xlsx(data):
        return refused(turn, app, "table.sheet.not_xlsx")
    try:
        grid = workbook.read_cells(data)
    except workbook.NotAWorkbook:
        return refused(turn, app, "table.sheet.unreadable")
    group = walker.group_menu_question()
    hints = workbook.hints(group, turn.loc) if group is not None else []
    return await turn.apply(app, walker, walker.on_sheet(grid, hints))


def refused(turn: Turn, app: Application, key: str) -> Outcome:
    """Why a file sent at a group's menu was not read, then the menu again."""
    text = turn.t(key, max_mb=f"{SHEET_LIMIT_BYTES / 1024 / 1024:g}")
    return Outcome(replies=[Reply(text=text), *turn.current(app)])
