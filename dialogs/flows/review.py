"""Union staff at their desk: the inbox, a declaration's card, reading it section by
section, and deciding with a written opinion.

A press only starts an act: 同意, 退回修改 and 不同意 ask for the opinion text
(with suggestions), which the person's next message gives; the act is carried
out by ``review.chain`` when the text arrives, and every rule is checked again
then (role, task still open, same version), since a press and its opinion
are two events that anything may happen between.  What an act changes is
announced to the others through the outbox (``dialogs.announce``), in the
same transaction.
"""

from __future__ import annotations

from typing import Any

from dialogs import announce
from dialogs.engine import Walker
from dialogs.qtypes import kind
from dialogs.render import render
from dialogs.schema import Program, Question, ReviewLevel, Section
from dialogs.screens import section_page
from dialogs.turn import Turn
from dialogs.ui import Action, Button, ButtonIn, Media, Outcome, Reply, storable
from dialogs.view import View
from review import chain
from review.chain import Act, Decision, Verdict
from storage import repo, staff
from storage import review as data
from storage.models import Application, Organisation, ReviewTask, StaffRole

OPINION_CHARS = 2000
"""Longest opinion kept: an opinion box holds a paragraph, not an essay."""

STARTS = {
    Action.REVIEW_APPROVE: "approve",
    Action.REVIEW_RETURN: "return",
    Action.REVIEW_REJECT: "reject",
    Action.REVIEW_VOTE_YES: "yes",
    Action.REVIEW_VOTE_NO: "no",
}
ACTIONS = frozenset(
    {
        *STARTS,
        Action.REVIEW_SHOW,
        Action.REVIEW_READ,
        Action.REVIEW_SUGGEST,
        Action.REVIEW_CANCEL,
        Action.INBOX,
    }
)
INBOX_SHOWN = 20
"""Items listed by /inbox (oldest first); the count says how many more wait."""


def _program(turn: Turn, app: Application) -> Program | None:
    return turn.desk.registry.get(app.program_id)


# --------------------------------------------------------------------------- the inbox


async def inbox(turn: Turn) -> Outcome:
    """``/inbox``: what waits at the person's organisations, oldest first, with days waited."""
    items = await data.inbox(turn.session, person_id=turn.user.id or 0, limit=INBOX_SHOWN)
    if not items:
        return turn.menu(turn.t("review.inbox.empty"))
    total = await data.count_inbox(turn.session, person_id=turn.user.id or 0)
    lines = [turn.t("review.inbox.title", count=total)]
    buttons: list[list[Button]] = []
    for n, item in enumerate(items, start=1):
        program = _program(turn, item.application)
        if program is None:
            continue
        level = program.review_chain[item.task.level]
        days = (turn.now - item.task.opened_at).days
        params = {
            "n": n,
            "title": turn.title_of(item.application),
            "applicant": item.applicant.display_name or "",
            "level": level.reviewer,
            "organisation": await turn.org_name(item.organisation),
            "days": days,
        }
        line = turn.t("review.inbox.line", **params)
        if level.panel and await _gave_opinion(turn, item.task):
            line += turn.t("review.inbox.opined")
        lines.append(line)
        label = turn.t("review.btn.open", n=n, title=turn.title_of(item.application))
        buttons.append([Button(label, Action.REVIEW_SHOW, item.task.id or 0)])
    if total > len(items):
        lines.append(turn.t("review.inbox.more", count=total - len(items)))
    return Outcome(replies=[Reply(text="\n".join(lines), buttons=buttons)])


async def _gave_opinion(turn: Turn, task: ReviewTask) -> bool:
    """Whether the person gave their opinion on a panel's task already."""
    opinions = await data.panel_opinions(turn.session, task_id=task.id or 0)
    return any(person.id == turn.user.id for _, person in opinions)


# --------------------------------------------------------------------------- the card


async def card(turn: Turn, task: ReviewTask, *, changed: list[str] | None = None) -> Outcome:
    """A task as its reviewers see it: what the declaration is and the decisions."""
    app = await turn.session.get(Application, task.application_id)
    org = await turn.session.get(Organisation, task.organisation_id)
    if app is None or org is None:
        return await _refused(turn, Verdict.GONE)
    program = _program(turn, app)
    if program is None:
        return await _refused(turn, Verdict.GONE)
    role = await data.role_in(
        turn.session, person_id=turn.user.id or 0, organisation_id=task.organisation_id
    )
    text = await announce.card_text(turn, app, task, org, program, changed=changed)
    if task.state != "open":
        by = (
            await staff.person(turn.session, person_id=task.decided_by) if task.decided_by else None
        )
        text += "\n" + turn.t(
            "review.card.decided",
            state=turn.t(f"review.state.{task.state}"),
            name=(by.display_name if by else "") or turn.t("staff.unnamed"),
            when=turn.local(task.decided_at, "%Y-%m-%d %H:%M") if task.decided_at else "",
            opinion=task.opinion or "",
        )
    if task.state != "open" or role is None or app.user_id == turn.user.id:
        return Outcome(replies=[Reply(text=text)])
    level = program.review_chain[task.level]
    if level.panel:
        text += "\n" + await _panel_tally(turn, task)
    buttons = announce.decision_buttons(turn, task, level, role)
    return Outcome(
        replies=[
            Reply(
                text=text,
                buttons=buttons,
                application_id=app.id or 0,
                revision=task.submission_no,
            )
        ]
    )


