"""What the DingTalk transport needs to know, and nothing more (see ``bot/config.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field

DINGTALK_API_URL = "https://api.dingtalk.com"
"""The OpenAPI host; the Stream gateway's connection-open endpoint is served there too."""
DINGTALK_OAPI_URL = "https://oapi.dingtalk.com"
"""The older API host, where files are uploaded to be sent (``/media/upload``)."""


@dataclass(frozen=True)
class DingTalkConfig:
    """An enterprise-internal app's credentials and where its APIs are.

    The secret is left out of ``repr``, so a config that ends up in a log or a
    traceback does not give it away.  For such an app the robot's code is its
    client id (AppKey), which is what sending messages names.
    """

    client_id: str
    client_secret: str = field(repr=False)
    api_url: str = DINGTALK_API_URL
    gateway_url: str = DINGTALK_API_URL
    oapi_url: str = DINGTALK_OAPI_URL
    card_template_id: str = ""
    """A card template (卡片平台) with a ``text`` markdown variable and a ``buttons``
    loop whose presses call back with ``payload``; unset: buttons go as numbered
    lines under the text, to be answered by typing (see ``dingtalk.render``)."""
    locale: str = "zh-CN"
    send_rate: float = 15.0
    """Messages a second the outbox's sender sends.  DingTalk limits an app's calls of
    one API a second (commonly 20; it answers 429 or a ``QpsLimit`` code beyond, which
    the sender waits out) and a robot message names at most 20 people; 15 stays
    below.  With several processes give each its share."""
    send_lease: float = 60.0
    connect_timeout: float = 10.0
    """Seconds the connection-open request and the WebSocket handshake may take."""
    backoff: float = 1.0
    """First pause before reconnecting; it doubles up to ``backoff_cap``."""
    backoff_cap: float = 60.0

    @property
    def robot_code(self) -> str:
        return self.client_id
