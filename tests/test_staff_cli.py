"""``studiobot org`` through ``studiobot.cli.main``.  Database tests run on SQLite, and
on PostgreSQL when configured."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot import logsafe
from dialogs.i18n import Locale
from storage.db import create_engine, session_factory
from storage.models import Organisation
from studiobot.cli import main

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
