"""The review side of the product: organisations, the staff who act for them,
invitations and the audit log.

It imports nothing of a transport (aiogram) nor of the wiring (``studiobot``):
the conversation's flows and the CLI call it with a session whose transaction
they own.
"""
