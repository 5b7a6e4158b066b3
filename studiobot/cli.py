"""The ``studiobot`` command: run the bot, chat in the terminal, check programs,
upgrade the database, import organisations, invite union staff and print how a
declaration was decided."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot import logsafe
from dialogs.i18n import Locale
from dialogs.loader import DefinitionError, ProgramRegistry, load_program
from dialogs.reference import program_schema
from documents import word
from storage.migrate import upgrade_to_head
from studiobot import auditcli, exportcli, formcli, remindcli, staffcli
from studiobot.app import build_conversation, load_programs, serve
from studiobot.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studiobot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="serve every configured channel: Telegram (polling, or --webhook), DingTalk"
    )
    run.add_argument("--webhook", action="store_true", help="serve a webhook instead of polling")
    chat = sub.add_parser("chat", help="the same dialogs in this terminal, no token needed")
    chat.add_argument("--user", help="local user name (default: your login name)")
    programs = sub.add_parser("programs", help="list or check program definitions")
    psub = programs.add_subparsers(dest="action", required=True)
    psub.add_parser("list", help="list the programs served")
    check = psub.add_parser("check", help="check definition files")
    check.add_argument("files", nargs="+", type=Path)
    psub.add_parser(
        "schema",
        help="print the JSON Schema of definition files (for editors; see docs/programs.md)",
    )
    trial = psub.add_parser(
        "try", help="declare one definition file in this terminal, on a throw-away database"
    )
    trial.add_argument("file", type=Path)
    trial.add_argument("--user", help="local user name (default: your login name)")
    export = sub.add_parser("export", help="forms and tables for the unions' files")
    esub = export.add_subparsers(dest="what", required=True)
    formcli.add_parser(esub)
    exportcli.add_parser(esub)
    db = sub.add_parser("db", help="database maintenance")
    dsub = db.add_subparsers(dest="action", required=True)
    dsub.add_parser("upgrade", help="bring the database to the newest schema")
    staffcli.add_parsers(sub)
    auditcli.add_parser(sub)
    remindcli.add_parser(sub)
    return parser


def _programs_list(settings: Settings, loc: Locale) -> int:
    registry = load_programs(settings, quiet=True)
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
    for broken in registry.broken:
        first = broken.first
        print(
            loc.t(
                "cli.program_broken",
                file=broken.file,
                field=first.field,
                code=first.code,
                message=first.message,
                more=len(broken.problems) - 1,
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
            print(loc.t("authoring.problems", file=path, count=len(exc.problems)), file=sys.stderr)
            status = 1
            continue
        template = word.template_for(path)
        unknown = word.template_problems(program, template) if template is not None else []
        if unknown:
            print(loc.t("cli.definition_error"), file=sys.stderr)
            for line in unknown:
                print(f"  {line}", file=sys.stderr)
            status = 1
            continue
        print(loc.t("cli.check_ok", file=path, id=program.id, questions=len(program.questions())))
    if status:
        print(loc.t("authoring.schema_hint"), file=sys.stderr)
    return status


async def _chat(
    settings: Settings, user: str | None, registry: ProgramRegistry | None = None
) -> None:
    from studiobot.terminal import chat, main_stdin

    conversation, engine = await build_conversation(settings, registry=registry)
    try:
        await chat(
            conversation,
            user_name=user,
            stdin=main_stdin(),
            out=sys.stdout,
            locale=Locale(settings.locale),
            database=database_place(settings.database_url),
        )
    finally:
        await engine.dispose()


def _programs_try(args: argparse.Namespace, settings: Settings, loc: Locale) -> int:
    """The terminal chat on one definition file alone, as an applicant meets it, with a
    database thrown away at the end: an author sees the program before publishing it.
    A file that does not load gets the same report as ``programs check``."""
    status = _programs_check([args.file], loc)
    if status:
        return status
    program = load_program(args.file)
    with tempfile.TemporaryDirectory(prefix="studiobot-try-") as tmp:
        trial = settings.model_copy(
            update={
                "data_dir": Path(tmp),
                "database_url": f"sqlite+aiosqlite:///{Path(tmp) / 'try.db'}",
            }
        )
        print(loc.t("cli.try_intro", id=program.id), file=sys.stderr)
        asyncio.run(_chat(trial, args.user, ProgramRegistry({program.id: program})))
    return 0


def database_place(url: str) -> str:
    """Where a database is, as a user can find it: a SQLite file's full path (it is
    relative to the folder the command started in), else the URL without password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return str(Path(parsed.database or "").resolve())
    return parsed.render_as_string(hide_password=True)


