"""Reports: aggregates of processed records per period, masked for a role.

``periods`` says which days a report covers, ``aggregate`` reads the processed Parquet files
of those days column by column, ``joblog`` adds the exceptions kept in ``batch_job_log``,
``content`` builds each report type, ``output`` writes CSV / JSON / XML, ``jobs`` records
report jobs (one per report type, role and period) and ``runner`` ties them together.
Nothing here imports Celery; ``timesheet_batch.report_tasks`` holds the thin tasks.
"""
