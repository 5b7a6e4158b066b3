"""An administrator of the issuing union places a declaration whose organisation is
not known (the applicant found theirs in no list and typed its name, or a
level's deciding body is missing under it): they search the organisation by
name, pick it, and the declaration goes on to the level that waited."""

from __future__ import annotations

from dialogs import announce
from dialogs.flows import menus, review
from dialogs.flows.orgsearch import find
from dialogs.qtypes.base import stable_key
from dialogs.schema import Program
from dialogs.turn import Turn
from dialogs.ui import Action, Button, ButtonIn, Outcome, Reply, storable
from review import chain
from storage import repo, staff
from storage.models import Application, ApplicationStatus

ACTIONS = frozenset({Action.PLACE, Action.PLACE_PICK})
DEFAULT_KINDS = ["unit", "grassroots"]


async def _placeable(turn: Turn, app_id: int) -> tuple[Application, Program] | None:
    """The declaration, if it waits for a placement and the person administers its
    program's issuing union now."""
    app = await repo.get_application(turn.session, application_id=app_id, for_update=True)
    program = turn.desk.registry.get(app.program_id) if app is not None else None
    if app is None or program is None or app.status != ApplicationStatus.SUBMITTED.value:
        return None
    union = await chain.issuer(turn.session, program)
    if union is None or not await review.admin_of(turn, union.id or 0):
        return None
    return app, program


def _kinds(program: Program) -> list[str]:
    if program.applicant_org is None:
        return DEFAULT_KINDS
    return list(program.question(program.applicant_org).kinds or DEFAULT_KINDS)


async def button(turn: Turn, event: ButtonIn) -> Outcome:
    """归入单位 pressed, or one of the organisations found."""
    if not storable(event.arg):
        return await menus.stale(turn)
    found = await _placeable(turn, event.arg)
    if found is None:
        return turn.menu(turn.t("review.place.not_yours"))
    app, program = found
    if event.action is Action.PLACE:
        turn.user.pending = {"kind": "place", "app": app.id, "found": []}
        typed = app.answers.get(program.applicant_org or "")
        name = typed.get("name", "") if isinstance(typed, dict) else ""
        text = turn.t("review.place.ask", title=turn.title_of(app), unit=name)
        cancel = [[Button(turn.t("review.btn.cancel"), Action.REVIEW_CANCEL)]]
        return Outcome(replies=[Reply(text=text, buttons=cancel, expects_text=True)])
    pending = turn.user.pending or {}
    codes = [c for c, _ in pending.get("found", []) if stable_key(c) == event.key]
    org = await staff.organisation(turn.session, code=codes[0]) if codes else None
    if pending.get("app") != app.id or org is None:
        return await menus.stale(turn)
    moved = await chain.place(
        turn.session, app=app, program=program, org=org, person_id=turn.user.id or 0, now=turn.now
    )
    if moved is None:
        return Outcome(
            replies=[Reply(text=turn.t("review.place.unresolved", organisation=org.name))]
        )
    turn.user.pending = {}
    await announce.new_tasks(turn, program, moved)
    await announce.tell_applicant(turn, program, moved, decided=None)
    return turn.menu(turn.t("review.place.done", title=turn.title_of(app), organisation=org.name))


async def text(turn: Turn, typed: str) -> Outcome | None:
    """A search typed while placing; None when no placement waits for text."""
    pending = turn.user.pending or {}
    if pending.get("kind") != "place":
        return None
    found = await _placeable(turn, int(pending.get("app") or 0))
    if found is None:
        turn.user.pending = {}
        return turn.menu(turn.t("review.place.not_yours"))
    app, program = found
    matches, more = await find(turn, program, _kinds(program), typed)
    turn.user.pending = {**pending, "found": matches}
    buttons = [
        [Button(name, Action.PLACE_PICK, app.id or 0, stable_key(code))] for code, name in matches
    ]
    buttons.append([Button(turn.t("review.btn.cancel"), Action.REVIEW_CANCEL)])
    key = "review.place.found" if matches else "review.place.none"
    text = turn.t(key, typed=" ".join(typed.split()), count=len(matches), more=more)
    return Outcome(replies=[Reply(text=text, buttons=buttons, expects_text=True)])