def _load_settings() -> Settings | None:
    """The settings, or None after saying in one line per problem what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "STUDIOBOT_" + "_".join(str(part) for part in error["loc"]).upper()
            message = error["msg"].removeprefix("Value error, ")
            print(Locale().t("cli.bad_setting", name=name, message=message), file=sys.stderr)
        return None


def _setup_output(settings: Settings, command: str) -> None:
    """UTF-8 output, and logs that never carry the bot token."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    # No log line may carry the bot token (Bot API URLs hold it), not even a traceback.
    logsafe.install(
        settings.bot_token.get_secret_value() if settings.bot_token else None,
        settings.dingtalk_client_secret.get_secret_value()
        if settings.dingtalk_client_secret
        else None,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        logsafe.RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(
        level=logging.INFO if command == "run" else logging.WARNING, handlers=[handler]
    )
    # The scheduler says each tick twice at INFO; the tick says what it planned itself.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _programs(args: argparse.Namespace, settings: Settings, loc: Locale) -> int:
    if args.action == "list":
        return _programs_list(settings, loc)
    if args.action == "try":
        return _programs_try(args, settings, loc)
    if args.action == "schema":
        print(json.dumps(program_schema(), ensure_ascii=False, indent=2))
        return 0
    return _programs_check(args.files, loc)


def _db(args: argparse.Namespace, settings: Settings, loc: Locale) -> int:
    asyncio.run(upgrade_to_head(settings.database_url))
    url = make_url(settings.database_url).render_as_string(hide_password=True)
    print(loc.t("cli.db_upgraded", url=url))
    return 0


def _chat_command(args: argparse.Namespace, settings: Settings, loc: Locale) -> int:
    asyncio.run(_chat(settings, args.user))
    return 0


def _run(args: argparse.Namespace, settings: Settings, loc: Locale) -> int:
    """Serve every configured channel (Telegram, DingTalk) in this process; every
    problem at start is one line on stderr."""
    try:
        dingtalk = settings.dingtalk()
        if args.webhook and not settings.telegram_configured:
            raise ValueError("--webhook serves Telegram: STUDIOBOT_BOT_TOKEN is not set")
        telegram = settings.telegram(webhook=args.webhook) if settings.telegram_configured else None
    except ValueError as exc:  # half the credentials, webhook mode without its URL or secret
        print(loc.t("cli.bad_run", error=exc), file=sys.stderr)
        return 2
    if telegram is None and dingtalk is None:
        print(loc.t("cli.no_token"), loc.t("dingtalk.no_channel"), file=sys.stderr)
        return 2
    if telegram is None:
        asyncio.run(serve(settings, dingtalk=dingtalk))
        return 0
    # Imported here: the other commands need no aiogram (it takes a while to import).
    from aiogram.exceptions import AiogramError

    try:
        asyncio.run(serve(settings, telegram=telegram, dingtalk=dingtalk, webhook=args.webhook))
    except AiogramError as exc:  # token refused, server unreachable at start
        error = logsafe.redact(str(exc), [telegram.token])
        print(loc.t("cli.telegram_error", url=telegram.api_url, error=error), file=sys.stderr)
        return 1
    return 0


def _export(args: argparse.Namespace, settings: Settings, loc: Locale) -> int:
    if args.what == "table":
        return exportcli.table(args, settings, loc)
    return formcli.export_form(args, settings, loc)


_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings, Locale], int]] = {
    "programs": _programs,
    "export": _export,
    "db": _db,
    "chat": _chat_command,
    "run": _run,
    "org": staffcli.org,
    "invite": staffcli.invite,
    "audit": auditcli.audit,
    "reminders": remindcli.reminders,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``studiobot`` console script."""
    args = _parser().parse_args(argv)
    settings = _load_settings()
    if settings is None:
        return 2
    loc = Locale(settings.locale)
    _setup_output(settings, args.command)
    try:
        return _COMMANDS[args.command](args, settings, loc)
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
