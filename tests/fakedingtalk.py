"""A fake DingTalk for the channel's tests: the Stream gateway and the OpenAPI calls.

One aiohttp server plays both sides the real SDK and our OpenAPI client meet:

* ``POST /v1.0/gateway/connections/open`` answers an endpoint and a ticket
  (or fails, or hangs, on request), and ``GET /connect`` is that endpoint's
  WebSocket, over which the test sends CALLBACK frames (robot messages on
  ``/v1.0/im/bot/messages/get``, card presses on
  ``/v1.0/card/instances/callback``) and SYSTEM frames, and collects ACKs;
* ``POST /v1.0/oauth2/accessToken`` issues tokens (checking the secret), and
  the calls that need one check it: ``robot/oToMessages/batchSend`` and
  ``card/instances/createAndDeliver`` record what was sent to whom,
  ``robot/messageFiles/download`` hands out URLs of files the test put here.

Every sent message is kept as a :class:`Sent`, in order, per staff id.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

MESSAGE_TOPIC = "/v1.0/im/bot/messages/get"


def unauthenticated() -> web.Response:
    """The answer to a call without a valid token."""
    return web.json_response({"code": "InvalidAuthentication"}, status=401)


CARD_TOPIC = "/v1.0/card/instances/callback"


@dataclass
class Sent:
    user_id: str
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    card: bool = False
    track: str = ""
    updates: int = 0
    """How often the card was changed in place since it was sent."""
    file: bytes | None = None
    """A file sent (``sampleFile``): its bytes, uploaded first; ``text`` is its name."""


class FakeDingTalk:
    def __init__(self, client_id: str = "dingclient", secret: str = "s3cret") -> None:
        self.client_id = client_id
        self.secret = secret
        self.url = ""
        self.sent: list[Sent] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.opens = 0
        self.fail_opens = 0
        """Connection-open requests still to answer with 503."""
        self.hang_opens = 0
        """Connection-open requests still to leave unanswered (a hung gateway)."""
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.invalid_staff: set[str] = set()
        self.throttle = 0
        """Sends still to answer with HTTP 429."""
        self.broken = 0
        """Sends still to answer with HTTP 503."""
        self.break_at: int | None = None
        """Answer the send that would be the ``break_at``-th message kept with 503, once
        (a long text cut off between its parts)."""
        self.files: dict[str, bytes] = {}
        self.media: dict[str, bytes] = {}
        """Files the robot uploaded to send, by media id."""
        self.downloads = 0
        self.ws: web.WebSocketResponse | None = None
        self.connected = asyncio.Event()
        self._ids = itertools.count(1)
        self._ack_events: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> FakeDingTalk:
        app = web.Application()
        app.router.add_post("/v1.0/gateway/connections/open", self._open)
        app.router.add_get("/connect", self._connect)
        app.router.add_post("/v1.0/oauth2/accessToken", self._token)
        app.router.add_post("/v1.0/robot/oToMessages/batchSend", self._batch_send)
        app.router.add_post("/v1.0/card/instances/createAndDeliver", self._card)
        app.router.add_put("/v1.0/card/instances", self._update_card)
        app.router.add_post("/v1.0/robot/messageFiles/download", self._download)
        app.router.add_get("/files/{code}", self._file)
        app.router.add_post("/media/upload", self._media_upload)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self._stopping.set()  # a hung connection-open ends
        if self.ws is not None:
            await self.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what the test does -------------------------------------------------

    async def message(self, user_id: str, body: dict[str, Any], msg_id: str = "") -> str:
        """A robot 1:1 message from ``user_id``; its msgId."""
        msg_id = msg_id or f"msg{next(self._ids)}"
        data = {
            "conversationId": f"cid-{user_id}",
            "conversationType": "1",
            "msgId": msg_id,
            "senderNick": f"用户{user_id}",
            "senderStaffId": user_id,
            "senderId": f"$:LWCP_v1:${user_id}",
            "robotCode": self.client_id,
            "chatbotUserId": "$:bot",
            "createAt": int(time.time() * 1000),
            "sessionWebhook": f"{self.url}/session",
            **body,
        }
        frame_id = f"frame-{msg_id}-{next(self._ids)}"
        await self.frame(MESSAGE_TOPIC, data, frame_id=frame_id)
        return frame_id

    async def text(self, user_id: str, text: str, msg_id: str = "") -> str:
        """A text message; the id of its frame (for :meth:`acked`)."""
        return await self.message(user_id, {"msgtype": "text", "text": {"content": text}}, msg_id)

    async def upload(self, user_id: str, data: bytes, name: str, mime: str) -> str:
        code = f"code{next(self._ids)}"
        self.files[code] = data
        if mime.startswith("image/"):
            body = {"msgtype": "picture", "content": {"downloadCode": code}}
        else:
            body = {"msgtype": "file", "content": {"downloadCode": code, "fileName": name}}
        return await self.message(user_id, body)

    async def press(
        self, user_id: str, payload: Any, frame_id: str = "", track: str = "track"
    ) -> str:
        """A card button pressed (on the card ``track``); the frame's id."""
        content = {"cardPrivateData": {"actionIds": ["press"], "params": {"payload": payload}}}
        data = {
            "outTrackId": track,
            "corpId": "corp",
            "userId": user_id,
            "type": "actionCallback",
            "content": json.dumps(content),
        }
        frame_id = frame_id or f"press{next(self._ids)}"
        await self.frame(CARD_TOPIC, data, frame_id=frame_id)
        return frame_id

    async def frame(self, topic: str, data: dict[str, Any], *, frame_id: str) -> None:
        await self.connected.wait()
        assert self.ws is not None
        self._ack_events[frame_id].clear()
        await self.ws.send_str(
            json.dumps(
                {
                    "specVersion": "1.0",
                    "type": "CALLBACK",
                    "headers": {
                        "appId": "app",
                        "connectionId": "conn",
                        "contentType": "application/json",
                        "messageId": frame_id,
                        "time": str(int(time.time() * 1000)),
                        "topic": topic,
                    },
                    "data": json.dumps(data, ensure_ascii=False),
                }
            )
        )

    async def acked(self, frame_id: str, wait: float = 20) -> dict[str, Any]:
        await asyncio.wait_for(self._ack_events[frame_id].wait(), wait)
        return self.acks[frame_id]

    async def ping(self) -> str:
        """A SYSTEM ping; its frame id (the ACK echoes the data)."""
        assert self.ws is not None
        frame_id = f"ping{next(self._ids)}"
        await self.ws.send_str(
            json.dumps(
                {
                    "specVersion": "1.0",
                    "type": "SYSTEM",
                    "headers": {"messageId": frame_id, "topic": "ping"},
                    "data": json.dumps({"opaque": frame_id}),
                }
            )
        )
        return frame_id

    async def disconnect(self) -> None:
        """DingTalk's own notice that it will close the connection (SYSTEM disconnect)."""
        assert self.ws is not None
        await self.ws.send_str(
            json.dumps(
                {
                    "specVersion": "1.0",
                    "type": "SYSTEM",
                    "headers": {"messageId": f"sys{next(self._ids)}", "topic": "disconnect"},
                    "data": "{}",
                }
            )
        )

    async def drop(self) -> None:
        """The connection lost without notice."""
        ws, self.ws = self.ws, None
        self.connected.clear()
        if ws is not None:
            await ws.close()

    def sent_to(self, user_id: str) -> list[Sent]:
        return [s for s in self.sent if s.user_id == user_id]

    # --- the server's side --------------------------------------------------

    async def _open(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.opens += 1
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.secret:
            return web.json_response({"code": "InvalidClient"}, status=401)
        if self.hang_opens:
            self.hang_opens -= 1
            await self._stopping.wait()
        if self.fail_opens:
            self.fail_opens -= 1
            return web.json_response({"code": "ServiceUnavailable"}, status=503)
        ws_url = self.url.replace("http://", "ws://") + "/connect"
        return web.json_response({"endpoint": ws_url, "ticket": f"ticket-{self.opens}"})

    async def _connect(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if not request.query.get("ticket", "").startswith("ticket-"):
            await ws.close()
            return ws
        self.ws = ws
        self.connected.set()
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            ack = json.loads(msg.data)
            mid = ack.get("headers", {}).get("messageId", "")
            self.acks[mid] = ack
            self._ack_events[mid].set()
        if self.ws is ws:
            self.ws = None
            self.connected.clear()
        return ws

    async def _token(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.token_requests += 1
        if body.get("appKey") != self.client_id or body.get("appSecret") != self.secret:
            return web.json_response({"code": "invalidClientIdOrSecret"}, status=400)
        token = f"tok{next(self._ids)}"
        self.tokens.add(token)
        return web.json_response({"accessToken": token, "expireIn": 7200})

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("x-acs-dingtalk-access-token", "") in self.tokens

    def _refusal(self) -> web.Response | None:
        """A rate limit or an outage asked for by the test, for one sending call."""
        if self.throttle:
            self.throttle -= 1
            return web.json_response({"code": "Forbidden.AccessDenied.QpsLimitForApi"}, status=429)
        if self.broken or self.break_at == len(self.sent):
            self.broken = max(0, self.broken - 1)
            self.break_at = None
            return web.json_response({"code": "ServiceUnavailable"}, status=503)
        return None

    async def _batch_send(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return unauthenticated()
        refused = self._refusal()
        if refused is not None:
            return refused
        body = await request.json()
        assert body["robotCode"] == self.client_id
        invalid = [u for u in body["userIds"] if u in self.invalid_staff]
        param = json.loads(body["msgParam"])
        for user in body["userIds"]:
            if user in invalid:
                continue
            if body["msgKey"] == "sampleFile":
                data = self.media[param["mediaId"]]
                self.sent.append(Sent(user, param["fileName"], file=data))
            else:
                self.sent.append(Sent(user, param.get("content") or param.get("text", "")))
        return web.json_response({"processQueryKey": "q", "invalidStaffIdList": invalid})

    async def _media_upload(self, request: web.Request) -> web.Response:
        """The older host's upload: the token in the query, the file as ``media``."""
        if request.query.get("access_token", "") not in self.tokens:
            return web.json_response({"errcode": 40014, "errmsg": "invalid access_token"})
        form = await request.post()
        upload = form["media"]
        assert isinstance(upload, web.FileField)
        media_id = f"@media{next(self._ids)}"
        self.media[media_id] = upload.file.read()
        return web.json_response({"errcode": 0, "media_id": media_id, "type": "file"})

    async def _card(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return unauthenticated()
        refused = self._refusal()
        if refused is not None:
            return refused
        body = await request.json()
        user = body["openSpaceId"].rsplit(".", 1)[1]
        params = body["cardData"]["cardParamMap"]
        assert all(isinstance(v, str) for v in params.values())
        track = body["outTrackId"]
        self.sent.append(Sent(user, params["text"], json.loads(params["buttons"]), True, track))
        return web.json_response(
            {"success": True, "result": {"outTrackId": body["outTrackId"], "deliverResults": [
                {"spaceType": "IM_ROBOT", "spaceId": user, "success": True}
            ]}}
        )  # fmt: skip

    async def _update_card(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return unauthenticated()
        body = await request.json()
        cards = [s for s in self.sent if s.card and s.track == body["outTrackId"]]
        if not cards:
            return web.json_response({"code": "cardNotExist"}, status=400)
        params = body["cardData"]["cardParamMap"]
        cards[0].text, cards[0].buttons = params["text"], json.loads(params["buttons"])
        cards[0].updates += 1
        return web.json_response({"success": True, "result": True})

    async def _download(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return unauthenticated()
        code = (await request.json())["downloadCode"]
        if code not in self.files:
            return web.json_response({"code": "InvalidDownloadCode"}, status=400)
        return web.json_response({"downloadUrl": f"{self.url}/files/{code}"})

    async def _file(self, request: web.Request) -> web.Response:
        self.downloads += 1
        return web.Response(body=self.files[request.match_info["code"]])
