"""Photos, documents and videos.

The engine first checks type and size from the metadata, and only then calls
``fetch``; so nothing is downloaded for an upload it would refuse anyway.
Download errors are left to the engine, which tells the user to try again;
a file the Bot API will not hand over because of its size (``getFile`` serves
at most 20 MB) is a :class:`TooBigToFetch`, so the user is told that limit
instead of being asked to try again, and no reference is kept in its place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import Bot, F, Router
from aiogram.enums import ChatType, ContentType
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import Document, Message, Video

from bot.delivery import Converses, answer_message
from dialogs.i18n import Locale
from dialogs.qtypes._upload import FETCH_LIMIT_MB
from dialogs.ui import FileIn, TooBigToFetch, UpdateKey

DOWNLOAD_LIMIT = FETCH_LIMIT_MB * 1024 * 1024
"""The largest file the Bot API lets a bot download (``getFile``)."""


def files_router() -> Router:
    router = Router(name="files")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    # content_type, not F.document: an animation (GIF) message carries a document too.
    router.message.register(on_photo, F.content_type == ContentType.PHOTO)
    router.message.register(on_document, F.content_type == ContentType.DOCUMENT)
    # A video sent as a video (not as a file): the form's optional 视频.
    router.message.register(on_document, F.content_type == ContentType.VIDEO)
    return router


def downloader(bot: Bot, file_id: str) -> Callable[[], Awaitable[bytes]]:
    """A ``fetch`` that downloads one file into memory (Bot API files are ≤ 20 MB)."""

    async def fetch() -> bytes:
        try:
            buffer = await bot.download(file_id)
        except TelegramBadRequest as exc:
            if "too big" in exc.message.lower():  # "Bad Request: file is too big"
                raise TooBigToFetch(DOWNLOAD_LIMIT) from exc
            raise
        if buffer is None:  # only when a destination is given; never here
            raise RuntimeError(f"download of {file_id} returned nothing")
        return buffer.read()

    return fetch


async def on_photo(
    message: Message,
    bot: Bot,
    conversation: Converses,
    update_key: UpdateKey | None,
    texts: Locale,
) -> None:
    if not message.photo:
        return
    # Telegram sends several sizes of one photo; the largest is the original.
    largest = max(message.photo, key=lambda size: (size.width * size.height, size.file_size or 0))
    event = FileIn(
        kind="photo",
        file_name=f"photo_{largest.file_unique_id}.jpg",
        mime_type="image/jpeg",
        size=largest.file_size,
        source_ref=largest.file_id,
        fetch=downloader(bot, largest.file_id),
        # Telegram gives a photo sent again a new file id, but the same unique id.
        unique_ref=largest.file_unique_id,
        fetch_limit=DOWNLOAD_LIMIT,
    )
    await answer_message(message, event, bot, conversation, update_key, texts)


async def on_document(
    message: Message,
    bot: Bot,
    conversation: Converses,
    update_key: UpdateKey | None,
    texts: Locale,
) -> None:
    """A document, or a video sent as a video (taken as a file all the same: its
    type is judged from its bytes like any document's)."""
    if message.document is not None:
        sent: Document | Video = message.document
        name = message.document.file_name or "document"
    elif message.video is not None:
        sent = message.video
        name = message.video.file_name or f"video_{message.video.file_unique_id}.mp4"
    else:
        return
    event = _as_file(bot, sent, name)
    await answer_message(message, event, bot, conversation, update_key, texts)


def _as_file(bot: Bot, sent: Document | Video, file_name: str) -> FileIn:
    """A document or a video as an upload of a file (what the client claims about
    its type is kept as a claim; the bytes decide)."""
    return FileIn(
        kind="document",
        file_name=file_name,
        mime_type=sent.mime_type or "application/octet-stream",
        size=sent.file_size,
        source_ref=sent.file_id,
        fetch=downloader(bot, sent.file_id),
        fetch_limit=DOWNLOAD_LIMIT,
    )
