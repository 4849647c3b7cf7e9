"""Reports and dependencies: report_runs (one job per report type, role, period), job_dependencies.

Revision ID: 0003_reports_dependencies
Revises: 0002_reliability
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_reports_dependencies"
down_revision = "0002_reliability"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_runs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(50), nullable=False, unique=True),
        sa.Column("report_type", sa.String(50), nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("period_key", sa.String(30), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("parent_job_id", sa.String(50)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("report_type", "role", "period_key", name="uq_report_runs_type_role_period"),
    )
    op.create_index("idx_report_runs_parent", "report_runs", ["parent_job_id"])
    op.create_table(
        "job_dependencies",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("rule_name", sa.String(100), nullable=False),
        sa.Column("trigger_key", sa.String(200), nullable=False),
        sa.Column("parent_job_id", sa.String(50), nullable=False),
        sa.Column("parent_type", sa.String(50), nullable=False),
        sa.Column("parent_job_ids", sa.Text, nullable=False),
        sa.Column("dependent_type", sa.String(50), nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("period_key", sa.String(30), nullable=False),
        sa.Column("condition", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("dependent_job_id", sa.String(50)),
        sa.Column("error_message", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("trigger_key", "dependent_type", "role", "period_key", name="uq_job_dependencies_once"),
    )
    op.create_index("idx_job_dependencies_parent", "job_dependencies", ["parent_job_id"])
    op.create_index("idx_job_dependencies_dependent", "job_dependencies", ["dependent_job_id"])


def downgrade() -> None:
    op.drop_index("idx_job_dependencies_dependent", "job_dependencies")
    op.drop_index("idx_job_dependencies_parent", "job_dependencies")
    op.drop_table("job_dependencies")
    op.drop_index("idx_report_runs_parent", "report_runs")
    op.drop_table("report_runs")
