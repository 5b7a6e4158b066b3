"""What the Telegram transport needs to know, and nothing more.

The product's settings (database, data folder, programs, time zone) are not the
transport's business: whoever wires the product together (the ``studiobot``
command) builds the conversation and hands it over with this small config.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TELEGRAM_API_URL = "https://api.telegram.org"


@dataclass(frozen=True)
class TelegramConfig:
    """How to reach the Bot API and how to receive updates from it.

    The token and the webhook secret are left out of ``repr``, so a config
    that ends up in a log or a traceback does not give them away.
    """

    token: str = field(repr=False)
    api_url: str = TELEGRAM_API_URL
    locale: str = "zh-CN"
    """The language of the bot's own texts (errors, the default command menu)."""
    polling_timeout: int = 30
    webhook_url: str | None = None
    """The public URL Telegram posts to; ``webhook_path`` is appended unless it ends with it."""
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8080
    webhook_path: str = "/telegram/webhook"
    send_rate: float = 25.0
    """Messages a second the outbox's sender sends, all chats together (Telegram
    allows about 30; with several processes give each its share)."""
    send_lease: float = 60.0
    """Seconds a row held by a sender is kept from the others: after a crash, rows it
    held are taken up (or, caught mid-send, given up) once this has passed."""

    def webhook_target(self) -> str:
        """The public URL Telegram posts to: ``webhook_url``, with ``webhook_path``
        appended unless it already ends with it."""
        if not self.webhook_url:
            raise ValueError("the webhook URL is not set")
        url = self.webhook_url.rstrip("/")
        return url if url.endswith(self.webhook_path) else url + self.webhook_path

    def required_secret(self) -> str:
        """The webhook's ``secret_token``: required, or anyone who finds the URL could
        post updates in any user's name."""
        if not self.webhook_secret:
            raise ValueError("the webhook secret is required in webhook mode")
        return self.webhook_secret
