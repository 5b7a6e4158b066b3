"""``studiobot export form``: one declaration's printed form (申报表) as Word or PDF,
from the command line, as the bot sends it."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path

from dialogs.i18n import Locale
from documents import forms, pdf
from storage.db import create_engine, session_factory
from storage.files import FileStore
from storage.migrate import upgrade_to_head
from storage.models import Application
from studiobot.app import load_programs
from studiobot.settings import Settings

FORMATS = ("docx", "pdf")
MAX_ID = 2**31 - 1


def add_parser(export: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``export form`` under the ``export`` command."""
    form = export.add_parser("form", help="one declaration's form as Word or PDF")
    form.add_argument("--application", type=int, required=True, help="the declaration's number")
    form.add_argument("--format", choices=FORMATS, default="docx")
    form.add_argument("--out", type=Path, required=True, help="the file to write")


async def _export(args: argparse.Namespace, settings: Settings, loc: Locale) -> int:
    registry = load_programs(settings)
    await upgrade_to_head(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            app = (
                await session.get(Application, args.application)
                if 0 < args.application <= MAX_ID
                else None
            )
            if app is None or registry.get(app.program_id) is None:
                print(loc.t("cli.form_no_such", id=args.application), file=sys.stderr)
                return 1
            made = await forms.form_docx(
                session,
                app,
                registry,
                store=FileStore(settings.files_dir),
                loc=loc,
                zone=settings.zone,
                today=dt.datetime.now(settings.zone).date(),
            )
    finally:
        await engine.dispose()
    data = made.data
    if args.format == "pdf":
        converted = await pdf.convert(data)
        if converted is None:
            print(loc.t("cli.form_no_pdf"), file=sys.stderr)
            return 1
        data = converted
    args.out.write_bytes(data)
    print(loc.t("cli.form_written", path=args.out, bytes=len(data)))
    return 0


def export_form(args: argparse.Namespace, settings: Settings, loc: Locale) -> int:
    return asyncio.run(_export(args, settings, loc))
