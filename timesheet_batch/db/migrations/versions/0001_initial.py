"""Initial schema: batches, batch_job_log (seed columns + ours), batch_job_summary view.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")

# The seed's view, column for column; `pending` counts QUEUED jobs (the seed said PENDING),
# and the columns after total_records are ours.
SUMMARY_VIEW = """
CREATE VIEW batch_job_summary AS
SELECT
    DATE(submitted_at) AS batch_date,
    correlation_id,
    report_type,
    COUNT(*) AS total_jobs,
    COUNT(CASE WHEN status = 'COMPLETED' THEN 1 END) AS completed,
    COUNT(CASE WHEN status = 'FAILED' THEN 1 END) AS failed,
    COUNT(CASE WHEN status = 'PROCESSING' THEN 1 END) AS processing,
    COUNT(CASE WHEN status IN ('QUEUED', 'PENDING') THEN 1 END) AS pending,
    AVG(processing_time_ms) AS avg_processing_time_ms,
    SUM(records_processed) AS total_records,
    COUNT(CASE WHEN status = 'RETRYING' THEN 1 END) AS retrying,
    COUNT(CASE WHEN status = 'DEAD' THEN 1 END) AS dead,
    COUNT(CASE WHEN status = 'CANCELLED' THEN 1 END) AS cancelled
FROM batch_job_log
GROUP BY DATE(submitted_at), correlation_id, report_type
ORDER BY batch_date DESC, correlation_id
"""


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("correlation_id", sa.String(50), nullable=False),
        sa.Column("window", sa.String(20), nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total_files", sa.Integer, nullable=False, server_default="0"),
        sa.Column("files_completed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("files_failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("files_dead", sa.Integer, nullable=False, server_default="0"),
        sa.Column("files_cancelled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("records_read", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("records_written", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("records_rejected", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("dispatch_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("duration_ms", sa.BigInteger),
        sa.Column("summary_key", sa.String(500)),
        sa.Column("summarized_at", sa.DateTime),
        sa.UniqueConstraint("window", "business_date", name="uq_batches_window_date"),
    )
    op.create_index("ix_batches_correlation_id", "batches", ["correlation_id"])
    op.create_table(
        "batch_job_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(50), nullable=False, unique=True),
        sa.Column("correlation_id", sa.String(50)),
        sa.Column("report_type", sa.String(50), nullable=False),
        sa.Column("role", sa.String(50)),
        sa.Column("target_system", sa.String(50)),
        sa.Column("data_format", sa.String(20)),
        sa.Column("input_file_path", sa.String(500)),
        sa.Column("output_file_path", sa.String(500)),
        sa.Column("status", sa.String(20), nullable=False, server_default="QUEUED"),
        sa.Column("error_message", sa.Text),
        sa.Column("retry_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("submitted_at", sa.DateTime),
        sa.Column("started_at", sa.DateTime),
        sa.Column("completed_at", sa.DateTime),
        sa.Column("records_processed", sa.BigInteger),
        sa.Column("processing_time_ms", sa.BigInteger),
        sa.Column("worker_id", sa.String(100)),
        sa.Column("created_at", sa.DateTime, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime, nullable=False, server_default=sa.func.now()),
        sa.Column("batch_id", sa.String(36), sa.ForeignKey("batches.id")),
        sa.Column("vendor_id", sa.String(64)),
        sa.Column("priority", sa.String(10)),
        sa.Column("business_date", sa.Date),
        sa.Column("records_read", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("records_rejected", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("chunks_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejects_file_path", sa.String(500)),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.UniqueConstraint("batch_id", "input_file_path", name="uq_batch_job_log_batch_input"),
    )
    op.create_index("idx_batch_job_log_status", "batch_job_log", ["status"])
    op.create_index("idx_batch_job_log_correlation", "batch_job_log", ["correlation_id"])
    op.create_index("idx_batch_job_log_submitted", "batch_job_log", ["submitted_at"])
    op.create_index("idx_batch_job_log_report_type", "batch_job_log", ["report_type"])
    op.create_index("idx_batch_job_log_batch", "batch_job_log", ["batch_id", "status"])
    op.execute(SUMMARY_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS batch_job_summary")
    op.drop_table("batch_job_log")
    op.drop_table("batches")
