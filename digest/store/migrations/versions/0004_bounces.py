"""bounce intake: bounce events kept for audit, a bounce score and a suppression reason per subscriber

Revision ID: 0004_bounces
Revises: 0003_confirm_nonce
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)

revision: str = "0004_bounces"
down_revision: str | Sequence[str] | None = "0003_confirm_nonce"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bounce_score", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("bounce_at", WHEN, nullable=True))
        batch_op.add_column(sa.Column("bounce_day_score", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("suppressed_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("suppressed_at", WHEN, nullable=True))
    op.create_table(
        "bounce_events",
        sa.Column("id", ID, primary_key=True, autoincrement=True, nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("subscriber_id", ID, sa.ForeignKey("subscribers.id", ondelete="SET NULL"), nullable=True),
        sa.Column("issue_id", ID, sa.ForeignKey("issues.id", ondelete="SET NULL"), nullable=True),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("mailbox_key", sa.String(length=300), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
    )
    op.create_index("ix_bounce_events_received", "bounce_events", ["received_at"])
    op.create_index("ix_bounce_events_subscriber", "bounce_events", ["subscriber_id"])
    op.create_index("ix_bounce_events_issue", "bounce_events", ["issue_id"])
    op.create_index("ix_bounce_events_mailbox_key", "bounce_events", ["source", "mailbox_key"])
    # addresses suppressed before this revision were suppressed by SMTP refusals
    op.execute("UPDATE subscribers SET suppressed_reason = 'hard bounces at SMTP time (before bounce scoring)' "
               "WHERE status = 'suppressed'")


def downgrade() -> None:
    op.drop_table("bounce_events")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        for name in ("suppressed_at", "suppressed_reason", "bounce_day_score", "bounce_at", "bounce_score"):
            batch_op.drop_column(name)
