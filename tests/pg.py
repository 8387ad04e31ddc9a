"""PostgreSQL for tests: a fresh database per use on the machine's server, dropped after.

The server is the one this project's machines and CI run on 127.0.0.1:5432 (trust
authentication, user ``postgres``, maintenance database ``test``);
``CHURN_TEST_POSTGRES_URL`` points elsewhere. Tests that need it carry the
``postgres`` mark: where no server answers they fail with a message that says so
(never skip silently); a developer without one deselects them with
``-m "not postgres"``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

ADMIN_URL = os.environ.get(
    "CHURN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _admin_engine():  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


@contextmanager
def fresh_database(prefix: str = "churn_test") -> Iterator[str]:
    """Create an empty database, yield its SQLAlchemy URL, drop it after."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        engine.dispose()
        pytest.fail(
            f"PostgreSQL at {make_url(ADMIN_URL).render_as_string(hide_password=True)} does not "
            f"answer ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). These tests "
            "need it: start the server, set CHURN_TEST_POSTGRES_URL, or deselect them locally "
            'with -m "not postgres".',
            pytrace=False,
        )
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
