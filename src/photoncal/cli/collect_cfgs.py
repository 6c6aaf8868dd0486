"""``collect_pipeline_cfgs <dir>``: write a cfg file for every registered
step and pipeline (``calwebb_detector1.cfg``, ``dq_init.cfg``, ...)."""

from __future__ import annotations

import argparse
import os
import sys


def collect_pipeline_cfgs(directory) -> list[str]:
    """Write the cfg files into ``directory`` (created if needed); returns
    their paths.  Each holds ``name`` and ``class`` and, for configurations
    such as calwebb_tso1, the parameters that make them differ."""
    from photoncal.stpipe import registry
    from photoncal.stpipe.config_file import write_config_file

    os.makedirs(directory, exist_ok=True)
    written = []
    for entry in registry.entries():
        name = entry.cfg_name.rsplit(".", 1)[0]
        values = {"name": name, "class": entry.dotted_name}
        for key, value in entry.cfg_values.items():
            values[key] = {k: dict(v) if hasattr(v, "items") else v for k, v in value.items()} \
                if hasattr(value, "items") else value
        path = os.path.join(directory, entry.cfg_name)
        write_config_file(path, values, header=f"{entry.cfg_name}: written by photoncal collect_pipeline_cfgs")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``collect_pipeline_cfgs``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="collect_pipeline_cfgs",
        description="Write a cfg file for every photoncal step and pipeline into a directory.",
    )
    parser.add_argument("directory", help="destination directory ('.' for the current one)")
    args = parser.parse_args(argv)
    try:
        written = collect_pipeline_cfgs(args.directory)
    except OSError as err:
        print(f"collect_pipeline_cfgs: error: {err}", file=sys.stderr)
        return 1
    print(f"collect_pipeline_cfgs: wrote {len(written)} cfg files to {os.path.abspath(args.directory)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
