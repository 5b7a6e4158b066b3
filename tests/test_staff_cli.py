"""``studiobot org`` and ``studiobot invite`` through ``studiobot.cli.main``, the
terminal's ``/start <token>``, and an invitation opened in Telegram over HTTP
(the fake Bot API).  Database tests run on SQLite, and on PostgreSQL when configured.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot import logsafe
from bot.identity import fetch_username
from dialogs.i18n import Locale
from dialogs.loader import load_registry
from dialogs.service import Conversation
from dialogs.ui import CommandIn, UserRef
from review import invites, orgs
from storage import staff
from storage.db import SessionFactory, create_engine, session_factory
from storage.files import FileStore
from storage.models import AuditEntry, Invitation, Membership, Organisation, StaffRole
from studiobot import terminal
from studiobot.cli import main
from studiobot.terminal import Terminal
from tests.fakebotapi import FakeBotAPI
from tests.test_bot_http import config_for, polling

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "review" / "examples" / "dalian.yaml"
ZH = Locale("zh-CN")
TOKEN_LINE = re.compile(r"^[A-Za-z0-9_-]{43}$", re.MULTILINE)


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """The CLI's environment: this test's database, no other setting, no ``.env``."""
    for name in [n for n in os.environ if n.startswith("STUDIOBOT_")]:
        if name != "STUDIOBOT_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("STUDIOBOT_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    try:
        yield database_url
    finally:
        logsafe.uninstall()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def _rows(url: str, model: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            result = await session.execute(select(model).order_by(col(model.id)))
            return list(result.scalars().all())
    finally:
        await engine.dispose()


def rows(url: str, model: Any) -> list[Any]:
    return asyncio.run(_rows(url, model))


def test_org_import_and_list(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "org", "list")
    assert (code, out.strip(), err) == (0, ZH.t("staff.cli.tree_empty"), "")

    code, out, _ = run(capsys, "org", "import", str(EXAMPLE))
    assert code == 0
    imported = ZH.t("staff.cli.imported", file=EXAMPLE, added=18, updated=0, unchanged=0)
    assert out.strip() == imported
    code, out, _ = run(capsys, "org", "import", str(EXAMPLE))
    imported = ZH.t("staff.cli.imported", file=EXAMPLE, added=0, updated=0, unchanged=18)
    assert out.strip() == imported
    assert len(rows(cli_env, Organisation)) == 18

    code, out, _ = run(capsys, "org", "list")
    lines = out.splitlines()
    assert lines[:4] == [
        "dl  大连市总工会（city）",
        "  dl-xg  西岗区总工会（district）",
        "    dl-xg-gk-gh  大连港口设备有限公司工会（grassroots）",
        "      dl-xg-gk  大连港口设备有限公司（unit）",
    ]
    assert "        dl-xg-gk-dw  党委（department）" in lines
    assert "dl-kw  大连市科学技术委员会（commission）" in lines
    assert lines[-1] == ZH.t("staff.cli.tree_total", count=18)


def test_org_import_refuses_a_bad_file_and_says_what_was_kept(
    cli_env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "orgs.yaml"
    bad.write_text(
        "- {code: dl, name: 大连市总工会, kind: city}\n"
        "- {code: dl-xg, name: 西岗区总工会, kind: district, parent: dl}\n"
        "- {code: dl-xg, name: 西岗区总工会, kind: distrcit, parent: dl}\n"
        "- {code: dl-xg-1, name: 某基层工会, kind: grassroots, parent: dl-x}\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "org", "import", str(bad))
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        ZH.t("staff.cli.refused"),
        f"  {bad}: entries[2] (code dl-xg): unknown kind 'distrcit' (known: city, district,"
        " industry, zone, federation, grassroots, unit, department, commission)",
        f"  {bad}: entries[3] (code dl-xg-1): unknown parent 'dl-x'",
    ]
    assert rows(cli_env, Organisation) == []

    run(capsys, "org", "import", str(EXAMPLE))
    small = tmp_path / "small.yaml"
    small.write_text("- {code: dl, name: 大连市总工会, kind: city}\n", encoding="utf-8")
    code, out, _ = run(capsys, "org", "import", str(small))
    first, kept = out.splitlines()
    assert first == ZH.t("staff.cli.imported", file=small, added=0, updated=0, unchanged=1)
    assert kept.startswith(ZH.t("staff.cli.kept_more", count=17, codes="dl-kw、dl-xg、")[:30])
    assert len(rows(cli_env, Organisation)) == 18


def test_invite_prints_a_token_and_revokes_by_number_or_token(
    cli_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "org", "import", str(EXAMPLE))
    code, out, err = run(capsys, "invite", "--org", "dl-xg", "--role", "reviewer")
    assert (code, err) == (0, "")
    made, hint, token, revoke = out.splitlines()
    [stored] = rows(cli_env, Invitation)
    assert hint == ZH.t("staff.cli.invite_bare")
    assert TOKEN_LINE.fullmatch(token)
    assert stored.token_sha256 == invites.token_hash(token)
    assert made.startswith(f"已为「西岗区总工会」创建审核人员邀请：编号 {stored.id}，")
    assert revoke == ZH.t("staff.cli.revoke_hint", id=stored.id)
    assert (stored.expires_at - stored.created_at).days == 7

    monkeypatch.setenv("STUDIOBOT_BOT_USERNAME", "@studio_test_bot")
    code, out, _ = run(capsys, "invite", "--org", "dl", "--role", "admin", "--days", "2")
    link = out.splitlines()[1]
    second = rows(cli_env, Invitation)[-1]
    assert re.fullmatch(r"https://t\.me/studio_test_bot\?start=[A-Za-z0-9_-]{43}", link)
    assert second.token_sha256 == invites.token_hash(link.rsplit("=", 1)[1])
    assert (second.role, (second.expires_at - second.created_at).days) == ("admin", 2)

    code, out, _ = run(capsys, "invite", "revoke", str(stored.id))
    role = ZH.t("staff.role.reviewer")
    assert (code, out.strip()) == (
        0,
        ZH.t("staff.cli.revoked", id=stored.id, organisation="西岗区总工会", role=role),
    )
    code, out, _ = run(capsys, "invite", "revoke", link)
    assert code == 0
    assert [i.revoked_at is not None for i in rows(cli_env, Invitation)] == [True, True]
    code, out, _ = run(capsys, "invite", "revoke", token)
    assert (code, out.strip()) == (0, ZH.t("staff.cli.revoke_again", id=stored.id))
    acts = [(a.act, a.person_id) for a in rows(cli_env, AuditEntry)]
    assert acts == [
        ("invite_created", None),
        ("invite_created", None),
        ("invite_revoked", None),
        ("invite_revoked", None),
    ]


def test_invite_refusals(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "org", "import", str(EXAMPLE))
    code, _, err = run(capsys, "invite", "--org", "nope", "--role", "reviewer")
    assert (code, err.strip()) == (1, ZH.t("staff.cli.no_org", code="nope"))
    code, _, err = run(capsys, "invite", "--org", "dl")
    assert (code, err.strip()) == (2, ZH.t("staff.cli.needs_org_role"))
    code, _, err = run(capsys, "invite", "--org", "dl", "--role", "admin", "--days", "0")
    assert (code, err.strip()) == (2, ZH.t("staff.cli.bad_days", max=invites.MAX_DAYS))
    code, _, err = run(capsys, "invite", "revoke", "12345")
    assert (code, err.strip()) == (1, ZH.t("staff.cli.revoke_unknown"))
    code, _, err = run(capsys, "invite", "revoke", "not a token")
    assert (code, err.strip()) == (1, ZH.t("staff.cli.revoke_unknown"))
    assert rows(cli_env, Invitation) == []
    with pytest.raises(SystemExit):
        main(["invite", "--org", "dl", "--role", "chair"])


def test_a_used_invitation_cannot_be_revoked(
    cli_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "org", "import", str(EXAMPLE))
    _, out, _ = run(capsys, "invite", "--org", "dl-zs", "--role", "admin")
    token = TOKEN_LINE.search(out)
    assert token
    # Opened in the terminal chat: "/start <token>".
    stdin = io.StringIO(f"/start {token.group(0)}\n")
    monkeypatch.setattr(terminal, "main_stdin", lambda: stdin)
    code, out, _ = run(capsys, "chat", "--user", "zhao")
    assert code == 0
    role = ZH.t("staff.role.admin")
    assert ZH.t("staff.join.joined", organisation="中山区总工会", role=role) in out
    [member] = rows(cli_env, Membership)
    assert member.role == "admin"
    [invitation] = rows(cli_env, Invitation)
    code, _, err = run(capsys, "invite", "revoke", str(invitation.id))
    assert (code, err.strip()) == (1, ZH.t("staff.cli.revoke_used", id=invitation.id))
    assert rows(cli_env, Invitation)[0].revoked_at is None


def test_the_terminal_passes_the_start_argument() -> None:
    term = Terminal(
        conversation=None,  # type: ignore[arg-type]
        user=UserRef("terminal", "me"),
        out=io.StringIO(),
        locale=Locale(),
    )
    assert term.parse("/start abc_DEF-123\n") == CommandIn("start", "abc_DEF-123")
    assert term.parse("/start\n") == CommandIn("start")
    assert term.parse("/invite\n") == CommandIn("invite")


# --------------------------------------------------------------------------- Telegram


async def test_invite_asks_the_bot_api_for_the_username(
    cli_env: str,
    capsys: pytest.CaptureFixture[str],
    api: FakeBotAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await asyncio.to_thread(main, ["org", "import", str(EXAMPLE)])
    monkeypatch.setenv("STUDIOBOT_BOT_TOKEN", api.token)
    monkeypatch.setenv("STUDIOBOT_TELEGRAM_API_URL", api.url)
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["invite", "--org", "dl", "--role", "reviewer"])
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"^https://t\.me/studio_test_bot\?start=[A-Za-z0-9_-]{43}$", out, re.M)
    assert api.token not in out

    # Unreachable server: the bare parameter, with the reason in one line.
    monkeypatch.setenv("STUDIOBOT_TELEGRAM_API_URL", "http://127.0.0.1:9")
    code = await asyncio.to_thread(main, ["invite", "--org", "dl", "--role", "reviewer"])
    _, hint, token, _ = capsys.readouterr().out.splitlines()
    assert code == 0
    assert hint.startswith("无法向 Bot API 查询机器人用户名")
    assert TOKEN_LINE.fullmatch(token)
    assert api.token not in hint


async def test_an_invitation_opened_in_telegram(
    api: FakeBotAPI, sessions: SessionFactory, file_store: FileStore
) -> None:
    config = config_for(api)
    username = await fetch_username(config)
    assert username == "studio_test_bot"
    conversation = Conversation(
        registry=load_registry(), sessions=sessions, files=file_store, bot_username=username
    )
    now = dt.datetime.now(dt.UTC)
    async with sessions() as session, session.begin():
        await orgs.import_file(session, path=EXAMPLE, now=now)
        union = await staff.organisation(session, code="dl-jxyj")
        assert union is not None
        created = await invites.create(
            session, organisation=union, role=StaffRole.ADMIN, days=7, now=now
        )
    boss, colleague = 3001, 3002
    api.set_user(boss, first_name="赵", last_name="主席")
    async with polling(config, conversation):
        api.send_command(boss, "start", args=created.token)
        [joined] = await api.wait_for_reply(boss)
        role = ZH.t("staff.role.admin")
        assert joined.text == ZH.t(
            "staff.join.joined", organisation="大连市机械冶金工会", role=role
        )

        api.send_command(boss, "invite")
        [link_message] = await api.wait_for_reply(boss)
        found = re.search(
            r"https://t\.me/studio_test_bot\?start=([A-Za-z0-9_-]{43})", link_message.text or ""
        )
        assert found

        api.send_command(colleague, "start", args=found.group(1))
        [welcome] = await api.wait_for_reply(colleague)
        role = ZH.t("staff.role.reviewer")
        assert welcome.text == ZH.t(
            "staff.join.joined", organisation="大连市机械冶金工会", role=role
        )

        api.send_command(colleague, "start", args=found.group(1))
        [again] = await api.wait_for_reply(colleague)
        assert again.text == ZH.t("staff.join.yours", organisation="大连市机械冶金工会", role=role)

        api.send_command(boss, "staff")
        [listing] = await api.wait_for_reply(boss)
        assert listing.labels[0].startswith("移除 ")
        api.press_button(boss, listing.labels[0])
        [confirm] = await api.wait_for_reply(boss)
        api.press_button(boss, confirm.labels[0])
        done, _ = await api.wait_for_reply(boss)
        assert (done.text or "").startswith("已移除 ")
        assert api.unanswered_callbacks() == []
    async with sessions() as session:
        members = (await session.execute(select(Membership).order_by(col(Membership.id)))).scalars()
        assert [(m.role, m.revoked_at is None) for m in members] == [
            ("admin", True),
            ("reviewer", False),
        ]
