"""Telegram transport for the dialog engine (aiogram 3).

This package only translates: Telegram updates become transport-neutral
events (:mod:`dialogs.ui`), the engine's replies become messages with inline
keyboards.  No dialog logic lives here, so the same engine can serve other
channels.

It is handed what it serves: ``studiobot`` (the command) builds the
conversation and a :class:`bot.config.TelegramConfig` and calls
:func:`bot.app.run_polling` or :func:`bot.app.run_webhook`.  Nothing here
imports ``studiobot``.
"""
