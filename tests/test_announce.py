"""An administrator's announcement to the leaders under their organisation: preview,
confirmation, once, through the outbox (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from sqlmodel import select

from dialogs.service import Conversation
from dialogs.ui import Action, ButtonIn, CommandIn, TextIn, UserRef
from review.audit import AuditAct
from storage.models import AuditEntry, OutboxMessage, OutboxPriority, StaffRole
from tests.test_review_chain import (
    CHAIN_FROM,
    REGISTRY,
    conv,  # noqa: F401  (the fixture)
    declare,
    grant,
    press,
    staff_chain,
    unit_name,
)


async def announcements(conv: Conversation) -> list[OutboxMessage]:  # noqa: F811
    async with conv.sessions() as session:
        rows = await session.execute(select(OutboxMessage))
        return [r for r in rows.scalars().all() if r.dedupe_key.startswith("ann:")]


async def test_an_announcement_reaches_the_leaders_under_the_organisation_once(
    conv: Conversation,  # noqa: F811
) -> None:
    program = REGISTRY.get("dalian-worker")
    assert program is not None
    await staff_chain(conv, program)
    unit = await unit_name(conv, CHAIN_FROM[program.id][0])
    for n in range(2):
        await declare(conv, UserRef("telegram", f"ann-{n}", f"申报人{n}"), program.id, unit)
    boss = UserRef("telegram", "ann-boss", "区工会管理员")
    await grant(conv, boss, "dl-xg", StaffRole.ADMIN)

    out = await conv.handle(boss, CommandIn("announce"))
    assert out.replies[0].expects_text
    out = await conv.handle(boss, TextIn("请于本月底前提交年度工作总结。"))
    [preview] = out.replies
    send = press(preview, Action.ANNOUNCE_SEND)
    assert "2" in next(
        b.label for row in preview.buttons for b in row if b.action is Action.ANNOUNCE_SEND
    )
    assert await announcements(conv) == []  # nothing goes before the press
    await conv.handle(boss, send)
    sent = await announcements(conv)
    assert len(sent) == 2
    assert {r.priority for r in sent} == {OutboxPriority.BULK}
    assert all("请于本月底前提交年度工作总结。" in r.text for r in sent)
    await conv.handle(boss, send)  # a second press: nothing more
    assert len(await announcements(conv)) == 2
    async with conv.sessions() as session:
        acts = (await session.execute(select(AuditEntry.act))).scalars().all()
    assert acts.count(AuditAct.ANNOUNCED.value) == 1


async def test_only_an_administrator_announces(conv: Conversation) -> None:  # noqa: F811
    nobody = UserRef("telegram", "ann-nobody", "普通用户")
    out = await conv.handle(nobody, CommandIn("announce"))
    assert not any(r.expects_text for r in out.replies)
    out = await conv.handle(nobody, ButtonIn(Action.ANNOUNCE_SEND, 1, 0, 0))
    assert not any(r.expects_text for r in out.replies)
    assert await announcements(conv) == []
