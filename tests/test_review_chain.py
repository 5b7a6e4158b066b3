"""The review chain through the conversation service: each program's declaration
climbs its whole chain to naming, reviewers hear of it through the outbox,
decide with written opinions, return it once, and the forbidden acts change
nothing (SQLite, and PostgreSQL when configured).

The organisation files are the shipped examples (``review/examples/``); every
reviewer is a real person of the conversation holding a role there.  What the
tests read back is the stored state (tasks, statuses, audit rows) and the
buttons the replies offer, not their wording.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from dialogs.i18n import Locale
from dialogs.loader import load_registry
from dialogs.notices import reply_of
from dialogs.qtypes import kind
from dialogs.qtypes.base import stable_key
from dialogs.schema import Program
from dialogs.service import Conversation
from dialogs.ui import Action, ButtonIn, CommandIn, Outcome, Reply, TextIn, UserRef
from review import orgs
from review.audit import AuditAct
from storage import outbox, repo, staff
from storage.db import SessionFactory
from storage.files import FileStore
from storage.models import Application, AuditEntry, ReviewTask, StaffRole, Submission
from tests.test_example_orgs import CHAIN_FROM
from tests.test_programs_e2e import _event
from tests.walkthrough import Applicant, text_for

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
EXAMPLES = Path(__file__).resolve().parent.parent / "review" / "examples"
REGISTRY = load_registry()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(minutes=1)
        return self.now


@pytest.fixture
async def conv(sessions: SessionFactory, tmp_path: Path) -> Conversation:
    async with sessions() as session, session.begin():
        for path in sorted(EXAMPLES.glob("*.yaml")):
            await orgs.import_file(session, path=path, now=NOW)
    return Conversation(
        registry=REGISTRY, sessions=sessions, files=FileStore(tmp_path / "files"), clock=Clock()
    )


# --------------------------------------------------------------------------- people


async def person_id(conv: Conversation, user: UserRef) -> int:
    await conv.handle(user, CommandIn("help"))
    async with conv.sessions() as session:
        row, _ = await repo.load_user(session, channel=user.channel, external_id=user.external_id)
        assert row is not None
        assert row.id is not None
        return row.id


async def grant(conv: Conversation, user: UserRef, code: str, role: StaffRole) -> None:
    pid = await person_id(conv, user)
    async with conv.sessions() as session, session.begin():
        org = await staff.organisation(session, code=code)
        assert org is not None, code
        await staff.grant_role(
            session,
            person_id=pid,
            organisation_id=org.id or 0,
            role=role.value,
            granted_by=None,
            now=NOW,
        )


def reviewer(code: str, n: int = 0) -> UserRef:
    return UserRef("telegram", f"r{n}-{code}", f"审核员{n}·{code}")


async def notes(conv: Conversation, user: UserRef) -> list[Reply]:
    """What the outbox holds for ``user`` now (taken, as the terminal does)."""
    async with conv.sessions() as session, session.begin():
        rows = await outbox.take_due(
            session, channel=user.channel, external_id=user.external_id, now=conv.clock()
        )
    return [reply_of(r) for r in rows]


def press(reply: Reply, action: Action, key: str | None = None) -> ButtonIn:
    found = [b for row in reply.buttons for b in row if b.action is action]
    found = [b for b in found if key is None or b.key == key]
    assert found, f"{action!r} not offered: {reply.text}"
    b = found[0]
    return ButtonIn(b.action, b.arg, reply.application_id, reply.revision, b.key)


def actions(out: Outcome) -> set[Action]:
    return {b.action for r in out.replies for row in r.buttons for b in row}


# --------------------------------------------------------------------------- the applicant


@dataclass
class Filed:
    user: UserRef
    program: Program
    app_id: int
    unit: str
    shown: list[str] = field(default_factory=list)


async def stored(conv: Conversation, app_id: int) -> Application:
    async with conv.sessions() as session:
        app = await repo.get_application(session, application_id=app_id)
        assert app is not None
        return app


async def declare(conv: Conversation, user: UserRef, program_id: str, unit: str) -> Filed:
    """Apply for ``program_id`` as ``user`` from ``unit`` and answer until submitted."""
    program = REGISTRY.get(program_id)
    assert program is not None
    out = await conv.handle(user, CommandIn("apply"))
    pick = next(b for row in out.replies[0].buttons for b in row if b.key == program_id)
    out = await conv.handle(user, ButtonIn(pick.action, pick.arg, 0, 0, pick.key))
    return await answer_until_submitted(conv, user, program, out, unit=unit)


async def answer_until_submitted(
    conv: Conversation, user: UserRef, program: Program, out: Outcome, *, unit: str
) -> Filed:
    applicant = Applicant(program, NOW.date(), unit=unit)
    shown: list[str] = []
    pid = await person_id(conv, user)
    before = None
    for _ in range(600):
        shown += [r.text for r in out.replies]
        async with conv.sessions() as session:
            apps = await repo.list_applications(session, user_id=pid)
        app = next(a for a in apps if a.program_id == program.id)
        before = app.submission_no if before is None else before
        if app.submission_no > before:
            return Filed(user, program, app.id or 0, unit, shown)
        move = applicant.next_move(app.answers, app.cursor)
        out = await conv.handle(user, _event(move, out))
    raise AssertionError("the walk did not finish")


async def unit_name(conv: Conversation, code: str) -> str:
    async with conv.sessions() as session:
        org = await staff.organisation(session, code=code)
        assert org is not None
        return org.name


# --------------------------------------------------------------------------- deciding


async def decide(
    conv: Conversation,
    user: UserRef,
    card: Reply,
    act: Action,
    opinion: str,
    name: str | None = None,
) -> Outcome:
    out = await conv.handle(user, press(card, act))
    assert any(r.expects_text for r in out.replies), out.replies
    out = await conv.handle(user, TextIn(opinion))
    if name is not None:
        assert any(r.expects_text for r in out.replies), out.replies
        out = await conv.handle(user, TextIn(name))
    return out


async def tasks(conv: Conversation, app_id: int) -> list[ReviewTask]:
    return await of_application(conv, ReviewTask, app_id)


async def audit(conv: Conversation, app_id: int) -> list[AuditEntry]:
    return await of_application(conv, AuditEntry, app_id)


async def of_application(conv: Conversation, model: Any, app_id: int) -> list[Any]:
    """Rows of ``model`` about one declaration, in the order they were written."""
    async with conv.sessions() as session:
        rows = await session.execute(
            select(model).where(model.application_id == app_id).order_by(col(model.id))
        )
        return list(rows.scalars().all())


async def staff_chain(conv: Conversation, program: Program) -> list[list[str]]:
    """Give every organisation of the program's example chain a reviewer (a panel:
    two members and a convener) and the issuing union an administrator."""
    _, chain = CHAIN_FROM[program.id]
    for level, codes in zip(program.review_chain, chain, strict=True):
        for code in codes:
            await grant(conv, reviewer(code), code, StaffRole.REVIEWER)
            if level.panel:
                await grant(conv, reviewer(code, 1), code, StaffRole.REVIEWER)
                await grant(conv, reviewer(code, 9), code, StaffRole.ADMIN)
    assert program.issuer is not None
    await grant(conv, reviewer(program.issuer, 8), program.issuer, StaffRole.ADMIN)
    return chain


async def pass_level(
    conv: Conversation, program: Program, level: int, codes: list[str], *, name: str | None
) -> None:
    """Every organisation of a level approves (a panel: members' opinions, then the
    convener's result)."""
    spec = program.review_chain[level]
    for code in codes:
        if spec.panel:
            for n in (0, 1):
                [card] = await notes(conv, reviewer(code, n))
                assert Action.REVIEW_APPROVE not in {b.action for row in card.buttons for b in row}
                await decide(conv, reviewer(code, n), card, Action.REVIEW_VOTE_YES, f"评审同意{n}")
            [card] = await notes(conv, reviewer(code, 9))
            show = press(card, Action.REVIEW_SHOW)
            out = await conv.handle(reviewer(code, 9), show)
            assert "评审同意0" in out.replies[0].text
            assert "评审同意1" in out.replies[0].text
            await decide(conv, reviewer(code, 9), card, Action.REVIEW_APPROVE, "评审通过", name)
            continue
        [card] = await notes(conv, reviewer(code))
        lead = code == codes[0]  # a joint level's lead organisation gives the name
        await decide(
            conv,
            reviewer(code),
            card,
            Action.REVIEW_APPROVE,
            f"同意·{code}",
            name if lead else None,
        )


@pytest.mark.parametrize("program_id", sorted(CHAIN_FROM))
async def test_each_program_climbs_its_chain_to_naming_with_one_return(
    conv: Conversation, program_id: str
) -> None:
    program = REGISTRY.get(program_id)
    assert program is not None
    chain = await staff_chain(conv, program)
    unit_code = CHAIN_FROM[program_id][0]
    leader = UserRef("telegram", f"a-{program_id}", "申报人")
    filed = await declare(conv, leader, program_id, await unit_name(conv, unit_code))
    app = await stored(conv, filed.app_id)
    assert app.status == "in_review"
    assert app.submission_no == 1

    # Level 0 passes; level 1 returns it for revision.
    await pass_level(conv, program, 0, chain[0], name=None)
    code = chain[1][0]
    returner = reviewer(code)
    [card] = await notes(conv, returner)
    assert {
        Action.REVIEW_READ,
        Action.REVIEW_APPROVE,
        Action.REVIEW_RETURN,
        Action.REVIEW_REJECT,
    } <= {b.action for row in card.buttons for b in row} or program.review_chain[1].panel
    if program.review_chain[1].panel:
        returner = reviewer(code, 9)
        [card] = await notes(conv, returner)
    out = await conv.handle(returner, press(card, Action.REVIEW_READ))
    assert Action.REVIEW_READ in actions(out) or len(program.sections) == 1
    await decide(conv, returner, card, Action.REVIEW_RETURN, "请补充团队成员的获奖情况")
    app = await stored(conv, filed.app_id)
    assert app.status == "returned"
    assert app.review_level == 1
    told = await notes(conv, leader)
    assert any(Action.RESUME in {b.action for row in r.buttons for b in row} for r in told)

    # The applicant changes one answer and submits again: back to level 1, changes shown.
    resume = next(
        r for r in told if any(b.action is Action.RESUME for row in r.buttons for b in row)
    )
    out = await conv.handle(leader, press(resume, Action.RESUME))
    changed_q = await revise_one_answer(conv, filed, out)
    app = await stored(conv, filed.app_id)
    assert app.submission_no == 2
    assert app.status == "in_review"
    assert app.review_level == 1
    [card] = await notes(conv, returner)
    assert program.question(changed_q).label in card.text
    if program.review_chain[1].panel:
        for n in (0, 1):
            await notes(conv, reviewer(code, n))
    # From here on every level approves; the last names the studio.
    await pass_level_again(conv, program, 1, chain[1], card, returner)
    for level in range(2, len(chain)):
        last = level == len(chain) - 1
        await pass_level(conv, program, level, chain[level], name="审定工作室" if last else None)
    app = await stored(conv, filed.app_id)
    assert app.status == "approved"
    assert app.named_as == "审定工作室"
    told = await notes(conv, leader)
    assert told  # each step was told; the last one names the studio
    assert "审定工作室" in told[-1].text

    # /status and the audit log agree with what happened.
    out = await conv.handle(leader, CommandIn("status"))
    [status] = out.replies
    out = await conv.handle(leader, press(status, Action.TIMELINE))
    timeline = out.replies[0].text
    decided = [t for t in await tasks(conv, filed.app_id) if t.state != "closed"]
    for t in decided:
        assert t.opinion is not None
        assert t.opinion in timeline
    acts = [e.act for e in await audit(conv, filed.app_id)]
    assert acts.count(AuditAct.SUBMITTED.value) == 2
    assert acts.count(AuditAct.RETURNED.value) == 1
    assert acts[-1] == AuditAct.NAMED.value
    assert acts.count(AuditAct.APPROVED.value) == sum(len(codes) for codes in chain)
    async with conv.sessions() as session:
        versions = (
            (
                await session.execute(
                    select(Submission).where(Submission.application_id == filed.app_id)
                )
            )
            .scalars()
            .all()
        )
    assert sorted(v.number for v in versions) == [1, 2]
    assert len({v.sha256 for v in versions}) == 2


async def pass_level_again(
    conv: Conversation, program: Program, level: int, codes: list[str], card: Reply, who: UserRef
) -> None:
    """The level that returned it approves the new version (its card in hand)."""
    await decide(conv, who, card, Action.REVIEW_APPROVE, "修改后同意")
    for code in codes[1:]:
        [other] = await notes(conv, reviewer(code))
        await decide(conv, reviewer(code), other, Action.REVIEW_APPROVE, "同意")


async def revise_one_answer(conv: Conversation, filed: Filed, out: Outcome) -> str:
    """From the preview, change the first typed text answer of some section alone (its
    section's picker, the answer), then submit; the question changed."""
    preview = next(
        r
        for r in out.replies
        if any(b.action is Action.EDIT_PICK for row in r.buttons for b in row)
    )
    for section in filed.program.sections:
        first = section.questions[0]
        if first.type == "text" and not first.suggest:
            break
    else:
        raise AssertionError("no section starts with a plain text question")
    out = await conv.handle(filed.user, press(preview, Action.EDIT_PICK, section.id))
    if Action.EDIT_ANSWER in actions(out):  # a section of one answer opens it at once
        out = await conv.handle(
            filed.user, press(out.replies[-1], Action.EDIT_ANSWER, stable_key(first.id))
        )
    out = await conv.handle(filed.user, TextIn(text_for(first) + "改"))
    assert [r for r in out.replies if "申报预览" in r.text]  # back at the preview at once
    await answer_until_submitted(conv, filed.user, filed.program, out, unit=filed.unit)
    return first.id


# --------------------------------------------------------------------------- rules


async def submitted_dalian(
    conv: Conversation, leader: str = "a-rules"
) -> tuple[Filed, list[list[str]]]:
    program = REGISTRY.get("dalian-worker")
    assert program is not None
    chain = await staff_chain(conv, program)
    user = UserRef("telegram", leader, "规则申报人")
    filed = await declare(conv, user, program.id, await unit_name(conv, CHAIN_FROM[program.id][0]))
    return filed, chain


async def test_forbidden_acts_are_refused_and_change_nothing(conv: Conversation) -> None:
    filed, chain = await submitted_dalian(conv)
    [card] = await notes(conv, reviewer(chain[0][0]))
    before = [(t.id, t.state) for t in await tasks(conv, filed.app_id)]

    # A reviewer of another organisation (the next level's) presses the card's buttons.
    other = reviewer(chain[1][0])
    read = press(card, Action.REVIEW_READ)
    show = ButtonIn(Action.REVIEW_SHOW, read.arg, read.application_id, read.revision)
    pressed = [press(card, Action.REVIEW_APPROVE), press(card, Action.REVIEW_REJECT), read, show]
    for event in pressed:
        out = await conv.handle(other, event)
        assert out.toast
        assert not any(r.expects_text for r in out.replies)
    # Forged numbers, a task of another declaration, a version that never was.
    approve = press(card, Action.REVIEW_APPROVE)
    for forged in (
        ButtonIn(approve.action, 2**40, approve.application_id, approve.revision),
        ButtonIn(approve.action, approve.arg, approve.application_id + 1, approve.revision),
        ButtonIn(approve.action, approve.arg, approve.application_id, approve.revision + 1),
        ButtonIn(approve.action, -1, approve.application_id, approve.revision),
    ):
        out = await conv.handle(reviewer(chain[0][0]), forged)
        assert not any(r.expects_text for r in out.replies)
    # The applicant cannot review their own declaration, even holding the role.
    await grant(conv, filed.user, chain[0][0], StaffRole.REVIEWER)
    out = await conv.handle(filed.user, press(card, Action.REVIEW_APPROVE))
    assert not any(r.expects_text for r in out.replies)
    assert [(t.id, t.state) for t in await tasks(conv, filed.app_id)] == before

    # Two reviewers of the same organisation: one decision wins, the other is told who.
    second = reviewer(chain[0][0], 5)
    await grant(conv, second, chain[0][0], StaffRole.REVIEWER)
    first_out = await conv.handle(reviewer(chain[0][0]), press(card, Action.REVIEW_APPROVE))
    second_out = await conv.handle(second, press(card, Action.REVIEW_APPROVE))
    assert first_out.replies[0].expects_text
    assert second_out.replies[0].expects_text
    await conv.handle(reviewer(chain[0][0]), TextIn("同意推荐"))
    late = await conv.handle(second, TextIn("我也同意"))
    assert reviewer(chain[0][0]).display_name in (late.toast or "")
    level0 = [t for t in await tasks(conv, filed.app_id) if t.level == 0]
    assert [t.opinion for t in level0] == ["同意推荐"]
    # Replaying the old button changes nothing either.
    out = await conv.handle(reviewer(chain[0][0]), press(card, Action.REVIEW_APPROVE))
    assert not any(r.expects_text for r in out.replies)
    acts = [e.act for e in await audit(conv, filed.app_id)]
    assert acts.count(AuditAct.APPROVED.value) == 1


async def test_an_old_version_cannot_be_decided(conv: Conversation) -> None:
    filed, chain = await submitted_dalian(conv, "a-old")
    code = chain[0][0]
    [card] = await notes(conv, reviewer(code))
    await decide(conv, reviewer(code), card, Action.REVIEW_RETURN, "请修改")
    [told] = [
        r
        for r in await notes(conv, filed.user)
        if any(b.action is Action.RESUME for row in r.buttons for b in row)
    ]
    out = await conv.handle(filed.user, press(told, Action.RESUME))
    await revise_one_answer(conv, filed, out)
    out = await conv.handle(reviewer(code), press(card, Action.REVIEW_APPROVE))  # version 1's card
    assert not any(r.expects_text for r in out.replies)
    [fresh] = await notes(conv, reviewer(code))
    assert fresh.revision == 2
    out = await conv.handle(reviewer(code), press(fresh, Action.REVIEW_APPROVE))
    assert out.replies[0].expects_text


async def test_rejection_is_final_and_told(conv: Conversation) -> None:
    filed, chain = await submitted_dalian(conv, "a-reject")
    [card] = await notes(conv, reviewer(chain[0][0]))
    await decide(conv, reviewer(chain[0][0]), card, Action.REVIEW_REJECT, "不符合创建条件")
    app = await stored(conv, filed.app_id)
    assert app.status == "rejected"
    told = await notes(conv, filed.user)
    assert any("不符合创建条件" in r.text for r in told)
    assert await notes(conv, reviewer(chain[1][0])) == []


async def test_withdraw_before_any_decision_only(conv: Conversation) -> None:
    filed, chain = await submitted_dalian(conv, "a-withdraw")
    out = await conv.handle(filed.user, CommandIn("status"))
    out = await conv.handle(filed.user, press(out.replies[0], Action.TIMELINE))
    out = await conv.handle(filed.user, press(out.replies[0], Action.WITHDRAW))
    out = await conv.handle(filed.user, press(out.replies[0], Action.WITHDRAW_OK))
    app = await stored(conv, filed.app_id)
    assert app.status == "draft"
    assert {t.state for t in await tasks(conv, filed.app_id)} == {"closed"}
    [card] = await notes(conv, reviewer(chain[0][0]))
    out = await conv.handle(reviewer(chain[0][0]), press(card, Action.REVIEW_APPROVE))
    assert not any(r.expects_text for r in out.replies)
    # Submitted again and decided once: no withdrawing any more.
    out2 = await conv.handle(filed.user, CommandIn("apply"))
    pick = next(b for row in out2.replies[0].buttons for b in row if b.key == filed.program.id)
    out2 = await conv.handle(filed.user, ButtonIn(pick.action, pick.arg, 0, 0, pick.key))
    await answer_until_submitted(conv, filed.user, filed.program, out2, unit=filed.unit)
    [card] = await notes(conv, reviewer(chain[0][0]))
    await decide(conv, reviewer(chain[0][0]), card, Action.REVIEW_APPROVE, "同意")
    out = await conv.handle(filed.user, CommandIn("status"))
    out = await conv.handle(filed.user, press(out.replies[0], Action.TIMELINE))
    assert Action.WITHDRAW not in actions(out)


async def test_an_unlisted_unit_is_placed_by_the_issuers_administrator(conv: Conversation) -> None:
    program = REGISTRY.get("dalian-worker")
    assert program is not None
    chain = await staff_chain(conv, program)
    user = UserRef("telegram", "a-unlisted", "新单位申报人")
    filed = await declare(conv, user, program.id, "一家名录里没有的公司")
    app = await stored(conv, filed.app_id)
    assert app.status == "submitted"
    assert app.organisation_id is None
    admin = reviewer("dl", 8)
    [note] = await notes(conv, admin)
    out = await conv.handle(admin, press(note, Action.PLACE))
    out = await conv.handle(admin, TextIn("港口设备"))
    pick = next(
        b for r in out.replies for row in r.buttons for b in row if b.action is Action.PLACE_PICK
    )
    unit = await unit_name(conv, CHAIN_FROM[program.id][0])
    assert pick.label == unit
    out = await conv.handle(admin, ButtonIn(pick.action, pick.arg, 0, 0, pick.key))
    app = await stored(conv, filed.app_id)
    assert app.status == "in_review"
    assert app.organisation_id is not None
    [card] = await notes(conv, reviewer(chain[0][0]))
    assert Action.REVIEW_APPROVE in {b.action for row in card.buttons for b in row}
    # Someone who administers nothing cannot place.
    out = await conv.handle(reviewer(chain[0][0]), press(note, Action.PLACE))
    assert not any(r.expects_text for r in out.replies)


async def test_inbox_lists_oldest_first_with_days_waited(conv: Conversation) -> None:
    _filed, chain = await submitted_dalian(conv, "a-inbox")
    out = await conv.handle(reviewer(chain[0][0]), CommandIn("inbox"))
    opened = [
        b for r in out.replies for row in r.buttons for b in row if b.action is Action.REVIEW_SHOW
    ]
    assert len(opened) == 1
    [listing] = [r for r in out.replies if r.buttons]
    out = await conv.handle(reviewer(chain[0][0]), press(listing, Action.REVIEW_SHOW))
    assert Action.REVIEW_APPROVE in actions(out)  # the listed item opens its card
    out = await conv.handle(reviewer(chain[1][0]), CommandIn("inbox"))
    assert not [
        b for r in out.replies for row in r.buttons for b in row if b.action is Action.REVIEW_SHOW
    ]


def test_an_unplaced_org_answer_says_it_waits_to_be_placed() -> None:
    program = REGISTRY.get("dalian-worker")
    assert program is not None
    assert program.applicant_org is not None
    q = program.question(program.applicant_org)
    loc = Locale("zh-CN")
    unplaced = kind(q).format(q, {"code": None, "name": "某公司"}, loc=loc, date_style="iso")
    placed = kind(q).format(q, {"code": "dl-xg-gk", "name": "某公司"}, loc=loc, date_style="iso")
    assert placed == "某公司"
    assert unplaced == loc.t("engine.org.unplaced", name="某公司")


async def test_reading_sends_the_photos_and_files_themselves(conv: Conversation) -> None:
    program = REGISTRY.get("beijing-worker")
    assert program is not None
    chain = await staff_chain(conv, program)
    user = UserRef("telegram", "a-photos", "带照片的申报人")
    filed = await declare(conv, user, program.id, await unit_name(conv, CHAIN_FROM[program.id][0]))
    app = await stored(conv, filed.app_id)
    uploads = [
        i
        for q in program.questions()
        if q[1].type in ("photo", "file")
        for i in app.answers.get(q[1].id) or []
    ]
    assert uploads
    [card] = await notes(conv, reviewer(chain[0][0]))
    out = await conv.handle(reviewer(chain[0][0]), press(card, Action.REVIEW_READ))
    media = []
    for _ in program.sections:
        [page] = out.replies
        media += page.media
        nexts = [b for row in page.buttons for b in row if b.action is Action.REVIEW_READ]
        forward = [b for b in nexts if b.label == conv.loc.t("review.btn.next")]
        if not forward:
            break
        out = await conv.handle(
            reviewer(chain[0][0]), press(page, Action.REVIEW_READ, forward[0].key)
        )
    assert len(media) == len(uploads)
    assert stored_files([m.path for m in media])
    assert {m.kind for m in media} <= {"photo", "document"}


def stored_files(paths: list[str]) -> bool:
    return all(Path(p).is_file() for p in paths)


async def test_a_table_changed_before_resubmission_and_suggestions_pressed(
    conv: Conversation,
) -> None:
    filed, chain = await submitted_dalian(conv, "a-table")
    code = chain[0][0]
    [card] = await notes(conv, reviewer(code))
    out = await conv.handle(reviewer(code), press(card, Action.REVIEW_RETURN))
    # The suggested reason is pressed, not typed: it acts like typing it.
    suggestion = press(out.replies[0], Action.REVIEW_SUGGEST)
    await conv.handle(reviewer(code), suggestion)
    app = await stored(conv, filed.app_id)
    assert app.status == "returned"
    group = next(q for _, q in filed.program.questions() if q.type == "group")
    async with conv.sessions() as session, session.begin():
        row = await session.get(Application, filed.app_id)
        assert row is not None
        rows = list(row.answers[group.id])
        row.answers = {**row.answers, group.id: [*rows, dict(rows[0])]}
        row.revision += 1
    [told] = [
        r
        for r in await notes(conv, filed.user)
        if any(b.action is Action.RESUME for row in r.buttons for b in row)
    ]
    out = await conv.handle(filed.user, press(told, Action.RESUME))
    preview = next(
        r for r in out.replies if any(b.action is Action.SUBMIT for row in r.buttons for b in row)
    )
    out = await conv.handle(filed.user, press(preview, Action.SUBMIT))
    await conv.handle(filed.user, press(out.replies[-1], Action.SUBMIT_OK))
    app = await stored(conv, filed.app_id)
    assert (app.submission_no, app.status) == (2, "in_review")
    [again] = await notes(conv, reviewer(code))
    assert group.label in again.text


async def test_a_level_without_reviewers_is_told_to_the_issuer_and_a_newcomer_sees_it(
    conv: Conversation,
) -> None:
    from review import invites

    program = REGISTRY.get("dalian-worker")
    assert program is not None
    assert program.issuer is not None
    admin = reviewer(program.issuer, 8)
    await grant(conv, admin, program.issuer, StaffRole.ADMIN)  # nobody else holds a role
    unit = await unit_name(conv, CHAIN_FROM[program.id][0])
    await declare(conv, UserRef("telegram", "a-nobody", "申报人"), program.id, unit)
    first = CHAIN_FROM[program.id][1][0][0]
    [note] = await notes(conv, admin)
    assert first in note.text  # names the organisation's code to invite for
    async with conv.sessions() as session, session.begin():
        org = await staff.organisation(session, code=first)
        assert org is not None
        made = await invites.create(
            session, organisation=org, role=StaffRole.REVIEWER, days=7, now=NOW
        )
    out = await conv.handle(reviewer(first), CommandIn("start", made.token))
    assert conv.loc.t("staff.join.waiting", count=1) in out.replies[0].text