async def _panel_tally(turn: Turn, task: ReviewTask) -> str:
    opinions = await data.panel_opinions(turn.session, task_id=task.id or 0)
    if not opinions:
        return turn.t("review.panel.none")
    lines = [turn.t("review.panel.title", count=len(opinions))]
    for opinion, person in opinions:
        key = "review.panel.yes" if opinion.agree else "review.panel.no"
        lines.append(turn.t(key, name=person.display_name or "", opinion=opinion.opinion))
    return "\n".join(lines)


async def read(turn: Turn, task: ReviewTask, section_id: str) -> Outcome:
    """One section of the submitted version, with ways to the others and to decide."""
    app = await turn.session.get(Application, task.application_id)
    program = _program(turn, app) if app is not None else None
    version = (
        await data.submission(turn.session, application_id=app.id or 0, number=task.submission_no)
        if app is not None
        else None
    )
    if app is None or program is None or version is None:
        return await _refused(turn, Verdict.GONE)
    walker = Walker(program, dict(version.answers), {}, today=turn.today())
    shown = walker.shown()
    sections = [s for s in program.sections if shown.get(s.id)]
    if not sections:
        return Outcome(replies=[Reply(text=turn.t("review.read.empty"))])
    at = next((i for i, s in enumerate(sections) if s.id == section_id), 0)
    section = sections[at]
    view = View(lines=tuple(section_page(program, section, shown[section.id], version.answers)))
    text = render(view, turn.loc, date_style=program.date_style).text
    header = turn.t(
        "review.read.header",
        title=turn.title_of(app),
        n=at + 1,
        total=len(sections),
        version=task.submission_no,
    )
    nav = section_nav(turn, Action.REVIEW_READ, task.id or 0, sections, at)
    buttons = [nav] if nav else []
    download = Button(turn.t("documents.btn.download"), Action.REVIEW_FORM, task.id or 0)
    buttons.append([download, Button(turn.t("review.btn.card"), Action.REVIEW_SHOW, task.id or 0)])
    reply = Reply(
        text=header + "\n\n" + text,
        buttons=buttons,
        application_id=app.id or 0,
        revision=task.submission_no,
        media=await media_of(turn, shown[section.id], version.answers),
    )
    return Outcome(replies=[reply])


def section_nav(
    turn: Turn, action: Action, arg: int, sections: list[Section], at: int
) -> list[Button]:
    """上一部分 / 下一部分 around section ``at`` of a declaration being read (by its
    reviewer: ``REVIEW_READ`` of the task; by its applicant: ``READ_OWN``)."""
    nav: list[Button] = []
    if at > 0:
        nav.append(Button(turn.t("review.btn.prev"), action, arg, sections[at - 1].id))
    if at + 1 < len(sections):
        nav.append(Button(turn.t("review.btn.next"), action, arg, sections[at + 1].id))
    return nav


async def media_of(turn: Turn, questions: list[Question], answers: dict[str, Any]) -> list[Media]:
    """The photos and files a section's answers hold, to be sent as themselves."""
    ids = [
        i
        for q in questions
        if kind(q).upload
        for i in (answers.get(q.id) or [])
        if isinstance(i, int)
    ]
    found = await repo.get_attachments(turn.session, ids=ids)
    root = turn.desk.files.root
    return [
        Media(
            kind="photo" if a.mime_type.startswith("image/") and a.kind == "photo" else "document",
            name=a.file_name,
            path=str(root / a.storage_path) if a.storage_path else "",
            ref=a.source_ref,
        )
        for a in found
    ]


# --------------------------------------------------------------------------- pressing


