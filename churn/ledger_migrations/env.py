"""Alembic's environment for the campaign ledger: runs on the connection the ledger passes."""

from __future__ import annotations

from alembic import context


def run_migrations() -> None:
    """Apply the migrations inside the ledger's own transaction (it holds the write lock)."""
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


# Alembic runs this file as a script; imported elsewhere (doctests) it does nothing.
if hasattr(context, "config"):
    run_migrations()
