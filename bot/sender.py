"""The Telegram sender: delivers the outbox within Telegram's limits, never twice.

Every message that is not the direct reply to an update (a reviewer's new
item, the applicant told of a decision, reminders, announcements) is a row of
the outbox (``storage.outbox``), written in the transaction of the change that
causes it.  This loop, started by ``studiobot run`` beside polling or the
webhook, takes the rows and sends them:

* **Order.**  Rows are claimed by priority, then age: a decision's notice
  (``PERSONAL``) goes before the reminders of a broadcast (``BULK``) that
  were enqueued before it.  The sender holds only about two seconds of
  sending at a time and looks again every half second, so a new personal
  row waits behind at most that much bulk, however long the queue.  As a
  chat takes one message a second, a claim takes at most two rows of one
  chat and no more bulk for chats it already holds rows of, so a person with
  many reminders does not hold up the others; waiting claims are renewed.
* **Pace.**  At most ``rate`` messages a second overall (default 25, below
  Telegram's ~30), allowing a late loop to catch up by ``burst`` messages,
  and at most one message a second to one chat; the parts of a long text
  (split at 4096 like replies) are paced as messages of their own.
* **429** pauses the whole sender for ``retry_after`` seconds and lowers the
  rate by a fifth, which climbs back after a calm while; the row is tried
  again after the pause.
* **403** (blocked, deactivated) and "chat not found": the row is given up,
  the person's identity is marked unreachable and the administrators of the
  organisations where they hold a role are told, through the outbox (once
  per blocking episode; without an administrator it is logged).  A message
  that reaches them again clears the mark.
* **Network errors and 5xx** retry with exponential backoff (``backoff``
  seconds, doubling, at most ``backoff_cap``), and the whole sender pauses
  likewise while they repeat, so an outage does not use up every row's
  attempts; after ``max_attempts`` tries a row is given up, the error in
  ``last_error``.  Any other refusal (400: a text or keyboard Telegram will
  not take) gives the row up at once: sending it again would fail again.

**The crash window.**  Telegram has no idempotency key and no way to ask
whether a message arrived, so between Telegram accepting a message and the
row being marked sent there is a moment in which a crash leaves the outcome
unknown.  Each row is therefore marked *sending* (``sending_at``, attempt
counted, lease renewed) in a commit before its call; rows claimed but not yet
marked are plain claims.  After a crash (even SIGKILL):

* a row that was only claimed is taken up again when its lease (60 s) runs
  out and is sent then, once;
* a row that was marked sending is **given up and logged, not sent again**
  (``last_error`` says "interrupted while sending").

So a message is never sent twice; what a crash can cost is the few messages
in flight at that instant (at most ``max_in_flight``, in practice the one or
two of the last 100 ms), and most of those did arrive.  We chose this over
resending because (1) a duplicate is seen by every recipient, while a lost
notice is recoverable: the state it reports is in the database (``/status``,
``/inbox``) and the given-up row is in the log and the table, where it can be
put back; (2) a message that makes the process die after Telegram accepted
it (a poison row) would otherwise be sent again at every restart, forever;
(3) reminders sent twice teach people to mute the bot, which costs every
later message.  Marking sent is deferred to the next step (tens of ms) and
batched; that widens the window only for rows that did reach Telegram, which
are then recorded as given up although delivered: never a duplicate, never
a loss.  A timeout is different: the process is alive and the request may
or may not have arrived; it is retried like any network error (Telegram
usually did not take a request it did not answer), so a rare duplicate
there is the price of not losing messages on a flaky network.

With several processes each runs a sender: claims never overlap (leases,
``FOR UPDATE SKIP LOCKED``), but each paces itself, so give each
``rate / processes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.types import InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot import logsafe
from bot.delivery import CHANNEL, TEXT_LIMIT
from bot.keyboards import reply_markup
from dialogs.i18n import Locale
from dialogs.notices import reply_of, tell_admins_unreachable
from dialogs.textfit import fit_replies, utf16_length
from dialogs.ui import Reply
from storage import outbox
from storage.db import SessionFactory
from storage.models import OutboxMessage, OutboxPriority

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Sleep = Callable[[float], Awaitable[None]]


def system_clock() -> dt.datetime:
    """The real time, timezone-aware (UTC)."""
    return dt.datetime.now(dt.UTC)


class SendsMessages(Protocol):
    """What the sender needs of a bot (aiogram's ``Bot``; a fake in tests)."""

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        parse_mode: str | None = ...,
        reply_markup: InlineKeyboardMarkup | None = ...,
        request_timeout: int | None = ...,
    ) -> Any: ...


