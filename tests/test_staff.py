"""Invitations and roles: joining by invitation through the conversation, an
administrator's /invite and /staff, the audit rows (SQLite, and PostgreSQL when
configured).

Replies are compared with the locale's texts (keys and parameters), stored state
is read in a new session after the event returned.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from dialogs.flows.staff import ROLE_KEYS
from dialogs.i18n import Locale
from dialogs.loader import load_registry
from dialogs.service import Conversation
from dialogs.ui import Action, ButtonIn, CommandIn, Reply, UserRef
from review import invites
from review.audit import AuditAct
from storage import staff
from storage.db import SessionFactory
from storage.files import FileStore
from storage.models import Application, AuditEntry, Invitation, Membership, StaffRole
from tests.test_orgs import NOW, import_example

ZH = Locale("zh-CN")
BOSS = UserRef(channel="telegram", external_id="2001", display_name="赵主席")
WANG = UserRef(channel="telegram", external_id="2002", display_name="王审核")
LI = UserRef(channel="telegram", external_id="2003", display_name="李同事")


# --------------------------------------------------------------------------- invitations


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def conv(sessions: SessionFactory, tmp_path: Path, clock: Clock) -> Conversation:
    return Conversation(
        registry=load_registry(),
        sessions=sessions,
        files=FileStore(tmp_path / "files"),
        clock=clock,
    )


async def invite(
    sessions: SessionFactory,
    code: str,
    role: StaffRole = StaffRole.REVIEWER,
    *,
    days: int = 7,
    now: dt.datetime = NOW,
) -> invites.Created:
    async with sessions() as session, session.begin():
        found = await staff.organisation(session, code=code)
        assert found is not None
        return await invites.create(session, organisation=found, role=role, days=days, now=now)


async def start(conv: Conversation, token: str, user: UserRef = WANG) -> Reply:
    out = await conv.handle(user, CommandIn("start", token))
    [reply] = out.replies
    return reply


def said(key: str, org_name: str = "", role: StaffRole | None = None) -> str:
    return ZH.t(key, organisation=org_name, role=ZH.t(ROLE_KEYS[role]) if role else "")


async def table(sessions: SessionFactory, model: Any) -> list[Any]:
    async with sessions() as session:
        result = await session.execute(select(model).order_by(col(model.id)))
        return list(result.scalars().all())


def test_tokens_are_unguessable_and_fit_a_start_parameter() -> None:
    tokens = {invites.new_token() for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 43 x 6 bits >= 256 bits
        assert invites.clean_token(token) == token
        assert invites.clean_token(f" https://t.me/x_bot?start={token} ") == token
    assert invites.clean_token("a" * 65) is None
    assert invites.clean_token("short") is None
    assert invites.clean_token("x" * 30 + "/" + "y" * 12) is None
    assert invites.start_link("studio_bot", "T" * 43) == f"https://t.me/studio_bot?start={'T' * 43}"


async def test_an_invitation_works_once(sessions: SessionFactory, conv: Conversation) -> None:
    await import_example(sessions)
    created = await invite(sessions, "dl-xg")
    [stored] = await table(sessions, Invitation)
    assert stored.token_sha256 == invites.token_hash(created.token)
    assert created.token not in repr(stored.model_dump())  # only the hash is kept
    assert stored.expires_at == NOW + dt.timedelta(days=7)

    reply = await start(conv, created.token)
    assert reply.text == said("staff.join.joined", "西岗区总工会", StaffRole.REVIEWER)
    [member] = await table(sessions, Membership)
    [used] = await table(sessions, Invitation)
    assert (member.role, member.revoked_at, member.granted_at) == ("reviewer", None, NOW)
    assert used.used_at == NOW
    assert used.used_by == member.person_id

    # Used: refused for anyone else; the person who used it is told they hold the
    # role; nothing changes either way.
    reply = await start(conv, created.token, LI)
    assert reply.text == said("staff.join.used", "西岗区总工会")
    reply = await start(conv, created.token, WANG)
    assert reply.text == said("staff.join.yours", "西岗区总工会", StaffRole.REVIEWER)
    assert len(await table(sessions, Membership)) == 1
    acts = [(a.act, a.person_id, a.role) for a in await table(sessions, AuditEntry)]
    assert acts == [
        (AuditAct.INVITE_CREATED, None, "reviewer"),
        (AuditAct.INVITE_USED, member.person_id, "reviewer"),
    ]


async def test_expired_revoked_and_unknown_links_change_nothing(
    sessions: SessionFactory, conv: Conversation, clock: Clock
) -> None:
    await import_example(sessions)
    old = await invite(sessions, "dl-zs", days=1, now=NOW - dt.timedelta(days=2))
    revoked = await invite(sessions, "dl-zs")
    async with sessions() as session, session.begin():
        found = await invites.find(session, reference=str(revoked.invitation.id))
        assert found is not None
        assert await invites.revoke(session, invitation=found, now=NOW) is None
        assert await invites.revoke(session, invitation=found, now=NOW) is invites.Verdict.REVOKED
    before = await table(sessions, AuditEntry)

    assert (await start(conv, old.token)).text == said("staff.join.expired", "中山区总工会")
    assert (await start(conv, revoked.token)).text == said("staff.join.revoked", "中山区总工会")
    for junk in (revoked.token[:-1] + "!", "x" * 5000, "A" * 43, "/etc/passwd", "\x00a\x01"):
        assert (await start(conv, junk)).text == said("staff.join.unknown")
    # Nothing left once cleaned: a plain /start.
    welcome = await start(conv, "\x00" * 50)
    assert welcome.text == ZH.t("engine.welcome", name="王审核")

    assert await table(sessions, Membership) == []
    assert [i.used_at for i in await table(sessions, Invitation)] == [None, None]
    assert len(await table(sessions, AuditEntry)) == len(before)
    assert [a.act for a in before] == [
        AuditAct.INVITE_CREATED,
        AuditAct.INVITE_CREATED,
        AuditAct.INVITE_REVOKED,
    ]

    # Valid up to the second it expires.
    edge = await invite(sessions, "dl-zs", days=1)
    clock.now = NOW + dt.timedelta(days=1)
    assert (await start(conv, edge.token)).text == said("staff.join.expired", "中山区总工会")
    clock.now = NOW + dt.timedelta(days=1) - dt.timedelta(seconds=1)
    assert (await start(conv, edge.token)).text == said(
        "staff.join.joined", "中山区总工会", StaffRole.REVIEWER
    )


async def test_roles_in_several_organisations_and_still_an_applicant(
    sessions: SessionFactory, conv: Conversation
) -> None:
    await import_example(sessions)
    for code, role in (("dl-xg", StaffRole.REVIEWER), ("dl-jxyj", StaffRole.ADMIN)):
        created = await invite(sessions, code, role)
        await start(conv, created.token)
    again = await invite(sessions, "dl-xg")
    reply = await start(conv, again.token)
    assert reply.text == said("staff.join.already", "西岗区总工会", StaffRole.REVIEWER)
    [*_, unused] = await table(sessions, Invitation)
    assert unused.used_at is None  # still good for a colleague

    member = (await table(sessions, Membership))[0]
    async with sessions() as session:
        held = await staff.roles_of(session, person_id=member.person_id)
    assert [(o.code, m.role) for m, o in held] == [("dl-xg", "reviewer"), ("dl-jxyj", "admin")]

    menu = await conv.handle(WANG, CommandIn("apply"))
    first = menu.replies[-1].buttons[0][0]
    assert first.action is Action.PICK_PROGRAM
    await conv.handle(WANG, ButtonIn(first.action, first.arg, 0, 0, first.key))
    [app] = await table(sessions, Application)
    assert (app.user_id, app.program_id) == (member.person_id, first.key)


# --------------------------------------------------------------------------- administrators


async def admin_and_reviewer(sessions: SessionFactory, conv: Conversation) -> None:
    """BOSS administers 西岗区总工会; WANG reviews there."""
    await import_example(sessions)
    await start(conv, (await invite(sessions, "dl-xg", StaffRole.ADMIN)).token, BOSS)
    await start(conv, (await invite(sessions, "dl-xg")).token, WANG)


def link_token(text: str) -> str:
    found = re.search(r"/start ([A-Za-z0-9_-]{43})", text) or re.search(
        r"\?start=([A-Za-z0-9_-]{43})", text
    )
    assert found, text
    return found.group(1)


async def test_an_administrator_invites_a_colleague(
    sessions: SessionFactory, conv: Conversation
) -> None:
    await admin_and_reviewer(sessions, conv)
    out = await conv.handle(BOSS, CommandIn("invite"))
    [reply] = out.replies
    invitation = (await table(sessions, Invitation))[-1]
    token = link_token(reply.text)
    assert reply.text == ZH.t(
        "staff.invite.command",
        organisation="西岗区总工会",
        role=ZH.t("staff.role.reviewer"),
        days=7,
        expires="2026-12-09 10:00",
        id=invitation.id,
        token=token,
    )
    assert invitation.created_by is not None
    assert invitation.role == "reviewer"
    await start(conv, token, LI)
    audit = (await table(sessions, AuditEntry))[-2:]
    assert [(a.act, a.person_id == invitation.created_by) for a in audit] == [
        (AuditAct.INVITE_CREATED, True),
        (AuditAct.INVITE_USED, False),
    ]

    # With the bot's username, the same is a link.
    conv.desk = type(conv.desk)(**{**conv.desk.__dict__, "bot_username": "studio_test_bot"})
    [reply] = (await conv.handle(BOSS, CommandIn("invite"))).replies
    assert f"https://t.me/studio_test_bot?start={link_token(reply.text)}" in reply.text

    # A reviewer is no administrator.
    [refused] = (await conv.handle(WANG, CommandIn("invite"))).replies
    assert refused.text == ZH.t("staff.not_admin")
    count = len(await table(sessions, Invitation))
    forged = ButtonIn(Action.STAFF_INVITE, invitation.organisation_id, 0, 0)
    [refused] = (await conv.handle(WANG, forged)).replies
    assert refused.text == ZH.t("staff.forbidden")
    assert len(await table(sessions, Invitation)) == count


async def test_an_administrator_removes_a_colleague(
    sessions: SessionFactory, conv: Conversation
) -> None:
    await admin_and_reviewer(sessions, conv)
    [listing] = (await conv.handle(BOSS, CommandIn("staff"))).replies
    assert listing.text.splitlines() == [
        ZH.t("staff.list.title", organisation="西岗区总工会"),
        ZH.t("staff.list.you", n=1, name="赵主席", role=ZH.t("staff.role.admin")),
        ZH.t("staff.list.line", n=2, name="王审核", role=ZH.t("staff.role.reviewer")),
    ]
    [[remove], [_]] = listing.buttons
    boss_member, wang_member = await table(sessions, Membership)
    assert (remove.action, remove.arg) == (Action.STAFF_REMOVE, wang_member.id)

    # A reviewer forging the press is refused; so is a press for an unknown row.
    for who, arg in ((WANG, wang_member.id), (BOSS, 999_999), (BOSS, -1), (BOSS, 2**40)):
        out = await conv.handle(who, ButtonIn(Action.STAFF_REMOVE_OK, arg, 0, 0))
        assert out.replies[0].text == ZH.t("staff.forbidden")
    # Nobody removes themself.
    out = await conv.handle(BOSS, ButtonIn(Action.STAFF_REMOVE_OK, boss_member.id, 0, 0))
    assert out.replies[0].text == ZH.t("staff.remove.self")
    assert [m.revoked_at for m in await table(sessions, Membership)] == [None, None]

    out = await conv.handle(BOSS, ButtonIn(remove.action, remove.arg, 0, 0))
    params = {"name": "王审核", "organisation": "西岗区总工会", "role": ZH.t("staff.role.reviewer")}
    assert out.replies[0].text == ZH.t("staff.remove.confirm", **params)
    assert [m.revoked_at for m in await table(sessions, Membership)] == [None, None]
    ok = out.replies[0].buttons[0][0]
    out = await conv.handle(BOSS, ButtonIn(ok.action, ok.arg, 0, 0))
    assert out.replies[0].text == ZH.t("staff.remove.done", **params)
    assert [m.revoked_at for m in await table(sessions, Membership)] == [None, NOW]
    last = (await table(sessions, AuditEntry))[-1]
    assert (last.act, last.role, last.detail["member_person_id"]) == (
        AuditAct.ROLE_REMOVED,
        "reviewer",
        wang_member.person_id,
    )
    # Pressed again (an old message): said, nothing more happens.
    audit = len(await table(sessions, AuditEntry))
    out = await conv.handle(BOSS, ButtonIn(ok.action, ok.arg, 0, 0))
    assert out.replies[0].text == ZH.t("staff.remove.gone")
    assert len(await table(sessions, AuditEntry)) == audit
    # The removed reviewer may be invited again: the same row comes back.
    await start(conv, (await invite(sessions, "dl-xg")).token, WANG)
    assert [m.revoked_at for m in await table(sessions, Membership)] == [None, None]


async def test_two_people_opening_one_link_at_once(
    sessions: SessionFactory, conv: Conversation
) -> None:
    await import_example(sessions)
    created = await invite(sessions, "dl-xg")
    replies = await asyncio.gather(*(start(conv, created.token, who) for who in (WANG, LI)))
    texts = sorted(r.text for r in replies)
    assert texts == sorted(
        [
            said("staff.join.joined", "西岗区总工会", StaffRole.REVIEWER),
            said("staff.join.used", "西岗区总工会"),
        ]
    )
    assert len(await table(sessions, Membership)) == 1
    used = [a for a in await table(sessions, AuditEntry) if a.act == AuditAct.INVITE_USED]
    assert len(used) == 1
