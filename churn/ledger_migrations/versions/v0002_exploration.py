"""Record why each customer is in a campaign, its exploration, and the other policy.

``contacts.selected_by`` is ``risk`` (above the threshold), ``uplift`` or
``hybrid`` (an uplift model chose them) or ``exploration`` (drawn at random
beside them); rows written before are the risk rule's.
``campaigns.exploration_share`` is the share drawn (0 before);
``campaigns.risk_policy_profit`` and ``uplift_policy_profit`` are what each
targeting policy would have earned on the campaign's experiment, once measured.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(
            sa.Column("selected_by", sa.String(16), nullable=False, server_default="risk")
        )
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column("exploration_share", sa.Float(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("risk_policy_profit", sa.Float(), nullable=True))
        batch.add_column(sa.Column("uplift_policy_profit", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("selected_by")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("uplift_policy_profit")
        batch.drop_column("risk_policy_profit")
        batch.drop_column("exploration_share")
