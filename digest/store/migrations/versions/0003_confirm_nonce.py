"""a nonce of its own for confirm links, rotated on unsubscribe and on a new sign-up

Confirm links were signed with ``token_nonce``, which unsubscribe and preference links share and
which never changes, so a confirm link from before an unsubscribe still confirmed the address after
a new sign-up. Existing rows start with their ``token_nonce``, so links already mailed keep working.

Revision ID: 0003_confirm_nonce
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_confirm_nonce"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirm_nonce", sa.String(length=64), nullable=False, server_default=""))
    op.execute("UPDATE subscribers SET confirm_nonce = token_nonce")


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("confirm_nonce")
