"""Photos and documents.

The engine first checks type and size from the metadata, and only then calls
``fetch``; so nothing is downloaded for an upload it would refuse anyway.
Download errors are left to the engine, which tells the user to try again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import Bot, F, Router
from aiogram.enums import ChatType, ContentType
from aiogram.types import Message

from bot.delivery import Converses, answer_message
from dialogs.i18n import Locale
from dialogs.ui import FileIn, UpdateKey


def files_router() -> Router:
    router = Router(name="files")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    # content_type, not F.document: an animation (GIF) message carries a document too.
    router.message.register(on_photo, F.content_type == ContentType.PHOTO)
    router.message.register(on_document, F.content_type == ContentType.DOCUMENT)
    return router


def downloader(bot: Bot, file_id: str) -> Callable[[], Awaitable[bytes]]:
    """A ``fetch`` that downloads one file into memory (Bot API files are ≤ 20 MB)."""

    async def fetch() -> bytes:
        buffer = await bot.download(file_id)
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
    )
    await answer_message(message, event, bot, conversation, update_key, texts)


async def on_document(
    message: Message,
    bot: Bot,
    conversation: Converses,
    update_key: UpdateKey | None,
    texts: Locale,
) -> None:
    document = message.document
    if document is None:
        return
    event = FileIn(
        kind="document",
        file_name=document.file_name or "document",
        mime_type=document.mime_type or "application/octet-stream",
        size=document.file_size,
        source_ref=document.file_id,
        fetch=downloader(bot, document.file_id),
    )
    await answer_message(message, event, bot, conversation, update_key, texts)
