"""Alembic environment and revisions of the studiobot schema (run via storage.migrate)."""