async def button(turn: Turn, event: ButtonIn) -> Outcome:
    """A press on the reviewer's side, re-checked against what is stored now."""
    if not storable(event.arg, event.application_id, event.revision):
        return await _refused(turn, Verdict.STALE)
    if event.action is Action.INBOX:
        return await inbox(turn)
    if event.action is Action.REVIEW_CANCEL:
        turn.user.pending = {}
        return turn.menu(turn.t("review.cancelled"))
    task = await data.task(turn.session, task_id=event.arg)
    # A list (/inbox) holds several declarations' buttons, so its 查看 buttons name the
    # task alone; every other press must name the declaration it was shown for too.
    listed = event.action is Action.REVIEW_SHOW and event.application_id == 0
    if task is None or (task.application_id != event.application_id and not listed):
        return await _refused(turn, Verdict.GONE)
    role = await data.role_in(
        turn.session, person_id=turn.user.id or 0, organisation_id=task.organisation_id
    )
    if role is None:
        return await _refused(turn, Verdict.FORBIDDEN)
    if event.action is Action.REVIEW_SHOW:
        return await card(turn, task)
    if event.action is Action.REVIEW_READ:
        return await read(turn, task, event.key)
    if event.action is Action.REVIEW_SUGGEST:
        return await _suggested(turn, task, event)
    return await _start(turn, task, STARTS[event.action], event.revision)


async def _start(turn: Turn, task: ReviewTask, act: str, version: int) -> Outcome:
    """Ask for the opinion of an act, after checking it could be carried out now."""
    found = await chain.check(
        turn.session, task_id=task.id or 0, person_id=turn.user.id or 0, submission_no=version
    )
    if isinstance(found, Decision):
        newer = await _waiting_for_me(turn, task) if found.verdict is not Verdict.OWN else None
        if newer is not None:  # an old card: the version waiting now is shown instead
            out = await card(turn, newer)
            out.replies.insert(0, Reply(text=turn.t("review.refused.newer")))
            return out
        return await _refused(turn, found.verdict, found)
    program = _program(turn, found.app)
    if program is None:
        return await _refused(turn, Verdict.GONE)
    level = program.review_chain[task.level]
    if (
        act in ("approve", "return", "reject")
        and level.panel
        and found.role != StaffRole.ADMIN.value
    ):
        return await _refused(turn, Verdict.CONVENER)
    turn.user.pending = {"kind": "opinion", "task": task.id, "act": act, "no": version}
    return _ask_opinion(turn, task, level, act)


def suggestions(turn: Turn, level: ReviewLevel, act: str) -> list[str]:
    """Opinion texts offered for an act: the level's own, else one from its action
    (「同意推荐」; a level whose action is 同意 itself offers 「同意」)."""
    if act in ("approve", "yes"):
        if level.suggest:
            return list(level.suggest)
        if level.action == turn.t("review.suggest.plain"):
            return [level.action]
        return [turn.t("review.suggest.approve", action=level.action)]
    if act == "return":
        return [turn.t("review.suggest.return")]
    if act == "no":
        return [turn.t("review.suggest.disagree")]
    return []


def _ask_opinion(turn: Turn, task: ReviewTask, level: ReviewLevel, act: str) -> Outcome:
    buttons = [
        [Button(text, Action.REVIEW_SUGGEST, task.id or 0, str(i))]
        for i, text in enumerate(suggestions(turn, level, act))
    ]
    buttons.append([Button(turn.t("review.btn.cancel"), Action.REVIEW_CANCEL)])
    text = turn.t(f"review.ask.{act}", label=level.opinion_label, level=level.reviewer)
    return Outcome(replies=[_asking(task, text, buttons)])


def _asking(task: ReviewTask, text: str, buttons: list[list[Button]]) -> Reply:
    """A question for the reviewer whose buttons act on ``task``'s declaration and
    version (checked again when pressed)."""
    return Reply(
        text=text,
        buttons=buttons,
        application_id=task.application_id,
        revision=task.submission_no,
        expects_text=True,
    )


async def _suggested(turn: Turn, task: ReviewTask, event: ButtonIn) -> Outcome:
    """A suggestion pressed: as if its text were typed, for the act being written."""
    pending = turn.user.pending or {}
    if pending.get("task") != task.id or pending.get("kind") not in ("opinion", "name"):
        return await _refused(turn, Verdict.STALE)
    app = await turn.session.get(Application, task.application_id)
    program = _program(turn, app) if app is not None else None
    if app is None or program is None:
        return await _refused(turn, Verdict.GONE)
    level = program.review_chain[task.level]
    if pending["kind"] == "name":
        options = _name_suggestions(turn, app)
    else:
        options = suggestions(turn, level, str(pending.get("act")))
    index = int(event.key) if event.key.isdigit() else -1
    if not 0 <= index < len(options):
        return await _refused(turn, Verdict.STALE)
    return await _written(turn, options[index])


# --------------------------------------------------------------------------- writing


async def text(turn: Turn, typed: str) -> Outcome | None:
    """A typed message while an opinion (or the approved name) is being written;
    None when nothing on this side waits for text."""
    pending = turn.user.pending or {}
    if pending.get("kind") not in ("opinion", "name"):
        return None
    return await _written(turn, typed)


