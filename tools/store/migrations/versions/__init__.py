"""Alembic revisions, oldest first. Never edit a revision that has shipped; add a new one."""
