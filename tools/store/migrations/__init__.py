"""Alembic migrations of the store. `Store.migrate()` runs them; no alembic.ini is needed."""
