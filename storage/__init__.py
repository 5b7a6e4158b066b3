"""Persistence of studiobot: models, engines, data access, migrations and the file store."""
