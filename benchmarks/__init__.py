"""Benchmarks of timesheet_batch, run as ``python -m benchmarks CASE [options]``.

Each case is a module of this package with ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> dict``; :data:`benchmarks.__main__.CASES` lists them. Results are printed as a
table and, with ``--json PATH``, written as JSON (see :mod:`benchmarks.common`).
"""