@dataclass(frozen=True)
class SenderConfig:
    """Limits and patience of the sender; the defaults suit Telegram."""

    rate: float = 25.0
    """Messages a second, all chats together (Telegram allows about 30)."""
    chat_interval: float = 1.0
    """Seconds between two messages to one chat."""
    burst: float | None = None
    """Messages a late loop may catch up at once (default: a tenth of a second's worth, ≥ 1)."""
    batch: int | None = None
    """Rows held at a time (default: two seconds of sending, at least 10)."""
    lease: float = 60.0
    """Seconds a claim, or a send in progress, holds a row against other senders."""
    poll: float = 0.5
    """Seconds between looks at an empty outbox."""
    max_attempts: int = 8
    backoff: float = 2.0
    backoff_cap: float = 600.0
    pause_cap: float = 60.0
    """Longest pause of the whole sender while network errors repeat."""
    request_timeout: int = 20
    max_in_flight: int = 50
    grace: float = 25.0
    """Seconds a stopping sender waits for the sends in flight."""

    @property
    def burst_size(self) -> float:
        return self.burst if self.burst is not None else max(1.0, self.rate / 10)

    @property
    def batch_size(self) -> int:
        return self.batch if self.batch is not None else max(10, math.ceil(self.rate * 2))

    def retry_delay(self, attempts: int) -> float:
        """Backoff before attempt ``attempts + 1``: ``backoff``, doubling, capped."""
        return min(self.backoff * 2.0 ** max(attempts - 1, 0), self.backoff_cap)


# --------------------------------------------------------------------------- what an error means

FLOOD, UNREACHABLE, REFUSED, TRANSIENT = "flood", "unreachable", "refused", "transient"

# Checked in order: subclasses before their bases (TelegramEntityTooLarge is a
# network error to aiogram, but sending it again cannot help).
_VERDICTS: tuple[tuple[type[BaseException], str], ...] = (
    (TelegramRetryAfter, FLOOD),
    (TelegramForbiddenError, UNREACHABLE),
    (TelegramMigrateToChat, REFUSED),
    (TelegramEntityTooLarge, REFUSED),
    (TelegramBadRequest, REFUSED),
    (TelegramNotFound, REFUSED),
    (TelegramConflictError, REFUSED),
)


def classify(exc: BaseException) -> str:
    """What a failed send means: ``flood`` (wait), ``unreachable`` (the person blocked
    the bot or has no chat), ``refused`` (this message will never pass) or
    ``transient`` (network, 5xx, anything unexpected: try again later)."""
    if isinstance(exc, TelegramBadRequest) and "chat not found" in exc.message.lower():
        return UNREACHABLE
    for kind, verdict in _VERDICTS:
        if isinstance(exc, kind):
            return verdict
    return TRANSIENT


PER_CHAT = 2
"""Rows of one chat taken in one claim: two seconds of that chat's sending."""

# --------------------------------------------------------------------------- pacing

TICK = 0.001
"""Seconds within which a moment counts as come: clocks read in microseconds, and
a sleep must not be asked to wait less than its clock can tell."""


class Pacer:
    """The overall rate: one slot every ``1/rate`` seconds.

    A loop that wakes late may use up to ``burst`` slots it missed, no more, so
    in any span of ``t`` seconds at most ``rate·t + burst + 1`` messages start.  A
    flood answer pauses everything and lowers the rate; calm raises it again.
    """

    CALM = 10.0
    """Seconds without a flood answer before the rate climbs back by a tenth."""

    def __init__(self, rate: float, burst: float) -> None:
        self.limit = rate
        self.rate = rate
        self.burst = burst
        self._next = -math.inf
        self.paused_until = -math.inf
        self._calm_from = -math.inf

    def ready_at(self) -> float:
        """When the next message may start."""
        return max(self._next, self.paused_until)

    def take(self, now: float) -> None:
        """Use the next slot (the caller checked ``ready_at() <= now``)."""
        self._next = self._after(self._next, now)

    def _after(self, slot: float, now: float) -> float:
        return max(slot, now - self.burst / self.rate) + 1 / self.rate

    def available(self, now: float, most: int) -> int:
        """How many messages may start at ``now`` (at most ``most``), without taking
        them: slots are taken as the messages start (:meth:`take`), so a database
        commit between choosing and starting does not bunch them up."""
        count, slot = 0, self._next
        while count < most and max(slot, self.paused_until) <= now + TICK:
            slot = self._after(slot, now)
            count += 1
        return count

    def pause(self, now: float, seconds: float) -> None:
        self.paused_until = max(self.paused_until, now + seconds)

    def flood(self, now: float, retry_after: float) -> None:
        """Telegram said to wait: wait, and go slower for a while."""
        self.pause(now, retry_after)
        self.rate = max(self.limit / 10, self.rate * 0.8)
        self._calm_from = self.paused_until

    def recover(self, now: float) -> None:
        if self.rate < self.limit and now - self._calm_from >= self.CALM:
            self.rate = min(self.limit, self.rate * 1.1)
            self._calm_from = now


