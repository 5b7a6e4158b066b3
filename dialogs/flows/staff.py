"""Union staff: opening an invitation link, and an administrator's colleagues.

``/start <token>`` (a Telegram link ``t.me/<bot>?start=<token>``) makes the
person a reviewer or administrator of the invitation's organisation, once.
An administrator invites reviewers to their own organisation (``/invite``) and
removes colleagues (``/staff``).  Every press is re-checked here, on the
server: the presser must hold the administrator's role in the organisation
the button names, now; a button's numbers are user input.  Holding a role
changes nothing of the person's own declarations.
"""

from __future__ import annotations

from dialogs.turn import Turn
from dialogs.ui import Action, Button, ButtonIn, Outcome, Reply, storable
from review import invites
from review.invites import Redemption, Verdict
from storage import review as review_data
from storage import staff
from storage.models import Membership, Organisation, StaffRole

ACTIONS = frozenset(
    {Action.STAFF_LIST, Action.STAFF_INVITE, Action.STAFF_REMOVE, Action.STAFF_REMOVE_OK}
)

ROLE_KEYS = {StaffRole.REVIEWER: "staff.role.reviewer", StaffRole.ADMIN: "staff.role.admin"}
VERDICT_KEYS = {
    Verdict.JOINED: "staff.join.joined",
    Verdict.ALREADY: "staff.join.already",
    Verdict.YOURS: "staff.join.yours",
    Verdict.UNKNOWN: "staff.join.unknown",
    Verdict.USED: "staff.join.used",
    Verdict.EXPIRED: "staff.join.expired",
    Verdict.REVOKED: "staff.join.revoked",
}


def _role(turn: Turn, role: str) -> str:
    return turn.t(ROLE_KEYS[StaffRole(role)])


async def join(turn: Turn, args: str) -> Outcome:
    """Open an invitation: the role is granted (and said), or the refusal is said."""
    result: Redemption = await invites.redeem(
        turn.session, raw_token=args, person_id=turn.user.id or 0, now=turn.now
    )
    org = result.organisation
    text = turn.t(
        VERDICT_KEYS[result.verdict],
        organisation=await turn.org_name(org),
        role=_role(turn, result.role) if result.role is not None else "",
    )
    if result.verdict is Verdict.JOINED:  # what waited for the organisation before they came
        waiting = await review_data.count_inbox(turn.session, person_id=turn.user.id or 0)
        if waiting:
            text += "\n" + turn.t("staff.join.waiting", count=waiting)
    return turn.menu(text)


async def administered(turn: Turn) -> list[Organisation]:
    """The organisations the person administers now."""
    held = await staff.roles_of(
        turn.session, person_id=turn.user.id or 0, role=StaffRole.ADMIN.value
    )
    return [org for _, org in held]


async def invite(turn: Turn) -> Outcome:
    """``/invite``: a reviewer's link for the administrator's organisation (asked which,
    when they administer several)."""
    orgs = await administered(turn)
    if not orgs:
        return turn.menu(turn.t("staff.not_admin"))
    if len(orgs) == 1:
        return await _invitation(turn, orgs[0])
    buttons = [[Button(org.name, Action.STAFF_INVITE, org.id or 0)] for org in orgs]
    return Outcome(replies=[Reply(text=turn.t("staff.invite.pick"), buttons=buttons)])


async def _invitation(turn: Turn, org: Organisation) -> Outcome:
    role = StaffRole.REVIEWER
    created = await invites.create(
        turn.session,
        organisation=org,
        role=role,
        days=invites.DEFAULT_DAYS,
        now=turn.now,
        created_by=turn.user.id,
    )
    params = {
        "organisation": org.name,
        "role": _role(turn, role),
        "days": invites.DEFAULT_DAYS,
        "expires": turn.local(created.invitation.expires_at, "%Y-%m-%d %H:%M"),
        "id": created.invitation.id,
    }
    bot = turn.desk.bot_username
    if bot:
        link = invites.start_link(bot, created.token)
        text = turn.t("staff.invite.link", link=link, **params)
    else:
        text = turn.t("staff.invite.command", token=created.token, **params)
    return Outcome(replies=[Reply(text=text)])


