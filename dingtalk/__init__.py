"""The DingTalk (钉钉) channel: an enterprise-internal app's robot, in Stream mode.

Like ``bot/`` for Telegram, this package is one transport of the channel-neutral
dialogs: it is handed a conversation and a :class:`~dingtalk.config.DingTalkConfig`
and never imports the wiring (``studiobot``), Telegram or aiogram.
"""
