"""Serving the conversation on DingTalk: the stream, the replies, the outbox's sender."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from contextlib import suppress

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialogs.i18n import Locale
from dingtalk.config import DingTalkConfig
from dingtalk.inbound import Channel, Converses
from dingtalk.openapi import OpenApi
from dingtalk.sender import Pacing, Sender, system_clock
from dingtalk.stream import StreamClient

log = logging.getLogger(__name__)


async def run_stream(
    config: DingTalkConfig,
    conversation: Converses,
    *,
    outbox: async_sessionmaker[AsyncSession] | None = None,
    clock: Callable[[], dt.datetime] = system_clock,
) -> None:
    """Serve ``conversation`` through the stream until cancelled; with ``outbox`` (the
    database's sessions) its sender for channel ``dingtalk`` runs alongside, on
    ``clock`` (what is due, what has expired)."""
    api = OpenApi(config)
    loc = Locale(config.locale)
    channel = Channel(conversation, api, loc)
    client = StreamClient(config, channel)
    if not config.card_template_id:
        log.warning("no DingTalk card template set: buttons are sent as numbered lines")
    tasks = [asyncio.create_task(client.start(), name="dingtalk-stream")]
    if outbox is not None:
        pacing = Pacing(rate=config.send_rate, lease=config.send_lease)
        sender = Sender(outbox, channel.replier, loc=loc, pacing=pacing, clock=clock)
        tasks.append(asyncio.create_task(sender.run(), name="dingtalk-sender"))
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
        await api.close()
