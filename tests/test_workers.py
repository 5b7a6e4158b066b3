"""Two webhook workers on one database: no acknowledged update may be lost or applied twice.

Two real ``studiobot run --webhook`` processes share one database (SQLite,
and PostgreSQL when configured) and one fake Bot API server for the calls
they make.  The test plays Telegram: it posts updates straight to each
worker's webhook, with the secret, several at the same moment
(``asyncio.gather``), one user's updates split across both workers, which is
what Telegram does when a load balancer spreads webhook requests.  A worker
handles an update before it responds, so a 200 means "applied"; afterwards
the test reads the database.

Every scenario is repeated for fresh users (``ROUNDS``), since a race does
not show every time.  Failures are collected over all rounds and reported
together, with the ERROR lines the workers logged meanwhile.

A worker needs several seconds to start (importing aiogram's types alone
takes 1 to 3 s of CPU), so the two workers and their database are made once
per backend for the whole module (``shared_database_url`` follows the
``database_url`` fixture of conftest: SQLite always, PostgreSQL when
configured; ``-k sqlite`` / ``-k postgresql`` select as elsewhere).  The
scenarios use users of their own, so they cannot disturb each other.

* answers: four text answers of one user at once, to successive text questions
  (2 per worker): all four stored, the revision up by four, four history rows;
* buttons: the same button (same callback data, two update ids) to both
  workers at once: applied once, the other press answered as stale;
* long text: a burst of six parts of a long answer split across both: the revision
  up by six, and the finished answer holds every part;
* first contact: a new user's ``/start`` to one worker and ``/apply`` to the
  other at once: both answered, the user stored once, both updates applied.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import func
from sqlmodel import col, select

from bot.callbacks import DialogCallback
from bot.texts import texts
from dialogs.i18n import Locale
from dialogs.loader import load_registry
from dialogs.ui import Action
from storage.db import SessionFactory, create_engine, session_factory
from storage.migrate import upgrade_to_head
from storage.models import AnswerEvent, Application, ChannelIdentity, ProcessedUpdate
from tests.conftest import BACKENDS
from tests.conftest import _reset_postgres as reset_postgres
from tests.fakebotapi import FakeBotAPI, SentMessage
from tests.tg_driver import application, find_button
from tests.walkthrough import LONG_PARAGRAPH, Applicant, Move, Press, Text
from tests.webhook_process import WebhookWorker, start_all, stop_all

pytestmark = pytest.mark.asyncio(loop_scope="module")

REGISTRY = load_registry()
ZH = Locale("zh-CN")
BOT = texts("zh-CN")
APOLOGY = BOT.t("bot.error")
STALE = ZH.t("engine.stale")
SECRET = "workers-s3cret"
ROUNDS = 12

# cccc-model opens with five text questions; any text is a valid answer to each.
TEXT_PROGRAM = "cccc-model"
TEXT_QUESTIONS = ["leader_name", "studio_name", "unit", "unit_type"]
# dalian-worker asks a long text (venue) after unit, date, leader and "yes, a venue".
LONG_PROGRAM = "dalian-worker"
LONG_QUESTION = "venue"
LONG_PARTS = 6


@dataclass
class Pair:
    """Two workers, the fake Bot API behind them and a reader of the shared database."""

    api: FakeBotAPI
    workers: list[WebhookWorker]
    http: aiohttp.ClientSession
    reader: SessionFactory
    not_ok: list[str] = field(default_factory=list)  # every non-200 webhook response
    log_marks: list[int] = field(default_factory=list)  # where the current test's logs begin
    _user_ids: Iterator[int] = field(default_factory=lambda: iter(range(810_000_001, 10**10)))

    def begin(self) -> None:
        """A new test: forget earlier responses and log lines."""
        self.not_ok.clear()
        self.log_marks = [w.log_size() for w in self.workers]

    def logged(self) -> list[str]:
        marks = self.log_marks or [0] * len(self.workers)
        return [p for w, m in zip(self.workers, marks, strict=True) for p in w.problems(m)]

    def new_user(self) -> int:
        return next(self._user_ids)

    async def post(self, worker: int, update: dict[str, Any]) -> int:
        target = self.workers[worker % len(self.workers)]
        status = await target.post(self.http, update)
        if status != 200:
            kind = next(k for k in update if k != "update_id")
            self.not_ok.append(
                f"{target.name}: HTTP {status} for update {update['update_id']} ({kind})"
            )
        return status

    async def at_once(self, posts: list[tuple[int, dict[str, Any]]]) -> list[int]:
        """Post several updates at the same moment: (worker index, update) each."""
        return list(await asyncio.gather(*(self.post(w, u) for w, u in posts)))

    def report(self, problems: list[str]) -> str:
        """The failures of the rounds, then what the workers logged as errors."""
        logged = self.logged()
        lines = [f"{len(problems)} problem(s):", *problems[:40]]
        if self.not_ok:
            lines += ["non-200 webhook responses:", *self.not_ok[:20]]
        if logged:
            lines += [f"worker log errors ({len(logged)}):", *dict.fromkeys(logged)]
        return "\n".join(lines)

    def assert_clean(self, problems: list[str]) -> None:
        clean = not problems and not self.not_ok and not self.logged()
        assert clean, self.report(problems)


@pytest.fixture(scope="module", params=BACKENDS)
def shared_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A new, empty database for this module, like ``database_url`` but module-wide."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('workers-db')}/test.db"
    url: str = request.getfixturevalue("postgres_database_url")
    reset_postgres(url)
    return url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def workers(
    shared_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Pair]:
    """The fake Bot API and two webhook workers on the migrated shared database."""
    await upgrade_to_head(shared_database_url)
    folder = tmp_path_factory.mktemp("workers")
    api = await FakeBotAPI().start()
    procs = [
        WebhookWorker(
            name=name,
            token=api.token,
            api_url=api.url,
            database_url=shared_database_url,
            data_dir=folder / "data",
            log_path=folder / f"{name}.log",
            secret=SECRET,
        )
        for name in ("worker-a", "worker-b")
    ]
    engine = create_engine(shared_database_url)
    try:
        await start_all(procs)
        async with aiohttp.ClientSession() as http:
            yield Pair(api, procs, http, session_factory(engine))
    finally:
        await stop_all(procs)
        await engine.dispose()
        await api.stop()


@pytest.fixture
def pair(workers: Pair) -> Pair:
    workers.begin()
    return workers


# ---------------------------------------------------------------------- helpers


def today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def button_data(message: SentMessage, action: Action, arg: int = 0) -> str:
    for row in message.buttons:
        for button in row:
            if button.callback_data is None:
                continue
            data = DialogCallback.unpack(button.callback_data)
            if data.a == action and data.g == arg:
                return button.callback_data
    raise LookupError(f"{action.name}({arg}) is not offered in: {(message.text or '')[:200]}")


def update_for(api: FakeBotAPI, user_id: int, move: Move) -> dict[str, Any]:
    if isinstance(move, Text):
        return api.message_update(user_id, text=move.text)
    if isinstance(move, Press):
        message, data = find_button(api, user_id, move)
        return api.callback_update(user_id, message, data)
    raise AssertionError(f"no uploads on the way: {move}")


async def walk_to(pair: Pair, user_id: int, program_id: str, question_id: str) -> Application:
    """/apply, the program's button, then valid answers until ``question_id`` is asked.

    One update after another, alternating between the workers.
    """
    api = pair.api
    assert await pair.post(0, api.command_update(user_id, "apply")) == 200
    program = REGISTRY.get(program_id)
    assert program is not None
    menu = api.last_message(user_id, with_buttons=True)
    pick = menu.button(program.button_title).callback_data
    assert await pair.post(1, api.callback_update(user_id, menu, pick)) == 200
    applicant = Applicant(program, today())
    for step in range(40):
        app = await application(pair.reader, user_id, program_id)
        assert app is not None, f"user {user_id}: no application after opening {program_id}"
        if app.cursor.get("q") == question_id and app.cursor.get("mode", "ask") == "ask":
            return app
        move = applicant.next_move(app.answers, app.cursor)
        assert await pair.post(step, update_for(api, user_id, move)) == 200
    raise AssertionError(f"user {user_id} did not reach {program_id}/{question_id}")


async def walk_all(
    pair: Pair, users: list[int], program_id: str, question_id: str
) -> dict[int, Application]:
    """Bring every user to the question, users side by side."""
    apps = await asyncio.gather(*(walk_to(pair, u, program_id, question_id) for u in users))
    return dict(zip(users, apps, strict=True))


async def history(reader: SessionFactory, application_id: int) -> list[AnswerEvent]:
    async with reader() as session:
        result = await session.execute(
            select(AnswerEvent)
            .where(AnswerEvent.application_id == application_id)
            .order_by(col(AnswerEvent.id))
        )
        return list(result.scalars().all())


def apologies(api: FakeBotAPI, user_id: int, since: int = 0) -> int:
    return sum(1 for m in api.sent_to(user_id)[since:] if m.text == APOLOGY)


# ---------------------------------------------------------------------- scenarios


async def test_answers_at_once_on_two_workers_are_all_applied(pair: Pair) -> None:
    api = pair.api
    users = [pair.new_user() for _ in range(ROUNDS)]
    start = await walk_all(pair, users, TEXT_PROGRAM, TEXT_QUESTIONS[0])
    problems: list[str] = []
    for n, user in enumerate(users):
        before = start[user]
        assert before.id is not None
        rows_before = len(await history(pair.reader, before.id))
        sent_before = len(api.sent_to(user))
        texts = [f"第{n}轮答案{k}：{'甲乙丙丁'[k]}" for k in range(len(TEXT_QUESTIONS))]
        # Answers k = 0, 2 go to one worker, 1, 3 to the other, all at the same moment.
        statuses = await pair.at_once(
            [(k, api.message_update(user, text=t)) for k, t in enumerate(texts)]
        )
        after = await application(pair.reader, user, TEXT_PROGRAM)
        assert after is not None
        rows = (await history(pair.reader, before.id))[rows_before:]
        stored = [_typed(after.answers.get(q)) for q in TEXT_QUESTIONS]
        lost = [t for t in texts if t not in stored]
        rise = after.revision - before.revision
        replies = api.sent_to(user)[sent_before:]
        history_texts = sorted(str(_typed(r.value)) for r in rows)
        if lost or rise != len(texts) or history_texts != sorted(texts):
            problems.append(
                f"round {n}: {len(texts)} answers acknowledged (HTTP {statuses}); revision "
                f"+{rise}; stored {stored}; lost {lost}; history rows +{len(rows)} "
                f"{[r.value for r in rows]}"
            )
        if len(replies) < len(texts) or apologies(api, user, sent_before):
            problems.append(
                f"round {n}: {len(replies)} replies to {len(texts)} answers, "
                f"{apologies(api, user, sent_before)} of them the error apology"
            )
    pair.assert_clean(problems)


def _typed(value: Any) -> Any:
    """What was typed for an answer (an organisation answer keeps the typed name)."""
    return value.get("name") if isinstance(value, dict) else value


async def test_same_button_on_two_workers_is_applied_once(pair: Pair) -> None:
    api = pair.api
    users = [pair.new_user() for _ in range(ROUNDS)]
    # At the third question, so that "back" applied twice would show (two steps back).
    start = await walk_all(pair, users, TEXT_PROGRAM, TEXT_QUESTIONS[2])
    problems: list[str] = []
    for n, user in enumerate(users):
        before = start[user]
        message = api.last_message(user, with_buttons=True)
        data = button_data(message, Action.BACK)
        presses = [api.callback_update(user, message, data) for _ in range(2)]
        statuses = await pair.at_once([(n + k, u) for k, u in enumerate(presses)])
        after = await application(pair.reader, user, TEXT_PROGRAM)
        assert after is not None
        ids = {u["callback_query"]["id"] for u in presses}
        toasts = [a.text for a in api.answered_callbacks if a.callback_query_id in ids]
        unanswered = ids & set(api.unanswered_callbacks())
        rise = after.revision - before.revision
        if rise != 1 or after.cursor.get("q") != TEXT_QUESTIONS[1]:
            problems.append(
                f"round {n}: one button pressed twice at once (HTTP {statuses}): revision "
                f"+{rise} (want +1), now at {after.cursor.get('q')!r} (want "
                f"{TEXT_QUESTIONS[1]!r}: one step back)"
            )
        if unanswered or toasts.count(STALE) != 1:
            problems.append(
                f"round {n}: the two presses were answered {toasts} ({len(unanswered)} not "
                f"answered); want exactly one {STALE!r}"
            )
    pair.assert_clean(problems)


async def test_long_text_parts_split_across_workers_are_all_kept(pair: Pair) -> None:
    api = pair.api
    users = [pair.new_user() for _ in range(ROUNDS)]
    start = await walk_all(pair, users, LONG_PROGRAM, LONG_QUESTION)
    problems: list[str] = []
    for n, user in enumerate(users):
        before = start[user]
        parts = [f"第{n}轮第{k}段。{LONG_PARAGRAPH}" for k in range(LONG_PARTS)]
        statuses = await pair.at_once(
            [(k, api.message_update(user, text=p)) for k, p in enumerate(parts)]
        )
        after = await application(pair.reader, user, LONG_PROGRAM)
        assert after is not None
        rise = after.revision - before.revision
        # Done: the whole answer must hold every part.  The progress replies of the two
        # workers may arrive out of order, so the newest keyboard can be one step old; the
        # bot then answers "out of date" with the current question, as a user would see.
        for attempt in range(3):
            shown = api.last_message(user, with_buttons=True)
            done = api.callback_update(user, shown, button_data(shown, Action.DONE))
            await pair.post(n + attempt, done)
            final = await application(pair.reader, user, LONG_PROGRAM)
            assert final is not None
            if LONG_QUESTION in final.answers:
                break
        answer = str(final.answers.get(LONG_QUESTION) or "")
        missing = [p[:6] for p in parts if p not in answer]
        if missing or rise != len(parts):
            problems.append(
                f"round {n}: {len(parts)} parts acknowledged (HTTP {statuses}); revision "
                f"+{rise}; the finished answer lacks {missing}"
            )
    pair.assert_clean(problems)


async def test_first_contact_on_two_workers_at_once(pair: Pair) -> None:
    api = pair.api
    welcome_head = ZH.t("engine.welcome", name="").split("！", 1)[0][:2]  # "您好"
    choose = ZH.t("engine.choose_program")
    problems: list[str] = []
    for n in range(ROUNDS * 2):
        user = pair.new_user()
        start = api.command_update(user, "start")
        apply = api.command_update(user, "apply")
        # Alternate which worker sees which command.
        statuses = await pair.at_once([(n, start), (n + 1, apply)])
        async with pair.reader() as session:
            users = (
                await session.execute(
                    select(func.count())
                    .select_from(ChannelIdentity)
                    .where(
                        ChannelIdentity.channel == "telegram",
                        ChannelIdentity.external_id == str(user),
                    )
                )
            ).scalar_one()
            marked = (
                (
                    await session.execute(
                        select(ProcessedUpdate.update_id).where(
                            col(ProcessedUpdate.update_id).in_(
                                [str(start["update_id"]), str(apply["update_id"])]
                            )
                        )
                    )
                )
                .scalars()
                .all()
            )
        texts = [m.text or "" for m in api.sent_to(user)]
        welcomed = sum(1 for t in texts if t.startswith(welcome_head))
        listed = sum(1 for t in texts if t == choose)
        if users != 1 or len(marked) != 2 or welcomed != 1 or listed != 1 or len(texts) != 2:
            problems.append(
                f"round {n}: /start and /apply of a new user at once (HTTP {statuses}): "
                f"{users} user row(s), {len(marked)} of 2 updates marked handled, replies "
                f"{[t[:24] for t in texts]}"
            )
    pair.assert_clean(problems)
