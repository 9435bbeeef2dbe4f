"""feeds: where each came from (the feeds file or a command), its category, and its entry rules

``origin`` makes the feeds file the source of truth for the feeds it lists: a feed with origin
"file" that the file no longer lists stops being polled, while feeds added by command stay.
Rows from before this revision get "" (not known): the next sync with the feeds file marks
those the file lists as "file" and the others as "command", so nothing that was polled stops.
``category`` is the folder of an imported OPML list (or the file's ``category``); ``rules`` holds
the file's ``drop`` and ``keep`` rules, applied at poll.

Revision ID: 0005_feed_origin
Revises: 0004_bounces
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_feed_origin"
down_revision: str | Sequence[str] | None = "0004_bounces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=10), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("category", sa.String(length=300), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("rules", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("rules")
        batch_op.drop_column("category")
        batch_op.drop_column("origin")
