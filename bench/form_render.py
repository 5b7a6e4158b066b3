"""Form rendering time: a declaration of the longest program (CCCC's, with a team of
``--rows`` and a 1000-character summary) as Word through its template, as the
generic form, and as PDF through LibreOffice (each conversion a fresh process,
as the bot runs it).

    .venv/bin/python bench/form_render.py [--runs N] [--rows N]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _common import header, median, table  # noqa: E402

from dialogs.engine import Walker  # noqa: E402
from dialogs.i18n import Locale  # noqa: E402
from dialogs.loader import load_registry  # noqa: E402
from dialogs.schema import Program  # noqa: E402
from documents import pdf, word  # noqa: E402
from documents.content import blank_boxes, build  # noqa: E402
from documents.forms import template_of  # noqa: E402
from tests.walkthrough import Applicant, Press, Text  # noqa: E402

TODAY = dt.date(2026, 5, 20)
PROGRAM = "cccc-model"


def filled(program: Program, rows: int) -> dict[str, object]:
    """The scripted applicant's answers, walked through the engine to the preview."""
    walker = Walker(program, {}, {}, today=TODAY)
    walker.start()
    answers, cursor = walker.answers, walker.cur
    applicant = Applicant(program, TODAY, rows=rows, long_chars=1000, uploads=False, whole=True)
    for _ in range(2000):
        walker = Walker(program, answers, cursor, today=TODAY)
        if walker.mode == "preview":
            return answers
        move = applicant.next_move(answers, cursor)
        if isinstance(move, Text):
            walker.on_text(move.text)
        elif isinstance(move, Press):
            walker.on_button(move.action, move.arg, move.key)
        answers, cursor = walker.answers, walker.cur
    raise RuntimeError("the declaration did not reach its preview")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=10)
    args = parser.parse_args(argv)
    registry = load_registry()
    program = registry.get(PROGRAM)
    assert program is not None
    loc = Locale("zh-CN")
    content = build(
        program,
        filled(program, args.rows),
        boxes=blank_boxes(program),
        files={},
        loc=loc,
        today=TODAY,
    )
    template = template_of(registry, program)
    timings: dict[str, list[float]] = {"docx (template)": [], "docx (generic)": [], "pdf": []}
    docx = b""
    for _ in range(args.runs):
        start = time.perf_counter()
        docx = word.render(content, loc, template)
        timings["docx (template)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        word.render(content, loc)
        timings["docx (generic)"].append(time.perf_counter() - start)
    if pdf.office() is not None:
        for _ in range(args.runs):
            start = time.perf_counter()
            made = await pdf.convert(docx)
            timings["pdf"].append(time.perf_counter() - start)
            assert made is not None
    print(header(f"form rendering, {PROGRAM} with {args.rows} team rows, {args.runs} runs"))
    rows = [
        [name, f"{median(t) * 1000:.0f}", f"{max(t) * 1000:.0f}"] if t else [name, "-", "-"]
        for name, t in timings.items()
    ]
    print(table(rows, ["format", "median ms", "max ms"]))
    if not timings["pdf"]:
        print("LibreOffice is not installed: no PDF figures")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
