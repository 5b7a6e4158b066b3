"""Configuration from the environment (prefix ``STUDIOBOT_``) and ``.env``."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config import TELEGRAM_API_URL, TelegramConfig
from dingtalk.config import DINGTALK_API_URL, DINGTALK_OAPI_URL, DingTalkConfig

USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")


class Settings(BaseSettings):
    """Everything the product reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="STUDIOBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = None
    bot_username: str | None = Field(
        default=None,
        description="the bot's Telegram username, for invitation links (else asked with getMe)",
    )
    telegram_api_url: str = TELEGRAM_API_URL
    database_url: str = "sqlite+aiosqlite:///./data/studiobot.db"
    timezone: str = "Asia/Shanghai"
    data_dir: Path = Path("./data")
    programs_dir: Path | None = Field(
        default=None, description="an extra folder of program definitions, beside the built-in ones"
    )
    locale: str = "zh-CN"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8080
    webhook_path: str = "/telegram/webhook"
    polling_timeout: int = 30
    send_rate: float = Field(default=25.0, gt=0, description="outbox messages a second")
    send_lease: float = Field(default=60.0, gt=0, description="seconds a sender holds a row")
    remind_hour: int = Field(default=9, ge=0, le=23, description="local hour reminders go at")
    quiet_from: int = Field(
        default=20, ge=1, le=24, description="local hour after which reminders wait for morning"
    )
    remind_every: float = Field(
        default=300.0, gt=0, description="seconds between two plannings of reminders"
    )
    dingtalk_client_id: str | None = Field(
        default=None, description="the DingTalk app's Client ID (AppKey), also its robot code"
    )
    dingtalk_client_secret: SecretStr | None = None
    dingtalk_api_url: str = DINGTALK_API_URL
    dingtalk_oapi_url: str = DINGTALK_OAPI_URL
    dingtalk_gateway_url: str = Field(
        default=DINGTALK_API_URL, description="where Stream connections are opened"
    )
    dingtalk_card_template_id: str = Field(
        default="", description="the card template buttons are sent in (else numbered lines)"
    )
    dingtalk_send_rate: float = Field(
        default=15.0, gt=0, description="outbox messages a second to DingTalk"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (for example Asia/Shanghai)") from exc
        return value

    @field_validator("bot_username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        """A Telegram username, written with or without its ``@``; empty means unset."""
        if value is None or not value.strip():
            return None
        name = value.strip().removeprefix("@")
        if not USERNAME_RE.match(name):
            raise ValueError(f"{value!r} is not a Telegram username (5-32 of A-Z a-z 0-9 _)")
        return name

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept plain URLs and pick the async driver the product uses."""
        if value.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value.split(":///", 1)[1]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite:///path/to/file.db or postgresql://user@host:5432/dbname")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    def telegram(self, *, webhook: bool = False) -> TelegramConfig:
        """What the Telegram transport needs; ``ValueError`` naming the variable to set
        when something it needs (the token; in webhook mode, URL and secret) is missing."""
        token = self.bot_token.get_secret_value() if self.bot_token else ""
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else None
        if not token:
            raise ValueError("STUDIOBOT_BOT_TOKEN is not set")
        if webhook and not self.webhook_url:
            raise ValueError("STUDIOBOT_WEBHOOK_URL is not set")
        if webhook and not secret:
            raise ValueError("STUDIOBOT_WEBHOOK_SECRET is required in webhook mode")
        return TelegramConfig(
            token=token,
            api_url=self.telegram_api_url,
            locale=self.locale,
            polling_timeout=self.polling_timeout,
            webhook_url=self.webhook_url,
            webhook_secret=secret,
            webhook_host=self.webhook_host,
            webhook_port=self.webhook_port,
            webhook_path=self.webhook_path,
            send_rate=self.send_rate,
            send_lease=self.send_lease,
        )

    @property
    def telegram_configured(self) -> bool:
        return self.bot_token is not None and bool(self.bot_token.get_secret_value())

    def dingtalk(self) -> DingTalkConfig | None:
        """What the DingTalk transport needs, or None when no DingTalk app is configured;
        ``ValueError`` naming the variable when only half of the credentials is set."""
        client_id = (self.dingtalk_client_id or "").strip()
        secret = (
            self.dingtalk_client_secret.get_secret_value() if self.dingtalk_client_secret else ""
        )
        if not client_id and not secret:
            return None
        if not client_id:
            raise ValueError("STUDIOBOT_DINGTALK_CLIENT_ID is not set")
        if not secret:
            raise ValueError("STUDIOBOT_DINGTALK_CLIENT_SECRET is not set")
        return DingTalkConfig(
            client_id=client_id,
            client_secret=secret,
            api_url=self.dingtalk_api_url,
            gateway_url=self.dingtalk_gateway_url,
            oapi_url=self.dingtalk_oapi_url,
            card_template_id=self.dingtalk_card_template_id,
            locale=self.locale,
            send_rate=self.dingtalk_send_rate,
            send_lease=self.send_lease,
        )
