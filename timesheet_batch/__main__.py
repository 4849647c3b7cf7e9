"""``python -m timesheet_batch`` is ``timesheet-batch``."""

import sys

from timesheet_batch.cli.main import main

sys.exit(main())
