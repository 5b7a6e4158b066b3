"""The ``studiobot`` command: run the bot, chat in the terminal, check programs,
upgrade the database."""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot import logsafe
from dialogs.i18n import Locale
from dialogs.loader import DefinitionError, load_program
from storage.migrate import upgrade_to_head
from studiobot.app import build_conversation, load_programs
from studiobot.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studiobot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the Telegram bot (long polling, or --webhook)")
    run.add_argument("--webhook", action="store_true", help="serve a webhook instead of polling")
    chat = sub.add_parser("chat", help="the same dialogs in this terminal, no token needed")
    chat.add_argument("--user", help="local user name (default: your login name)")
    programs = sub.add_parser("programs", help="list or check program definitions")
    psub = programs.add_subparsers(dest="action", required=True)
    psub.add_parser("list", help="list the programs served")
    check = psub.add_parser("check", help="check definition files")
    check.add_argument("files", nargs="+", type=Path)
    db = sub.add_parser("db", help="database maintenance")
    dsub = db.add_subparsers(dest="action", required=True)
    dsub.add_parser("upgrade", help="bring the database to the newest schema")
    return parser


def _programs_list(settings: Settings, loc: Locale) -> int:
    registry = load_programs(settings)
    print(loc.t("cli.programs_header", count=len(registry)))
    for p in registry:
        print(
            loc.t(
                "cli.program_line",
                id=p.id,
                title=p.button_title,
                sections=len(p.sections),
                questions=len(p.questions()),
                levels=len(p.review_chain),
                dates=len(p.dates),
            )
        )
    return 0


def _programs_check(files: list[Path], loc: Locale) -> int:
    status = 0
    for path in files:
        try:
            program = load_program(path)
        except DefinitionError as exc:
            print(loc.t("cli.definition_error"), file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
            status = 1
            continue
        print(loc.t("cli.check_ok", file=path, id=program.id, questions=len(program.questions())))
    return status


async def _chat(settings: Settings, user: str | None) -> None:
    from studiobot.terminal import chat, main_stdin

    conversation, engine = await build_conversation(settings)
    try:
        await chat(conversation, user_name=user, stdin=main_stdin(), out=sys.stdout)
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``studiobot`` console script."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "STUDIOBOT_" + "_".join(str(part) for part in error["loc"]).upper()
            message = error["msg"].removeprefix("Value error, ")
            print(Locale().t("cli.bad_setting", name=name, message=message), file=sys.stderr)
        return 2
    loc = Locale(settings.locale)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    # No log line may carry the bot token (Bot API URLs hold it), not even a traceback.
    token = settings.bot_token.get_secret_value() if settings.bot_token else None
    logsafe.install(token)
    handler = logging.StreamHandler()
    handler.setFormatter(
        logsafe.RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(
        level=logging.INFO if args.command == "run" else logging.WARNING, handlers=[handler]
    )
    try:
        if args.command == "programs":
            if args.action == "list":
                return _programs_list(settings, loc)
            return _programs_check(args.files, loc)
        if args.command == "db":
            asyncio.run(upgrade_to_head(settings.database_url))
            url = make_url(settings.database_url).render_as_string(hide_password=True)
            print(loc.t("cli.db_upgraded", url=url))
            return 0
        if args.command == "chat":
            asyncio.run(_chat(settings, args.user))
            return 0
        if settings.bot_token is None or not settings.bot_token.get_secret_value():
            print(loc.t("cli.no_token"), file=sys.stderr)
            return 2
        from aiogram.exceptions import AiogramError

        from bot.app import run_polling, run_webhook

        try:
            asyncio.run(run_webhook(settings) if args.webhook else run_polling(settings))
        except AiogramError as exc:  # token refused, server unreachable at start
            print(
                loc.t(
                    "cli.telegram_error",
                    url=settings.telegram_api_url,
                    error=logsafe.redact(str(exc), [token] if token else []),
                ),
                file=sys.stderr,
            )
            return 1
        except ValueError as exc:  # webhook mode without its URL or secret
            print(loc.t("cli.bad_run", error=exc), file=sys.stderr)
            return 2
        return 0
    except DefinitionError as exc:
        print(loc.t("cli.definition_error"), file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except (ConnectionError, socket.gaierror, SQLAlchemyError) as exc:
        # An unreachable or unusable database: say which, without a traceback.
        url = make_url(settings.database_url).render_as_string(hide_password=True)
        print(loc.t("cli.database_error", url=url, error=exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
