"""Reports: aggregates of processed records per period, masked for a role.

``periods`` says which days a report covers, ``aggregate`` reads the processed Parquet files
of those days column by column, ``joblog`` adds the exceptions kept in ``batch_job_log``,
``content`` builds each report type, ``output`` writes CSV / JSON / XML, ``jobs`` records
report jobs (one per report type, role and period), ``dependencies`` fires the reports that
depend on a finished job or batch, and ``tree`` shows what fired what. The report job kind
(``timesheet_batch.kinds.report``) ties them together; nothing here imports Celery.
"""
