"""The `studiobot` command as a user meets it: run without a token, programs,
db upgrade, and a scripted terminal chat that resumes after it ended."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def studiobot(
    *args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STUDIOBOT_")}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "studiobot.cli", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**clean, **(env or {})},
        timeout=120,
        check=False,
    )


def test_run_without_token_says_how_to_set_it(tmp_path: Path) -> None:
    result = studiobot("run", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "STUDIOBOT_BOT_TOKEN" in lines[0]
    assert "export" in lines[0]


def test_programs_list_shows_the_five(tmp_path: Path) -> None:
    result = studiobot("programs", "list", cwd=tmp_path)
    assert result.returncode == 0
    for title in (
        "大连市总工会 · 职工创新工作室（岗）",
        "中国交建工会联合会 · 劳模（工匠人才）创新工作室",
    ):
        assert title in result.stdout
    assert result.stdout.count("\n") >= 6


def test_programs_check_names_file_field_and_code(tmp_path: Path) -> None:
    good = ROOT / "dialogs" / "programs" / "dalian-worker.yaml"
    assert studiobot("programs", "check", str(good), cwd=tmp_path).returncode == 0
    bad = tmp_path / "broken.yaml"
    bad.write_text(
        good.read_text(encoding="utf-8")
        .replace("id: dalian-worker", "id: broken")
        .replace("type: yesno", "type: yes-or-no", 1),
        encoding="utf-8",
    )
    result = studiobot("programs", "check", str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert str(bad) in result.stderr
    assert ".type: [E010] unknown question type 'yes-or-no'" in result.stderr


def sixth(path: Path) -> str:
    """Write a sixth program (Dalian 000 under another id and union) to ``path``;
    the Dalian source, for more variants."""
    source = (ROOT / "dialogs" / "programs" / "dalian-worker.yaml").read_text(encoding="utf-8")
    path.write_text(
        source.replace("id: dalian-worker", "id: sixth-studio").replace(
            "union: 大连市总工会", "union: 某某市总工会"
        ),
        encoding="utf-8",
    )
    return source


def test_a_sixth_program_is_a_file(tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    sixth(extra / "sixth-studio.yaml")
    result = studiobot("programs", "list", cwd=tmp_path, env={"STUDIOBOT_PROGRAMS_DIR": str(extra)})
    assert result.returncode == 0
    assert "某某市总工会 · 职工创新工作室（岗）" in result.stdout


def test_a_broken_sibling_file_stops_no_other_program(tmp_path: Path) -> None:
    """The good sixth program serves and the broken seventh is named with its first
    problem, in ``programs list`` and in one line when the chat starts."""
    extra = tmp_path / "extra"
    extra.mkdir()
    source = sixth(extra / "sixth-studio.yaml")
    broken = extra / "seventh-studio.yaml"
    broken.write_text(
        source.replace("id: dalian-worker", "id: seventh-studio").replace(
            "type: yesno", "type: yes-or-no", 1
        ),
        encoding="utf-8",
    )
    env = {"STUDIOBOT_PROGRAMS_DIR": str(extra)}
    listed = studiobot("programs", "list", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "某某市总工会 · 职工创新工作室（岗）" in listed.stdout
    assert "大连市总工会 · 职工创新工作室（岗）" in listed.stdout
    [line] = [ln for ln in listed.stdout.splitlines() if str(broken) in ln]
    assert "[E010]" in line
    chat = studiobot("chat", "--user", "leader", cwd=tmp_path, stdin="/apply\n", env=env)
    assert chat.returncode == 0, chat.stderr
    assert "某某市总工会 · 职工创新工作室（岗）" in chat.stdout
    said = [ln for ln in chat.stderr.splitlines() if str(broken) in ln]
    assert len(said) == 1
    assert "[E010]" in said[0]


def test_programs_try_walks_one_file_on_a_throw_away_database(tmp_path: Path) -> None:
    source = sixth(tmp_path / "sixth-studio.yaml")
    result = studiobot(
        "programs",
        "try",
        str(tmp_path / "sixth-studio.yaml"),
        "--user",
        "author",
        cwd=tmp_path,
        stdin="/apply\n",
    )
    assert result.returncode == 0, result.stderr
    assert "某某市总工会 · 职工创新工作室（岗）" in result.stdout
    assert "大连市总工会 · 职工创新工作室（岗）" not in result.stdout  # that file alone
    assert not (tmp_path / "data").exists()  # nothing kept
    broken = tmp_path / "broken.yaml"
    broken.write_text(source.replace("type: yesno", "type: yes-or-no", 1), encoding="utf-8")
    refused = studiobot("programs", "try", str(broken), cwd=tmp_path)
    assert refused.returncode == 1
    assert "[E010]" in refused.stderr


def test_db_upgrade_creates_the_database(tmp_path: Path) -> None:
    result = studiobot("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "studiobot.db").is_file()


def test_chat_is_scriptable_and_resumes(tmp_path: Path) -> None:
    # menu -> apply -> first program (Dalian 000) -> answer two questions, one wrong first.
    script = "1\n1\n大连港集团有限公司\n2026-13-45\n2026年5月20日\n"
    first = studiobot("chat", "--user", "leader", cwd=tmp_path, stdin=script)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "第 1/8 题 · 申报单位" in out
    assert "【申报单位（公章）】" in out
    assert "例如" in out  # the wrong date got a message with an example
    assert "第 3/8 题" in out
    assert "再见" in out
    # A new run continues at the same question, with the answers kept.
    second = studiobot("chat", "--user", "leader", cwd=tmp_path, stdin="/status\n")
    assert second.returncode == 0, second.stderr
    assert "欢迎回来" in second.stdout
    assert "第 3/8 题" in second.stdout
    assert "已完成 2/8 题" in second.stdout


def test_chat_says_where_its_data_is_and_survives_long_lines_and_bad_paths(
    tmp_path: Path,
) -> None:
    long = "我们工作室围绕港口装卸设备开展技术攻关" * 15  # 300 characters, once a crash
    missing = tmp_path / "没有这张照片.jpg"
    script = f"1\n1\n{long}\n'{missing}'\n/{long}.jpg\n保存并退出\n"
    result = studiobot("chat", "--user", "leader", cwd=tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert str((tmp_path / "data" / "studiobot.db").resolve()) in out
    assert f"找不到文件「{missing}」" in out  # the quotes taken off, the path named
    assert "〔保存并退出〕" in out  # navigation is a word, not a number
    assert "已保存" in out  # 保存并退出 typed did what the button does
    assert "再见" in out


async def test_terminal_turns_numbers_paths_and_commands_into_events(tmp_path: Path) -> None:
    import io

    from dialogs.i18n import Locale
    from dialogs.ui import Action, Button, ButtonIn, CommandIn, FileIn, Reply, TextIn, UserRef
    from studiobot.terminal import Terminal
    from tests.walkthrough import png

    photo = tmp_path / "studio.png"
    photo.write_bytes(png(1))
    term = Terminal(
        conversation=None, user=UserRef("terminal", "me"), out=io.StringIO(), locale=Locale()
    )  # type: ignore[arg-type]
    choice = Reply("性别", [[Button("男", Action.CHOOSE, 0), Button("女", Action.CHOOSE, 1)]], 7, 3)
    term.last = choice
    assert term.parse("2\n") == ButtonIn(Action.CHOOSE, 1, 7, 3)
    assert term.parse("/apply\n") == CommandIn("apply")
    typed = Reply(
        "人数",
        [[Button("💡 12", Action.SUGGEST, 0)], [Button("上一步", Action.BACK)]],
        7,
        4,
        expects_text=True,
    )
    term.last = typed
    assert term.parse("1\n") == TextIn("1")  # a number is an answer where text is expected
    assert term.parse("#1\n") == ButtonIn(Action.SUGGEST, 0, 7, 4)
    assert term.parse("#2\n") is None  # navigation has no number: 上一步 is typed as a word
    assert term.parse("#9\n") is None  # no such button: said, not sent
    assert term.parse("上一步\n") == TextIn("上一步")  # the dialog reads the word
    event = term.parse(f"{photo}\n")
    assert isinstance(event, FileIn)
    assert (event.kind, event.mime_type, event.size) == ("photo", "image/png", len(png(1)))
    assert await event.fetch() == png(1)


def test_bad_settings_and_an_unreachable_database_get_one_clear_line(tmp_path: Path) -> None:
    zone = studiobot("chat", cwd=tmp_path, env={"STUDIOBOT_TIMEZONE": "Mars/Base"})
    assert zone.returncode == 2
    assert zone.stderr.strip() == (
        "配置有误：STUDIOBOT_TIMEZONE：unknown time zone 'Mars/Base' (for example Asia/Shanghai)"
    )
    url = "postgresql://someone:secret@127.0.0.1:1/nothing"
    down = studiobot("db", "upgrade", cwd=tmp_path, env={"STUDIOBOT_DATABASE_URL": url})
    assert down.returncode == 1
    assert down.stderr.startswith(
        "无法使用数据库 postgresql+asyncpg://someone:***@127.0.0.1:1/nothing"
    )
    assert "secret" not in down.stderr
    assert "Traceback" not in down.stderr


def test_webhook_mode_without_its_url_says_so(tmp_path: Path) -> None:
    result = studiobot("run", "--webhook", cwd=tmp_path, env={"STUDIOBOT_BOT_TOKEN": "1:x"})
    assert result.returncode == 2
    assert result.stderr.strip() == "无法启动：STUDIOBOT_WEBHOOK_URL is not set"
