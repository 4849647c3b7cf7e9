"""``python -m benchmarks CASE [options]``: run one case (pipeline, memory, memory-growth, seed, volume, scaling,
priority, soak)."""

from __future__ import annotations

import argparse
import sys

from benchmarks import common, memory, memory_growth, pipeline, priority, scaling, seed, soak, volume

#: The cases, by subcommand name; add a module with the same four names to add one.
CASES = {case.NAME: case for case in (pipeline, memory, memory_growth, seed, volume, scaling, priority, soak)}


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the case, print its table and write its JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = parser.add_subparsers(dest="case", required=True)
    for name, case in CASES.items():
        case_parser = sub.add_parser(name, help=case.HELP, description=case.HELP)
        case.add_arguments(case_parser)
        case_parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    result = CASES[args.case].run(args)
    if args.json:
        common.write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
