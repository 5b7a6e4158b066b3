"""The printed form (申报表) as documents: the applicant's own from the preview,
/status and the naming notice; a reviewer's from the declaration they decide on.

The form is made from what is stored now (the submitted version, each level's
opinion, signer and date) by the desk's form maker and sent as Word, and as PDF
where LibreOffice could make one; each file is written beside the file store
(``FileStore.outgoing``, removed after a day), so every transport sends it as it
sends any document.
"""

from __future__ import annotations

import asyncio
import logging

from dialogs.flows import menus
from dialogs.turn import Turn
from dialogs.ui import Action, Button, ButtonIn, Media, Outcome, Reply, storable
from storage import repo
from storage import review as data
from storage.models import Application, ApplicationStatus

log = logging.getLogger(__name__)

ACTIONS = frozenset({Action.FORM_OWN, Action.REVIEW_FORM})

FOLDER = "forms"
"""Where forms are written to be sent, under the file store's root."""


def own_button(turn: Turn, app: Application) -> Button:
    """「下载申报表」 for the applicant's declaration ``app``."""
    return Button(turn.t("documents.btn.download"), Action.FORM_OWN, app.id or 0)


async def button(turn: Turn, event: ButtonIn) -> Outcome:
    """下载申报表 pressed: the applicant's own declaration, or the one a reviewer's
    task is about (their organisation must hold a role on it); anything else is
    refused as a stale or foreign button is."""
    if not storable(event.arg, event.application_id):
        return await menus.stale(turn)
    if event.action is Action.FORM_OWN:
        app_id = event.arg or event.application_id
        app = await repo.get_application(turn.session, application_id=app_id)
        if (
            app is None
            or app.user_id != turn.user.id
            or app.status == ApplicationStatus.DISCARDED.value
        ):
            return await menus.stale(turn)
        return await send_form(turn, app)
    task = await data.task(turn.session, task_id=event.arg)
    role = (
        await data.role_in(
            turn.session, person_id=turn.user.id or 0, organisation_id=task.organisation_id
        )
        if task is not None
        else None
    )
    app = await turn.session.get(Application, task.application_id) if task is not None else None
    if task is None or role is None or app is None:
        return Outcome(replies=[Reply(text=turn.t("documents.not_yours"))])
    return await send_form(turn, app)


async def send_form(turn: Turn, app: Application) -> Outcome:
    """The form of ``app`` as documents, with a line saying what was sent."""
    maker = turn.desk.forms
    if maker is None or turn.desk.registry.get(app.program_id) is None:
        return Outcome(replies=[Reply(text=turn.t("documents.unavailable"))])
    made = await maker(turn.session, app, loc=turn.loc, today=turn.today())
    media: list[Media] = []
    for name, content in made:  # made to be sent, not kept as an upload is
        path = await turn.desk.files.outgoing(FOLDER, "." + name.rsplit(".", 1)[-1])
        await asyncio.to_thread(path.write_bytes, content)
        media.append(Media(kind="document", name=name, path=str(path)))
    key = "documents.sent" if len(made) > 1 else "documents.sent_word_only"
    text = turn.t(key, title=turn.title_of(app))
    return Outcome(replies=[Reply(text=text, media=media)])
