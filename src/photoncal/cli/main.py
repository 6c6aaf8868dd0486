"""The ``photoncal`` command: the offline demo and the simulator."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``photoncal`` command; returns the exit status."""
    from photoncal import __version__
    from photoncal.cli import demo, simulate

    parser = argparse.ArgumentParser(prog="photoncal", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    parser.add_argument("--version", action="version", version=f"photoncal {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{demo,simulate}")
    demo.add_arguments(sub.add_parser("demo", help="simulate an observation and calibrate it, offline"))
    simulate.add_arguments(sub.add_parser("simulate", help="write simulated exposures and their truth"))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    command = {"demo": demo.run, "simulate": simulate.run}[args.command]
    try:
        return command(args)
    except KeyboardInterrupt:
        print("photoncal: interrupted", file=sys.stderr)
        return 1
    except Exception as exc:  # one clear line unless --debug
        if args.debug:
            raise
        print(f"photoncal {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
