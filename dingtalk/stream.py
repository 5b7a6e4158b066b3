"""Receiving through DingTalk's Stream mode, with the official SDK.

The SDK (``dingtalk-stream``) parses the frames, routes them by topic to our
handlers and sends each ACK once the handler returns.  Two of its habits are
replaced in :class:`StreamClient`: its connection-open request is a blocking
``requests.post`` without a timeout (one hung gateway would freeze the whole
event loop), and it reconnects after a fixed pause.  Ours asks the gateway
with aiohttp and a timeout, and reconnects with doubling backoff.

A robot message is acknowledged only after its answer is committed and the
replies sent: when anything fails on the way (a reply lost to the network
included) the handler raises, the SDK
logs it and sends no ACK, and DingTalk delivers the message again.  The
message id is the update key, so a repeated message changes nothing (the
person is shown where they are).  One person's messages are handled one
after another, in the order they came.
"""

from __future__ import annotations

import asyncio
import json
import logging
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import websockets
from dingtalk_stream import (
    AckMessage,
    CallbackHandler,
    Card_Callback_Router_Topic,
    ChatbotMessage,
    Credential,
)
from dingtalk_stream import DingTalkStreamClient as _SdkClient
from dingtalk_stream.frames import CallbackMessage, SystemMessage

from dingtalk.config import DingTalkConfig
from dingtalk.inbound import Channel

log = logging.getLogger(__name__)

CARD_TOPIC = Card_Callback_Router_Topic


class StreamClient(_SdkClient):  # type: ignore[misc]
    """The SDK's client with a bounded connection-open and backoff between connections."""

    def __init__(self, config: DingTalkConfig, channel: Channel) -> None:
        super().__init__(Credential(config.client_id, config.client_secret), logger=log)
        self.config = config
        self.connected = asyncio.Event()
        self.connections = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.register_callback_handler(ChatbotMessage.TOPIC, _Messages(channel))
        self.register_callback_handler(CARD_TOPIC, _Cards(channel))

    async def start(self) -> None:
        """Connect, serve frames, and connect again whenever the link is lost."""
        self.pre_start()
        delay = self.config.backoff
        try:
            while True:
                try:
                    ticket = await self.open_ticket()
                    await self._serve(ticket)
                    delay = self.config.backoff  # a connection that served resets the pause
                except Exception as exc:  # whatever broke the link, a new one is opened
                    log.warning(
                        "DingTalk stream: %s; connecting again in %.1fs", _brief(exc), delay
                    )
                self.connected.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.backoff_cap)
        finally:
            # Frames still being handled are not acknowledged: DingTalk delivers them again.
            for task in list(self._tasks):
                task.cancel()

    async def open_ticket(self) -> dict[str, str]:
        """The endpoint and ticket of a new connection (``POST /v1.0/gateway/connections/open``)."""
        body = {
            "clientId": self.credential.client_id,
            "clientSecret": self.credential.client_secret,
            "subscriptions": [
                {"type": "CALLBACK", "topic": topic} for topic in self.callback_handler_map
            ],
            "ua": f"studiobot python/{platform.python_version()}",
            "localIp": "",
        }
        url = self.config.gateway_url.rstrip("/") + "/v1.0/gateway/connections/open"
        timeout = aiohttp.ClientTimeout(total=self.config.connect_timeout)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(url, json=body, headers={"Accept": "application/json"}) as response,
        ):
            if response.status != 200:
                raise ValueError(f"the gateway answered HTTP {response.status}")
            data = await response.json(content_type=None)
        if not isinstance(data, dict) or not data.get("endpoint") or not data.get("ticket"):
            raise ValueError("the gateway gave no endpoint and ticket")
        return {"endpoint": str(data["endpoint"]), "ticket": str(data["ticket"])}

    async def _serve(self, ticket: dict[str, str]) -> None:
        uri = f"{ticket['endpoint']}?ticket={quote_plus(ticket['ticket'])}"
        async with websockets.connect(uri, open_timeout=self.config.connect_timeout) as ws:
            self.websocket = ws
            self.connections += 1
            self.connected.set()
            log.info("DingTalk stream connected")
            keepalive = asyncio.create_task(self.keepalive(ws))
            try:
                async for raw in ws:
                    frame = json.loads(raw)
                    task = asyncio.create_task(self.background_task(frame))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            finally:
                keepalive.cancel()
        log.info("DingTalk stream closed")

    async def route_message(self, json_message: dict[str, Any]) -> str:
        """DingTalk's pings (SYSTEM ``ping``) answered with their data, quietly: the
        SDK answers them too, but logs each as an unknown topic."""
        headers = json_message.get("headers") or {}
        if json_message.get("type") == SystemMessage.TYPE and headers.get("topic") == "ping":
            ack = await self.system_handler.raw_process(SystemMessage.from_dict(json_message))
            await self.websocket.send(json.dumps(ack.to_dict()))
            return ""
        result: str = await super().route_message(json_message)
        return result

    def open_connection(self) -> None:  # the SDK's blocking version must never run
        raise NotImplementedError("StreamClient.open_ticket replaces it")


class _Messages(CallbackHandler):  # type: ignore[misc]
    """Robot messages (``/v1.0/im/bot/messages/get``)."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self.channel = channel

    async def process(self, message: CallbackMessage) -> tuple[int, str]:
        with _logged("message"):
            await self.channel.message(message.data, str(message.headers.message_id or ""))
        return AckMessage.STATUS_OK, "OK"


class _Cards(CallbackHandler):  # type: ignore[misc]
    """Card button presses (``/v1.0/card/instances/callback``)."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self.channel = channel

    async def process(self, message: CallbackMessage) -> tuple[int, str]:
        with _logged("card press"):
            await self.channel.card(message.data, str(message.headers.message_id or ""))
        return AckMessage.STATUS_OK, "{}"


@contextmanager
def _logged(what: str) -> Iterator[None]:
    """Log a failure in one line and let it through, so the SDK sends no ACK."""
    try:
        yield
    except Exception as exc:
        log.warning("DingTalk %s not handled (it will be delivered again): %s", what, _brief(exc))
        raise


def _brief(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]
