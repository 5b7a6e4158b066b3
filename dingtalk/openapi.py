"""The few DingTalk OpenAPI calls the channel makes, over one aiohttp session.

* ``POST /v1.0/oauth2/accessToken``: the app's access token (2 hours), cached
  and asked again five minutes before it runs out, or at once when a call is
  refused as unauthenticated (401), which is then tried once more.
* ``POST /v1.0/robot/oToMessages/batchSend``: a robot's 1:1 message (text).
  It answers 200 even when the person cannot be reached: the staff id then
  stands in ``invalidStaffIdList`` (not in the organisation, left it), or in
  ``flowControlledStaffIdList`` (too many messages to that person).
* ``POST /v1.0/card/instances/createAndDeliver``: a card with buttons, whose
  presses come back through the stream (``callbackType: STREAM``), and
  ``PUT /v1.0/card/instances`` to change one in place.
* ``POST /v1.0/robot/messageFiles/download``: a short-lived URL for a picture or
  file a person sent the robot, fetched at once with a size cap.
* ``POST /media/upload`` on the older host (``oapi_url``, the same token as
  ``access_token``): a file the robot sends (a form, a reviewer's copy of an
  applicant's document), then sent as ``sampleFile`` by its ``media_id``.

Failures are sorted for the callers: :class:`RateLimited` (HTTP 429 or a
flow-control code: wait), :class:`Unreachable` (never try this person again
until they write), :class:`Transient` (network, timeouts, 5xx: try again
later) and :class:`Refused` (anything else: the same request would fail again).
The secret is sent only to the token endpoint and never logged.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import aiohttp

from dingtalk.config import DingTalkConfig

log = logging.getLogger(__name__)

TOKEN_MARGIN = 300.0
"""Seconds before its end a token is replaced (DingTalk's own SDK keeps the same)."""
MAX_DOWNLOAD = 64 * 1024 * 1024
"""Bytes read of a download at most; the dialogs refuse far smaller files anyway."""


class ApiError(Exception):
    """A call DingTalk did not carry out."""


class RateLimited(ApiError):
    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unreachable(ApiError):
    """The person cannot be sent to (unknown staff id, left the organisation)."""


class Transient(ApiError):
    """Network, timeout or server error: the same call may work later."""


class Refused(ApiError):
    """DingTalk refused the request itself: sending it again would fail again."""


class OpenApi:
    """An app's OpenAPI client: tokens, sending, downloading."""

    def __init__(self, config: DingTalkConfig, *, timeout: float = 20.0) -> None:
        self.config = config
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._token = ""
        self._token_until = 0.0

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def token(self) -> str:
        """The app's access token, asked only when the cached one is near its end."""
        if self._token and time.monotonic() < self._token_until:
            return self._token
        body = {"appKey": self.config.client_id, "appSecret": self.config.client_secret}
        data = await self._post("/v1.0/oauth2/accessToken", body, token=None)
        token = data.get("accessToken")
        if not isinstance(token, str) or not token:
            raise Refused("the token endpoint gave no accessToken")
        expires = float(data.get("expireIn", 7200))
        self._token = token
        self._token_until = time.monotonic() + max(expires - TOKEN_MARGIN, expires / 2)
        return token

    def forget_token(self) -> None:
        self._token = ""

    async def call(self, path: str, body: dict[str, Any], method: str = "POST") -> dict[str, Any]:
        """Call with the app's token; a 401 gets a new token and one more try."""
        try:
            return await self._post(path, body, token=await self.token(), method=method)
        except _Unauthenticated:
            self.forget_token()
        try:
            return await self._post(path, body, token=await self.token(), method=method)
        except _Unauthenticated as exc:
            raise Refused(f"{path}: the new token is refused too") from exc

    async def send_text(self, user_id: str, text: str) -> None:
        """A plain text message to one person (user answers are never parsed as markdown)."""
        await self._batch_send(user_id, "sampleText", {"content": text})

    async def send_card(self, user_id: str, params: dict[str, str]) -> str:
        """A card of the configured template to one person; its id (``outTrackId``)."""
        track = uuid.uuid4().hex
        body = {
            "cardTemplateId": self.config.card_template_id,
            "outTrackId": track,
            "callbackType": "STREAM",
            "cardData": {"cardParamMap": params},
            "openSpaceId": f"dtv1.card//IM_ROBOT.{user_id}",
            "imRobotOpenSpaceModel": {"supportForward": False},
            "imRobotOpenDeliverModel": {
                "spaceType": "IM_ROBOT",
                "robotCode": self.config.robot_code,
            },
        }
        data = await self.call("/v1.0/card/instances/createAndDeliver", body)
        for result in _results(data):
            if result.get("success") is False:
                raise Unreachable(str(result.get("errorMsg", "card not delivered")))
        return track

    async def update_card(self, track: str, params: dict[str, str]) -> None:
        """Show new contents in a card sent before (a tick of a multiple choice)."""
        body = {"outTrackId": track, "cardData": {"cardParamMap": params}}
        await self.call("/v1.0/card/instances", body, method="PUT")

    async def _batch_send(self, user_id: str, key: str, param: dict[str, str]) -> None:
        body = {
            "robotCode": self.config.robot_code,
            "userIds": [user_id],
            "msgKey": key,
            "msgParam": json.dumps(param, ensure_ascii=False),
        }
        data = await self.call("/v1.0/robot/oToMessages/batchSend", body)
        if user_id in (data.get("invalidStaffIdList") or []):
            raise Unreachable("the staff id is not valid for this robot")
        if user_id in (data.get("flowControlledStaffIdList") or []):
            raise RateLimited("too many messages to this person", retry_after=60.0)

    async def send_file(self, user_id: str, name: str, data: bytes) -> None:
        """A file to one person: uploaded, then sent by its media id."""
        media_id = await self._upload(name, data)
        kind = name.rsplit(".", 1)[-1].lower() if "." in name else "file"
        await self._batch_send(
            user_id, "sampleFile", {"mediaId": media_id, "fileName": name, "fileType": kind}
        )

    async def _upload(self, name: str, data: bytes) -> str:
        url = self.config.oapi_url.rstrip("/") + "/media/upload"
        form = aiohttp.FormData()
        form.add_field("media", data, filename=name, content_type="application/octet-stream")
        params = {"access_token": await self.token(), "type": "file"}
        try:
            async with self._http().post(url, data=form, params=params) as response:
                status, text = response.status, await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Transient(f"/media/upload: {type(exc).__name__}") from exc
        answer = _json(text)
        if status != 200 or not isinstance(answer, dict):
            raise _error(status, "", "/media/upload")
        if answer.get("errcode") == 40014:  # the token ran out: a new one next time
            self.forget_token()
            raise Transient("/media/upload: the token ran out")
        media_id = answer.get("media_id")
        if answer.get("errcode") not in (0, None) or not isinstance(media_id, str):
            raise Refused(f"/media/upload: errcode {answer.get('errcode')}")
        return media_id

    async def download(self, download_code: str) -> bytes:
        """The bytes of a picture or file a person sent; at most ``MAX_DOWNLOAD``."""
        body = {"downloadCode": download_code, "robotCode": self.config.robot_code}
        data = await self.call("/v1.0/robot/messageFiles/download", body)
        url = data.get("downloadUrl")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise Refused("no download URL")
        try:
            async with self._http().get(url) as response:
                if response.status != 200:
                    raise _error(response.status, "", "download")
                content = await response.content.read(MAX_DOWNLOAD + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Transient(f"download: {type(exc).__name__}") from exc
        if len(content) > MAX_DOWNLOAD:
            raise Refused("the file is larger than any question takes")
        return content

    async def _post(
        self, path: str, body: dict[str, Any], *, token: str | None, method: str = "POST"
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["x-acs-dingtalk-access-token"] = token
        url = self.config.api_url.rstrip("/") + path
        try:
            request = self._http().request(method, url, json=body, headers=headers)
            async with request as response:
                text = await response.text()
                status = response.status
                retry_after = response.headers.get("Retry-After", "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Transient(f"{path}: {type(exc).__name__}") from exc
        if status == 200:
            data = _json(text)
            return data if isinstance(data, dict) else {}
        if status == 401 and token is not None:
            raise _Unauthenticated(path)
        code = ""
        data = _json(text)
        if isinstance(data, dict):
            code = str(data.get("code", ""))
        raise _error(status, code, path, retry_after)


class _Unauthenticated(ApiError):
    pass


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


def _results(data: dict[str, Any]) -> list[dict[str, Any]]:
    result = data.get("result")
    if isinstance(result, dict):
        delivered = result.get("deliverResults")
        if isinstance(delivered, list):
            return [r for r in delivered if isinstance(r, dict)]
    return []


def _error(status: int, code: str, path: str, retry_after: str = "") -> ApiError:
    """The kind of failure an answer is; only the code and status are kept (no bodies,
    which may echo what was sent)."""
    what = f"{path}: HTTP {status} {code}".strip()
    lowered = code.lower()
    if status == 429 or "qpslimit" in lowered or "flowcontrol" in lowered:
        try:
            wait = float(retry_after)
        except ValueError:
            wait = 1.0
        return RateLimited(what, retry_after=max(wait, 0.1))
    if status >= 500:
        return Transient(what)
    if status in (403, 404) and ("staff" in lowered or "user" in lowered):
        return Unreachable(what)
    return Refused(what)
