"""The ``photoncal`` command: the demo and the simulator."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``photoncal`` command."""
    parser = argparse.ArgumentParser(prog="photoncal", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("version", help="print the version")
    sub.add_parser("demo", help="simulate an observation and calibrate it, offline")
    from photoncal.cli import simulate

    simulate.add_arguments(sub.add_parser("simulate", help="write simulated exposures and their truth"))
    args = parser.parse_args(argv)
    from photoncal import __version__

    if args.command in (None, "version"):
        print(f"photoncal {__version__}")
        return 0
    if args.command == "simulate":
        return simulate.run(args)
    if args.command == "demo":
        print(f"photoncal {__version__}: the demo grows as the pipeline stages land.")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