# --------------------------------------------------------------------------- the rows in hand


@dataclass(eq=False)
class _Item:
    """A claimed row, as parts ready to send."""

    message: OutboxMessage
    chat_id: int
    parts: list[Reply]
    done: int
    attempts: int
    in_flight: bool = False

    @property
    def id(self) -> int:
        return self.message.id or 0


@dataclass
class _Outcome:
    """What to record of a row in the next transaction."""

    item: _Item
    kind: str  # "sent", "retry", "give_up", "unreachable", "release"
    error: str = ""
    retry_at: dt.datetime | None = None


@dataclass
class SenderStats:
    """Counters, for logs and benchmarks."""

    sent: int = 0
    parts: int = 0
    retried: int = 0
    given_up: int = 0
    interrupted: int = 0
    floods: int = 0
    unreachable: int = 0
    claims: int = 0


def _prepare(message: OutboxMessage) -> list[Reply]:
    """The row as the messages that carry it: split to Telegram's length, the buttons
    with the last part; ``ValueError`` when it cannot be sent as stored."""
    parts = fit_replies([reply_of(message)], TEXT_LIMIT, utf16_length)
    for part in parts:
        reply_markup(part)  # a button whose data would not pass is found now
    return parts


@dataclass
class _State:
    queue: list[_Item] = field(default_factory=list)
    chat_free: dict[int, float] = field(default_factory=dict)
    busy: set[int] = field(default_factory=set)
    results: list[tuple[_Item, BaseException | None]] = field(default_factory=list)
    outcomes: list[_Outcome] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    failures: int = 0
    next_claim: float = -math.inf
    next_urgent: float = -math.inf
    next_sweep: float = -math.inf

    def unstarted(self) -> list[_Item]:
        return [item for item in self.queue if not item.in_flight]


