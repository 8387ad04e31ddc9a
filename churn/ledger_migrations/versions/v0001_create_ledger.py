"""Create the campaign ledger: campaigns and their contacts.

A migration is history: it spells its tables out rather than importing
``churn.ledger``'s, which will move on. ``tests/churn/test_ledger.py`` checks
that the migrated schema equals the tables the code uses.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("campaign_id", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.Column("window_end", sa.DateTime(), nullable=False),
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("policy", sa.String(256), nullable=False),
        sa.Column("control_share", sa.Float(), nullable=False),
        sa.Column("configured_control_share", sa.Float(), nullable=False),
        sa.Column("cooldown_days", sa.Integer(), nullable=False),
        sa.Column("max_contacts", sa.Integer(), nullable=True),
        sa.Column("cost_per_contact", sa.Float(), nullable=False),
        sa.Column("n_scored", sa.Integer(), nullable=False),
        sa.Column("n_flagged", sa.Integer(), nullable=False),
        sa.Column("expected_net_benefit", sa.Float(), nullable=False),
        sa.Column("budget_left_out_value", sa.Float(), nullable=False),
        sa.Column("mlflow_run_id", sa.String(64), nullable=True),
        sa.Column("compute_seconds", sa.Float(), nullable=True),
        sa.Column("measured_at", sa.DateTime(), nullable=True),
        sa.Column("realized_net_benefit", sa.Float(), nullable=True),
        sa.Column("realized_net_benefit_low", sa.Float(), nullable=True),
        sa.Column("realized_net_benefit_high", sa.Float(), nullable=True),
        sa.Column("realized_roi_pct", sa.Float(), nullable=True),
        sa.Column("realized_roi_pct_low", sa.Float(), nullable=True),
        sa.Column("realized_roi_pct_high", sa.Float(), nullable=True),
        sa.Column("realized_full_cost_roi_pct", sa.Float(), nullable=True),
    )
    op.create_table(
        "contacts",
        sa.Column(
            "campaign_id", sa.String(128), sa.ForeignKey("campaigns.campaign_id"), primary_key=True
        ),
        sa.Column("customer_id", sa.String(256), primary_key=True),
        sa.Column("grp", sa.String(16), nullable=False),
        sa.Column("skip_reason", sa.String(16), nullable=True),
        sa.Column("churn_probability", sa.Float(), nullable=False),
        sa.Column("customer_value", sa.Float(), nullable=False),
        sa.Column("expected_value", sa.Float(), nullable=False),
        sa.Column("contacted_at", sa.DateTime(), nullable=False),
        sa.Column("window_end", sa.DateTime(), nullable=False),
        sa.Column("churned", sa.SmallInteger(), nullable=True),
        sa.Column("observed_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_contacts_customer", "contacts", ["customer_id"])
    op.create_index("ix_contacts_group_window", "contacts", ["grp", "window_end"])


def downgrade() -> None:
    op.drop_table("contacts")
    op.drop_table("campaigns")
