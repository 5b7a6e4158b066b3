"""The conversation's flows, one module per role or concern.

``menus`` answers commands and the menus around a declaration; ``applicant``
walks a team leader through the form; ``uploads`` takes photos and files.
Each exposes one small function per event, taking a :class:`~dialogs.turn.Turn`;
``dialogs.service`` picks the function and owns the transaction.
"""