async def _written(turn: Turn, typed: str) -> Outcome:
    pending: dict[str, Any] = dict(turn.user.pending or {})
    words = " ".join(typed.split()) if pending.get("kind") == "name" else typed.strip()
    if not words:
        return Outcome(replies=[Reply(text=turn.t("review.ask.empty"), expects_text=True)])
    if len(words) > OPINION_CHARS:
        reply = Reply(text=turn.t("review.ask.too_long", max=OPINION_CHARS, length=len(words)))
        return Outcome(replies=[reply])
    task = await data.task(turn.session, task_id=int(pending.get("task") or 0))
    app = await turn.session.get(Application, task.application_id) if task else None
    program = _program(turn, app) if app is not None else None
    if task is None or app is None or program is None:
        turn.user.pending = {}
        return await _refused(turn, Verdict.GONE)
    act = str(pending.get("act"))
    # The last level names the studio; of a joint last level, its lead organisation.
    last = task.level + 1 == len(program.review_chain) and task.seat == 0
    if pending.get("kind") == "opinion" and act == "approve" and last:
        turn.user.pending = {**pending, "kind": "name", "opinion": words}
        return _ask_name(turn, task, app)
    opinion = str(pending.get("opinion", words)) if pending.get("kind") == "name" else words
    name = words if pending.get("kind") == "name" else None
    turn.user.pending = {}
    if act in ("yes", "no"):
        decision = await chain.vote(
            turn.session,
            program=program,
            task_id=task.id or 0,
            person_id=turn.user.id or 0,
            agree=act == "yes",
            opinion=opinion,
            submission_no=int(pending.get("no") or 0),
            now=turn.now,
        )
    else:
        decision = await chain.decide(
            turn.session,
            program=program,
            task_id=task.id or 0,
            person_id=turn.user.id or 0,
            act=Act(act),
            opinion=opinion,
            submission_no=int(pending.get("no") or 0),
            now=turn.now,
            approved_name=name,
        )
    if decision.verdict is not Verdict.DONE or decision.moved is None:
        return await _refused(turn, decision.verdict, decision)
    await announce.moved(turn, program, decision.moved, decided=decision.task)
    done = turn.t(f"review.done.{act}", title=turn.title_of(app), opinion=opinion, name=name or "")
    out = await inbox(turn)
    out.replies.insert(0, Reply(text=done))
    return out


def _name_suggestions(turn: Turn, app: Application) -> list[str]:
    named = turn.title_of(app, bare=True)
    return [named] if named else []


def _ask_name(turn: Turn, task: ReviewTask, app: Application) -> Outcome:
    buttons = [
        [Button(text, Action.REVIEW_SUGGEST, task.id or 0, str(i))]
        for i, text in enumerate(_name_suggestions(turn, app))
    ]
    buttons.append([Button(turn.t("review.btn.cancel"), Action.REVIEW_CANCEL)])
    return Outcome(replies=[_asking(task, turn.t("review.ask.name"), buttons)])


# --------------------------------------------------------------------------- refusals


async def _waiting_for_me(turn: Turn, task: ReviewTask) -> ReviewTask | None:
    """An open task of the same declaration (a newer version, the next level) at an
    organisation where the person holds a role now."""
    for other in await data.tasks_of(turn.session, application_id=task.application_id):
        if other.state != "open" or other.id == task.id:
            continue
        role = await data.role_in(
            turn.session, person_id=turn.user.id or 0, organisation_id=other.organisation_id
        )
        if role is not None:
            return other
    return None


async def _refused(turn: Turn, verdict: Verdict, decision: Decision | None = None) -> Outcome:
    """Why an act was not carried out, in words; nothing was changed."""
    by = decision.decided_by if decision is not None else None
    task = decision.task if decision is not None else None
    when = turn.local(task.decided_at, "%Y-%m-%d %H:%M") if task and task.decided_at else ""
    if verdict is Verdict.TAKEN and by is not None and by.id == turn.user.id:
        verdict_key = "review.refused.taken_you"
    else:
        verdict_key = f"review.refused.{verdict.value}"
    text = turn.t(
        verdict_key,
        name=(by.display_name if by is not None else "") or turn.t("staff.unnamed"),
        when=when,
        state=turn.t(f"review.state.{task.state}") if task is not None else "",
    )
    out = turn.menu(text)
    out.toast = text
    return out


async def organisations_named(turn: Turn, ids: list[int]) -> list[Organisation]:
    """Organisations by id, in the order given (those that exist)."""
    found = [await turn.session.get(Organisation, i) for i in ids]
    return [o for o in found if o is not None]


async def admin_of(turn: Turn, org_id: int) -> bool:
    """Whether the person administers ``org_id`` now."""
    role = await staff.membership(
        turn.session,
        person_id=turn.user.id or 0,
        organisation_id=org_id,
        role=StaffRole.ADMIN.value,
    )
    return role is not None and role.revoked_at is None
