"""Alembic migrations of the campaign ledger (run by ``churn.ledger.Ledger.open``)."""