async def colleagues(turn: Turn) -> Outcome:
    """``/staff``: everyone holding a role in the organisations the person administers,
    with a button to remove each (but themself) and one to invite a reviewer."""
    orgs = await administered(turn)
    if not orgs:
        return turn.menu(turn.t("staff.not_admin"))
    members = await staff.members_of(turn.session, organisation_ids=[o.id or 0 for o in orgs])
    lines: list[str] = []
    buttons: list[list[Button]] = []
    for org in orgs:
        lines.append(turn.t("staff.list.title", organisation=await turn.org_name(org)))
        ours = [(m, p) for m, p in members if m.organisation_id == org.id]
        for n, (member, person) in enumerate(ours, start=1):
            params = {"n": n, "name": _name(turn, person.display_name)}
            params["role"] = _role(turn, member.role)
            if member.person_id == turn.user.id:
                lines.append(turn.t("staff.list.you", **params))
                continue
            lines.append(turn.t("staff.list.line", **params))
            label = turn.t("staff.btn.remove", **params)
            buttons.append([Button(label, Action.STAFF_REMOVE, member.id or 0)])
        label = turn.t("staff.btn.invite", organisation=org.name)
        buttons.append([Button(label, Action.STAFF_INVITE, org.id or 0)])
    return Outcome(replies=[Reply(text="\n".join(lines), buttons=buttons)])


def _name(turn: Turn, name: str) -> str:
    return name or turn.t("staff.unnamed")


async def button(turn: Turn, event: ButtonIn) -> Outcome:
    """A press of one of the buttons above, re-checked against what is stored now."""
    if not storable(event.arg):
        return turn.menu(turn.t("staff.forbidden"))
    if event.action is Action.STAFF_LIST:
        return await colleagues(turn)
    if event.action is Action.STAFF_INVITE:
        org = next((o for o in await administered(turn) if o.id == event.arg), None)
        return await (_invitation(turn, org) if org else _forbidden(turn))
    return await _remove(turn, event.arg, confirmed=event.action is Action.STAFF_REMOVE_OK)


async def _forbidden(turn: Turn) -> Outcome:
    return turn.menu(turn.t("staff.forbidden"))


async def _remove(turn: Turn, membership_id: int, *, confirmed: bool) -> Outcome:
    """Ask, then remove a colleague's role; refused unless the presser administers
    the colleague's organisation now, and never for the presser's own roles."""
    target = await staff.membership(turn.session, membership_id=membership_id)
    orgs = {o.id: o for o in await administered(turn)}
    if target is None or target.organisation_id not in orgs:
        return await _forbidden(turn)
    if target.revoked_at is not None:
        return await _with_list(turn, turn.t("staff.remove.gone"))
    if target.person_id == turn.user.id:
        return await _with_list(turn, turn.t("staff.remove.self"))
    params = await _about(turn, target, orgs[target.organisation_id])
    if not confirmed:
        buttons = [
            [Button(turn.t("staff.btn.remove_ok"), Action.STAFF_REMOVE_OK, membership_id)],
            [Button(turn.t("staff.btn.back"), Action.STAFF_LIST)],
        ]
        text = turn.t("staff.remove.confirm", **params)
        return Outcome(replies=[Reply(text=text, buttons=buttons)])
    await invites.remove_role(
        turn.session, membership=target, now=turn.now, by_person_id=turn.user.id
    )
    return await _with_list(turn, turn.t("staff.remove.done", **params))


async def _about(turn: Turn, member: Membership, org: Organisation) -> dict[str, object]:
    person = await staff.person(turn.session, person_id=member.person_id)
    name = _name(turn, person.display_name if person is not None else "")
    return {"name": name, "organisation": org.name, "role": _role(turn, member.role)}


async def _with_list(turn: Turn, text: str) -> Outcome:
    listing = await colleagues(turn)
    listing.replies.insert(0, Reply(text=text))
    return listing
