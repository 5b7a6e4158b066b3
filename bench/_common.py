"""Shared pieces of the benchmark scripts: a scripted applicant, databases, figures.

The applicant plays one user of one program without reading the database:
it keeps its own copy of the answers and the cursor and replays each move on
a :class:`~dialogs.engine.Walker`, the same pure engine the service runs.  So
the benchmark measures the bot, not the bookkeeping of the benchmark.  The
scripts compare that copy with the stored rows at the end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import os
import platform
import secrets
import shlex
import statistics
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import psutil  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from dialogs.engine import Walker  # noqa: E402
from dialogs.schema import Program, QType  # noqa: E402
from dialogs.ui import Action  # noqa: E402
from tests.walkthrough import Applicant as Scripted  # noqa: E402
from tests.walkthrough import Press as Press  # noqa: E402  (re-exported)
from tests.walkthrough import Text as Text  # noqa: E402  (re-exported)
from tests.walkthrough import Upload  # noqa: E402

PG_ENV = "STUDIOBOT_BENCH_DATABASE_URL"
PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

Move = Text | Press | Upload
FAKE_ATTACHMENT = 1_000_000
"""Invented attachment ids start here (no file is stored for them)."""


class Applicant:
    """One scripted user (the tests' own, ``tests.walkthrough.Applicant``) with a copy
    of its application, mirroring each move's effect as the engine applies it.

    ``long_chars`` is the length aimed at for long texts, sent four paragraphs a
    message as a user pasting paragraphs would; ``rows`` the rows put into each
    group.  Uploads are not played: pick programs without photo questions.
    """

    def __init__(
        self,
        program: Program,
        *,
        today: dt.date,
        answers: dict[str, Any] | None = None,
        cursor: dict[str, Any] | None = None,
        long_chars: int = 0,
        rows: int = 0,
        uploads: bool = False,
    ) -> None:
        self.program = program
        self.today = today
        self.script = Scripted(
            program, today, long_chars=long_chars, paragraphs=4, rows=rows, uploads=uploads
        )
        self.uploads = uploads
        """Upload moves are made too (the caller sends the file); the copy holds an
        invented attachment id for each, the service its own: only their count matters."""
        self.answers: dict[str, Any] = answers or {}
        self.cursor: dict[str, Any] = cursor or {}
        self.done = False
        self.moves = 0  # moves applied (each changes the state, so each bumps the revision)
        self.history: list[tuple[str, Any]] = []  # accepted answers (path, value), oldest first

    def walker(self) -> Walker:
        return Walker(self.program, self.answers, self.cursor, today=self.today)

    def start(self) -> None:
        """Put the copy where a newly opened application stands."""
        w = self.walker()
        w.start()
        self.answers, self.cursor = w.answers, w.cur

    def next_move(self) -> Move | None:
        """The move a reasonable user makes now; None once the form was submitted."""
        if self.done:
            return None
        try:
            move = self.script.next_move(self.answers, self.cursor)
        except StopIteration:
            return None
        assert self.uploads or isinstance(move, Text | Press)
        return move

    def apply(self, move: Move) -> None:
        """Mirror what the engine does with ``move`` (submission ends the walk)."""
        if isinstance(move, Press) and move.action is Action.SUBMIT_OK:
            self.done = True
            return
        if isinstance(move, Press) and move.action is Action.SUBMIT:
            return  # the confirmation changes nothing stored
        w = self.walker()
        if isinstance(move, Upload):
            step = w.on_upload(FAKE_ATTACHMENT + self.moves)
            self.answers, self.cursor = w.answers, w.cur
            self.moves += 1
            self.history += step.events
            return
        if isinstance(move, Text) and w.mode == "ask" and w.target()[0].type == QType.ORG:
            # The bench's database keeps no organisations: the service finds none to
            # pick from and takes the typed name (dialogs.flows.orgsearch.look_up).
            w.cur["s"] = {"typed": " ".join(move.text.split()), "found": [], "unlisted": True}
        step = (
            w.on_text(move.text)
            if isinstance(move, Text)
            else w.on_button(move.action, move.arg, move.key)
        )
        refused = step.toast is not None and step.toast.key == "engine.not_now"
        if refused or not step.changed:
            raise RuntimeError(f"{move} refused at {self.cursor}")
        self.answers, self.cursor = w.answers, w.cur
        self.moves += 1
        self.history += step.events


# --------------------------------------------------------------------------- figures
def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def rss_mib() -> float:
    """Resident set size of this process, MiB."""
    return float(psutil.Process().memory_info().rss) / 2**20


def header(title: str) -> str:
    """The command line and the machine, printed above every set of figures."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            cpu = names[0]
    except OSError:
        pass
    lines = [
        title,
        f"command : {shlex.join([Path(sys.executable).name, *sys.argv])}",
        f"python  : {platform.python_version()} ({platform.python_implementation()})"
        f" on {platform.system()} {platform.release()}",
        f"cpu     : {cpu}; {os.cpu_count()} logical CPUs"
        f" ({len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'} usable)",
        f"memory  : {psutil.virtual_memory().total / 2**30:.1f} GiB; load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"date    : {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
    ]
    return "\n".join(lines)


def table(rows: list[list[str]], head: list[str]) -> str:
    """A plain text table, columns right-aligned except the first."""
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
            for i, c in enumerate(cells)
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *(line(r) for r in rows)])


# --------------------------------------------------------------------------- databases
def postgres_url(arg: str | None) -> str:
    """The server URL to create a throw-away database on (asyncpg driver)."""
    raw = arg or os.environ.get(PG_ENV) or PG_DEFAULT
    url = make_url(raw)
    if url.get_backend_name() not in {"postgresql", "postgres"}:
        raise SystemExit(f"not a PostgreSQL URL: {raw!r}")
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


async def _admin(server_url: str, statement: str) -> None:
    dsn = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def postgres_reachable(server_url: str) -> str | None:
    """None when the server answers, else why not."""
    try:
        await asyncio.wait_for(_admin(server_url, "SELECT 1"), timeout=5)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


async def chosen_backends(postgres: bool, database_url: str | None) -> tuple[list[str], str | None]:
    """The backends to measure: SQLite, and PostgreSQL when asked for and its server
    answers (said when it does not); with the server's URL."""
    backends = ["sqlite"]
    server = postgres_url(database_url) if postgres else None
    if server is not None:
        problem = await postgres_reachable(server)
        if problem:
            print(f"PostgreSQL skipped: {problem}")
        else:
            backends.append("postgresql")
    return backends, server


@asynccontextmanager
async def throwaway_database(
    kind: str, tmp: Path, server_url: str | None = None
) -> AsyncIterator[str]:
    """URL of a new empty database: a file in ``tmp`` (sqlite) or ``studiobot_bench_<hex>``
    on the server of ``server_url`` (postgresql), dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp}/bench-{secrets.token_hex(4)}.db"
        return
    assert server_url is not None
    name = f"studiobot_bench_{secrets.token_hex(6)}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def describe_url(url: str) -> str:
    """A database URL without its password, for printing."""
    return make_url(url).render_as_string(hide_password=True)
