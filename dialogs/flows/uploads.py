"""Photos and files: checked, downloaded and stored without holding a write
transaction during the download, then recorded in a second, short one.

The file's type is what its bytes are (``sniff_mime``); the name and type the
client sent are the sender's word and decide nothing, so a script sent as
"application/pdf" is refused, not stored as a PDF.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from dialogs.engine import Walker
from dialogs.flows import sheets
from dialogs.qtypes._upload import accept_list, size_limit_mb
from dialogs.turn import Turn
from dialogs.ui import FileIn, Outcome, Reply, TooBigToFetch, UpdateKey
from storage import repo
from storage.files import sniff_mime, suffix_for
from storage.models import Application, Attachment

log = logging.getLogger(__name__)

OpenTurn = Callable[[], AbstractAsyncContextManager[Turn]]
"""Opens a transaction and the turn inside it (the service's own)."""

Redelivered = Callable[[Turn], Awaitable[Outcome]]
"""What to answer for an update handled before (the service's own)."""


async def receive(
    open_turn: OpenTurn,
    event: FileIn,
    update_key: UpdateKey | None,
    redelivered: Redelivered,
) -> Outcome:
    """Take one upload for the current question."""
    async with open_turn() as turn:
        # Only looked at here: the update is marked with the attachment, so a
        # crash during the download leaves it unhandled and it is sent again.
        if update_key is not None and await repo.update_seen(
            turn.session, source=update_key[0], update_id=update_key[1], now=turn.now
        ):
            return await redelivered(turn)
        app = await turn.active()
        if app is None:
            return turn.menu(turn.t("engine.no_active"))
        walker = turn.walker(app)
        problem = walker.on_upload_check(
            sent_as=event.kind, mime_type=event.mime_type, size=event.size
        )
        # Over what the messenger hands over: said as that limit, which no setting
        # of the question can lift (rather than as the question's own size limit).
        if problem in (None, "engine.upload.too_big") and _over_fetch_limit(event):
            return over_fetch_limit(turn, app, event.fetch_limit or 0)
        if problem is not None:
            if walker.takes_sheet():
                return sheets.refused(turn, app, problem)
            return refused(turn, walker, app, problem)
        limit = walker.upload_limit_bytes()
        revision, app_id = app.revision, app.id or 0
        current = turn.current(app)
        failed = turn.t("engine.upload.failed")
        say = turn.loc.t
    try:
        data = await _download(event, app_id)
    except _DownloadFailed:
        return Outcome(replies=[Reply(text=failed), *current])
    except TooBigToFetch as too_big:
        return Outcome(replies=[Reply(text=_fetch_limit_text(say, too_big.limit_bytes)), *current])
    async with open_turn() as turn:
        if update_key is not None and not await repo.mark_update(
            turn.session, source=update_key[0], update_id=update_key[1], now=turn.now
        ):
            return await redelivered(turn)
        app = await turn.active()
        if app is None or app.id != app_id or app.revision != revision:
            return Outcome(replies=[Reply(text=turn.t("engine.upload.moved_on"))])
        return await _record(turn, app, event, data, limit)


class _DownloadFailed(Exception):
    """The messenger did not hand the file over (already logged)."""


async def _download(event: FileIn, app_id: int) -> bytes | None:
    """The bytes, or None for a photo the messenger keeps for later."""
    try:
        return await event.fetch()
    except TooBigToFetch:
        # Never kept by reference: the messenger will not hand it over later either.
        log.info(
            "a %s for application %s is over the messenger's download limit", event.kind, app_id
        )
        raise
    except Exception:
        if event.kind != "photo" or not event.kept:
            # Ids only: in the terminal chat the reference is a path the user typed.
            log.exception("download of a %s for application %s failed", event.kind, app_id)
            raise _DownloadFailed from None
        # The messenger holds the photo (always a JPEG, its size already checked):
        # keep it by reference and fetch the bytes later, rather than stop the user.
        log.warning("photo for application %s not downloadable now; kept by reference", app_id)
        return None


async def _record(
    turn: Turn, app: Application, event: FileIn, data: bytes | None, limit: int
) -> Outcome:
    walker = turn.walker(app)
    if walker.takes_sheet():  # a table's menu: a filled-in template, read, not kept
        return await sheets.receive(turn, app, walker, data)
    if data is not None and len(data) > limit:
        return refused(turn, walker, app, "engine.upload.too_big")
    if data is not None and not data:
        return refused(turn, walker, app, "engine.upload.empty")
    mime = event.mime_type if data is None else sniff_mime(data)
    if not walker.accepts_mime(mime):
        return refused(turn, walker, app, "engine.upload.wrong_type")
    stored = None if data is None else await turn.desk.files.save(data, suffix=suffix_for(mime))
    target, value, _ = walker.target()
    earlier = await repo.get_attachments(turn.session, ids=list(value or []))
    sha256 = stored.sha256 if stored is not None else ""
    if any(_same(a, event, sha256) for a in earlier):
        return refused(turn, walker, app, "engine.upload.duplicate")
    att = await repo.add_attachment(
        turn.session,
        application_id=app.id or 0,
        question_id=target.id,
        kind=event.kind,
        file_name=event.file_name,
        mime_type=mime,
        size=stored.size if stored else event.size or 0,
        sha256=sha256,
        storage_path=stored.path if stored else "",  # empty: not downloaded yet
        source_ref=event.source_ref,
        now=turn.now,
    )
    return await turn.apply(app, walker, walker.on_upload(att.id or 0))


def _same(earlier: Attachment, event: FileIn, sha256: str) -> bool:
    """Whether an upload repeats one already given: the same bytes, or, for a file
    not downloaded yet, the same reference or the same identity the messenger
    gives its files (``FileIn.unique_ref``: a photo sent again may get a new reference)."""
    if sha256:
        return earlier.sha256 == sha256
    if earlier.source_ref == event.source_ref:
        return True
    return bool(event.unique_ref) and earlier.file_name == event.file_name


def _over_fetch_limit(event: FileIn) -> bool:
    return event.fetch_limit is not None and (event.size or 0) > event.fetch_limit


def over_fetch_limit(turn: Turn, app: Application, limit_bytes: int) -> Outcome:
    """A file the messenger will not hand over to the bot: the limit said plainly,
    with what the user can do instead, then the current question.  Nothing is kept."""
    text = _fetch_limit_text(turn.loc.t, limit_bytes)
    return Outcome(replies=[Reply(text=text), *turn.current(app)])


def _fetch_limit_text(say: Callable[..., str], limit_bytes: int) -> str:
    return say("materials.upload.over_fetch_limit", max_mb=f"{limit_bytes / 2**20:g}")


def refused(turn: Turn, walker: Walker, app: Application, key: str) -> Outcome:
    """Why an upload was not taken, then the current question."""
    target, _, _ = walker.target() if walker.mode == "ask" else (None, None, None)
    params: dict[str, object] = {}
    if target is not None:
        params = {
            "max_mb": f"{size_limit_mb(target):g}",
            "max": target.max_files or "",
            "accept": accept_list(target, turn.loc),
        }
    text = turn.t(key, **params)
    return Outcome(replies=[Reply(text=text), *turn.current(app)])
