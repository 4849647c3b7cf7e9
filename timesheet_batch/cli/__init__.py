"""The ``timesheet-batch`` command line."""