class OutboxSender:
    """Claims due rows of the Telegram channel and sends them; see the module docstring.

    ``clock`` and ``sleep`` are injectable, so tests drive time; ``texts`` is the
    language of what the sender itself writes (the notice to administrators).
    """

    def __init__(
        self,
        sessions: SessionFactory,
        bot: SendsMessages,
        *,
        config: SenderConfig | None = None,
        texts: Locale | None = None,
        clock: Clock = system_clock,
        sleep: Sleep = asyncio.sleep,
        channel: str = CHANNEL,
    ) -> None:
        self.sessions = sessions
        self.bot = bot
        self.config = config or SenderConfig()
        self.texts = texts or Locale()
        self.clock = clock
        self.sleep = sleep
        self.channel = channel
        self.token = secrets.token_hex(16)
        self.stats = SenderStats()
        self.pacer = Pacer(self.config.rate, self.config.burst_size)
        self._state = _State()
        self._lease = dt.timedelta(seconds=self.config.lease)
        self._cap = 4 * self.config.batch_size  # rows held at most, whatever their chats
        # Rows a claim takes: a quarter second of sending, so that reading them never
        # stalls the loop for longer than the pacer lets it catch up.
        self._chunk = max(10, math.ceil(self.config.rate / 4))
        self._stopping = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._secrets = [str(getattr(bot, "token", "") or "")]

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> asyncio.Task[None]:
        """Run in a background task (stop it with :meth:`stop`)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="outbox-sender")
        return self._task

    async def stop(self) -> None:
        """Stop claiming, let the sends in flight finish (``grace``), record them, and
        give back the rows not begun, so another sender or the next start takes them."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def run(self) -> None:
        """The loop, until :meth:`stop`; a failing step (say, the database is away) is
        logged and tried again after a pause, never ending the loop."""
        errors = 0
        while not self._stopping:
            try:
                await self.step()
                errors = 0
            except Exception:
                errors += 1
                logger.exception("outbox sender: a step failed (%d in a row)", errors)
                await self._nap(min(self.config.poll * 2**errors, 30.0))
        await self._finish()

    async def _finish(self) -> None:
        state = self._state
        if state.tasks:
            _done, pending = await asyncio.wait(set(state.tasks), timeout=self.config.grace)
            for task in pending:  # left "sending": given up after the lease, never resent
                task.cancel()
        self._collect(self._now())
        state.outcomes += [_Outcome(item, "release") for item in state.unstarted()]
        state.queue.clear()
        try:
            await self._write([], self.clock())
        except Exception:  # the rows stay claimed and are taken up after their lease
            logger.exception("outbox sender: could not record the last outcomes")

    # ------------------------------------------------------------------ one step

    def _now(self) -> float:
        return self.clock().timestamp()

    async def step(self) -> None:
        """Record what finished, start what may start, claim more when short, then
        sleep until something can happen."""
        now = self._now()
        self._collect(now)
        self.pacer.recover(now)
        starts = self._pick(now)
        when = self.clock()
        marked = await self._write(starts, when)
        self._launch([item for item in starts if item.id in marked], self._now())
        await self._refill(self._now())
        await self._nap(self._wait(self._now()))

    def _collect(self, now: float) -> None:
        """Turn the sends that finished into outcomes (and pacing decisions)."""
        results, self._state.results = self._state.results, []
        for item, error in results:
            item.in_flight = False
            self._state.busy.discard(item.chat_id)
            if error is None:
                self._delivered(item)
            else:
                self._failed(item, error, now)

    def _delivered(self, item: _Item) -> None:
        item.done += 1
        self.stats.parts += 1
        self._state.failures = 0
        if item.done >= len(item.parts):
            self._drop(item, _Outcome(item, "sent"))

    def _drop(self, item: _Item, outcome: _Outcome) -> None:
        if item in self._state.queue:
            self._state.queue.remove(item)
        self._state.outcomes.append(outcome)

    def _failed(self, item: _Item, error: BaseException, now: float) -> None:
        verdict = classify(error)
        text = logsafe.redact(f"{type(error).__name__}: {error}", self._secrets)
        if verdict == FLOOD:
            self._flooded(item, error, text, now)
        elif verdict == TRANSIENT:
            self._transient(item, text, now)
        else:
            kind = "unreachable" if verdict == UNREACHABLE else "give_up"
            logger.warning("outbox row %s given up: %s", item.id, text)
            self._drop(item, _Outcome(item, kind, text))

    def _flooded(self, item: _Item, error: BaseException, text: str, now: float) -> None:
        retry_after = float(getattr(error, "retry_after", 1) or 1)
        self.stats.floods += 1
        self.pacer.flood(now, retry_after)
        logger.warning(
            "outbox: flood limit, pausing %.0fs, rate now %.1f/s", retry_after, self.pacer.rate
        )
        retry_at = dt.datetime.fromtimestamp(now + retry_after, dt.UTC)
        self._drop(item, _Outcome(item, "retry", text, retry_at))
        self._release_if_long(retry_after)

    def _transient(self, item: _Item, text: str, now: float) -> None:
        state = self._state
        state.failures += 1
        pause = min(self.config.retry_delay(state.failures), self.config.pause_cap)
        self.pacer.pause(now, pause)
        if item.attempts >= self.config.max_attempts:
            logger.warning(
                "outbox row %s given up after %d attempts: %s", item.id, item.attempts, text
            )
            self._drop(item, _Outcome(item, "give_up", text))
        else:
            delay = self.config.retry_delay(item.attempts)
            retry_at = dt.datetime.fromtimestamp(now + delay, dt.UTC)
            logger.info("outbox row %s: %s; retry in %.0fs", item.id, text, delay)
            self._drop(item, _Outcome(item, "retry", text, retry_at))
        self._release_if_long(pause)

    def _release_if_long(self, pause: float) -> None:
        """A pause that would outlast the claims gives the rows not begun back."""
        if pause >= self.config.lease / 2:
            for item in self._state.unstarted():
                self._drop(item, _Outcome(item, "release"))

    def _pick(self, now: float) -> list[_Item]:
        """The rows that may start now: a slot of the overall rate each, their chat
        idle for ``chat_interval``, in priority order, one per chat."""
        state = self._state
        picked: list[_Item] = []
        chats: set[int] = set()
        room = self.pacer.available(now, self.config.max_in_flight - len(state.tasks))
        for item in state.queue:
            if len(picked) >= room:
                break
            chat = item.chat_id
            if item.in_flight or chat in state.busy or chat in chats:
                continue
            chats.add(chat)  # a later row of a busy chat waits behind this one
            if state.chat_free.get(chat, -math.inf) <= now + TICK:
                picked.append(item)
        return picked

    def _launch(self, items: list[_Item], now: float) -> None:
        state = self._state
        for item in items:
            self.pacer.take(now)
            item.in_flight = True
            state.busy.add(item.chat_id)
            state.chat_free[item.chat_id] = now + self.config.chat_interval + TICK
            task = asyncio.create_task(self._send(item, item.parts[item.done]))
            state.tasks.add(task)
            task.add_done_callback(state.tasks.discard)

    async def _send(self, item: _Item, part: Reply) -> None:
        error: BaseException | None = None
        # The chat's second counts from the call itself, however late the task runs (and a
        # TICK more, as a moment within a TICK counts as come).
        self._state.chat_free[item.chat_id] = self._now() + self.config.chat_interval + TICK
        try:
            await self.bot.send_message(
                item.chat_id,
                part.text,
                parse_mode=None,
                reply_markup=reply_markup(part),
                request_timeout=self.config.request_timeout,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure is judged by classify()
            error = exc
        self._state.results.append((item, error))
        self._wake.set()

    # ------------------------------------------------------------------ the database

    async def _write(self, starts: list[_Item], now: dt.datetime) -> set[int]:
        """One transaction: record the outcomes so far, then mark ``starts`` as being
        sent; the ids that may go (still held by this sender).  Committed before any
        of them is sent.  On failure nothing starts and the outcomes wait."""
        outcomes = list(self._state.outcomes)
        if not outcomes and not starts:
            return set()
        async with self.sessions.begin() as session:
            await self._record(session, outcomes, now)
            marked = await outbox.mark_sending(
                session, ids=[i.id for i in starts], token=self.token, now=now, lease=self._lease
            )
        del self._state.outcomes[: len(outcomes)]
        self._count(outcomes)
        for item in starts:
            if item.id not in marked:  # another sender took it after our lease ran out
                self._state.queue.remove(item)
            elif item.message.sending_at is None:
                item.message.sending_at = now
        return marked

    async def _record(
        self, session: AsyncSession, outcomes: list[_Outcome], now: dt.datetime
    ) -> None:
        sent = [o.item for o in outcomes if o.kind == "sent"]
        await outbox.mark_sent(session, ids=[i.id for i in sent], now=now)
        await outbox.mark_reachable(
            session, channel=self.channel, external_ids={i.message.external_id for i in sent}
        )
        released = [o.item.id for o in outcomes if o.kind == "release"]
        await outbox.release(session, ids=released, token=self.token)
        for outcome in outcomes:
            if outcome.kind in {"retry", "give_up", "unreachable"}:
                await self._record_failure(session, outcome, now)

    async def _record_failure(
        self, session: AsyncSession, outcome: _Outcome, now: dt.datetime
    ) -> None:
        item = outcome.item
        await outbox.mark_failed(
            session,
            message_id=item.id,
            token=self.token,
            now=now,
            error=outcome.error,
            retry_at=outcome.retry_at,
            parts_sent=item.done,
        )
        if outcome.kind != "unreachable":
            return
        identity = await outbox.mark_unreachable(
            session, channel=self.channel, external_id=item.message.external_id, now=now
        )
        if identity is not None:
            await tell_admins_unreachable(session, identity=identity, now=now, loc=self.texts)

    def _count(self, outcomes: list[_Outcome]) -> None:
        stats = self.stats
        for outcome in outcomes:
            if outcome.kind == "sent":
                stats.sent += 1
            elif outcome.kind == "retry":
                stats.retried += 1
            elif outcome.kind in {"give_up", "unreachable"}:
                stats.given_up += 1
                stats.unreachable += outcome.kind == "unreachable"

    def _short(self) -> bool:
        """Whether to claim more: fewer chats than half a batch have a row waiting (a
        chat takes one a second, so rows of one chat do not keep the rate up), and
        the queue is not full."""
        state = self._state
        chats = {item.chat_id for item in state.unstarted()}
        return len(chats) * 2 < self.config.batch_size and len(state.queue) < self._cap

    async def _refill(self, now: float) -> None:
        """Claim more rows when short, and new personal rows every ``poll`` seconds in
        any case; now and then renew the claims still waiting and give up rows whose
        sender died in mid-send."""
        state = self._state
        if self._stopping:
            return
        if now + TICK >= state.next_sweep:
            await self._sweep()
            state.next_sweep = now + self.config.lease / 3
        if self._short() and now + TICK >= state.next_claim:
            waiting = {item.message.external_id for item in state.unstarted()}
            rows = await self._claim(min(self._chunk, self._cap - len(state.queue)), busy=waiting)
            state.next_claim = now if rows else now + self.config.poll
        elif now + TICK >= state.next_urgent:
            await self._claim(self._chunk, up_to=OutboxPriority.PERSONAL)
        else:
            return
        state.next_urgent = now + self.config.poll

    async def _claim(
        self, limit: int, *, busy: Collection[str] = (), up_to: int | None = None
    ) -> list[OutboxMessage]:
        async with self.sessions.begin() as session:
            rows = await outbox.claim_due(
                session,
                channel=self.channel,
                now=self.clock(),
                limit=limit,
                lease=self._lease,
                token=self.token,
                per_chat=PER_CHAT,
                busy=busy,
                priority_up_to=up_to,
            )
        self.stats.claims += 1
        self._take(rows)
        return rows

    async def _sweep(self) -> None:
        waiting = [item.id for item in self._state.unstarted()]
        async with self.sessions.begin() as session:
            now = self.clock()
            await outbox.renew(session, ids=waiting, token=self.token, now=now, lease=self._lease)
            lost = await outbox.give_up_interrupted(session, channel=self.channel, now=now)
            expired = await outbox.give_up_expired(session, channel=self.channel, now=now)
        for message in expired:
            logger.warning(
                "outbox row %s (%s) expired unsent (its date passed); given up",
                message.id,
                message.dedupe_key,
            )
        for message in lost:
            logger.warning(
                "outbox row %s (%s) was being sent when its sender stopped; given up, "
                "not sent again (it may have arrived)",
                message.id,
                message.dedupe_key,
            )
        self.stats.interrupted += len(lost)

    def _take(self, rows: Collection[OutboxMessage]) -> None:
        """Claimed rows into the queue, in sending order; a row that cannot be sent as
        stored is given up at once."""
        state = self._state
        for message in rows:
            try:
                chat_id = int(message.external_id)
                parts = _prepare(message)
            except ValueError as exc:
                item = _Item(message, 0, [], 0, message.attempts)
                logger.warning("outbox row %s cannot be sent: %s", message.id, exc)
                state.outcomes.append(_Outcome(item, "give_up", f"not sendable: {exc}"))
                continue
            done = min(message.parts_sent, len(parts) - 1)
            state.queue.append(_Item(message, chat_id, parts, done, message.attempts + 1))
        state.queue.sort(key=lambda i: (i.message.priority, i.id))

    # ------------------------------------------------------------------ waiting

    def _wait(self, now: float) -> float:
        """Seconds until something can happen: a row can start, a claim is due, the
        sweep is due; at most ``poll``.  A finished send wakes the loop earlier."""
        state = self._state
        moments = [now + self.config.poll, state.next_sweep, state.next_urgent]
        if self._short():
            moments.append(state.next_claim)
        starts = [
            state.chat_free.get(item.chat_id, -math.inf)
            for item in state.unstarted()
            if item.chat_id not in state.busy
        ]
        if starts and len(state.tasks) < self.config.max_in_flight:
            moments.append(max(min(starts), self.pacer.ready_at()))
        wait = min(moments) - now
        return wait if wait > TICK else 0.0

    async def _nap(self, seconds: float) -> None:
        """Sleep with the injected ``sleep``, cut short by a finished send or :meth:`stop`."""
        if self._wake.is_set() or seconds <= 0:
            self._wake.clear()
            await asyncio.sleep(0)
            return
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in (sleeper, waker):
                future.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await future
        self._wake.clear()
