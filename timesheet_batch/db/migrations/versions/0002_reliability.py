"""Reliability: leases, attempts, fingerprints, dispatch times, error history, dead letters.

Revision ID: 0002_reliability
Revises: 0001_initial
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_reliability"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("batch_job_log") as table:
        table.add_column(sa.Column("lease_expires_at", sa.DateTime))
        table.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        table.add_column(sa.Column("content_fingerprint", sa.String(100)))
        table.add_column(sa.Column("dispatched_at", sa.DateTime))
    op.create_index("idx_batch_job_log_lease", "batch_job_log", ["status", "lease_expires_at"])
    op.create_table(
        "job_errors",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(50), nullable=False, index=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("error_message", sa.Text, nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_errors")
    op.drop_index("idx_batch_job_log_lease", "batch_job_log")
    with op.batch_alter_table("batch_job_log") as table:
        for name in ("dispatched_at", "content_fingerprint", "attempts", "lease_expires_at"):
            table.drop_column(name)
