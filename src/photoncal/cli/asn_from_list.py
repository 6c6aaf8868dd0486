"""``asn_from_list``: make a level 2 or level 3 association from a list of files."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from photoncal.associations._logging import command_logging

DESCRIPTION = """Create an association from a list of files.

Level 3 (default rule DMS_Level3_Base): one product named by --product-name,
every file a science member. Level 2 (-r DMSLevel2bBase): one product per
file. Member names are written relative to the association file."""


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of ``asn_from_list``."""
    from photoncal import __version__

    parser = argparse.ArgumentParser(
        prog="asn_from_list",
        description=DESCRIPTION,
        usage="asn_from_list -o mosaic_asn.json --product-name my_mosaic *.fits",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-o", "--output-file", required=True, type=Path, help="association file to write"
    )
    parser.add_argument(
        "-f", "--format", default="json", choices=["json", "yaml"],
        help='association format (default: "%(default)s")',
    )
    parser.add_argument(
        "--product-name", help="product name (required for level 3 associations)"
    )
    parser.add_argument(
        "-r", "--rule", default="DMS_Level3_Base",
        help='rule the association is built on: DMS_Level3_Base, DMSLevel2bBase, or a rule '
        'of the rule files (default: "%(default)s")',
    )
    parser.add_argument(
        "--ruledefs", action="append", metavar="RULEFILE",
        help="rule file (YAML/JSON) to look the rule up in; repeatable",
    )
    parser.add_argument(
        "-i", "--id", dest="acid", default=None,
        help="association candidate id (level 2 default: o999; level 3 default: a3001)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("filelist", nargs="+", help="files to put in the association")
    return parser


def run(parsed) -> int:
    """Build and write the association of a parsed command line."""
    from photoncal.associations import AssociationRegistry, asn_from_list
    from photoncal.associations.main import write_text_atomic

    registry = AssociationRegistry(parsed.ruledefs, include_default=True, include_bases=True)
    rule = registry.get(parsed.rule)
    if rule is None:
        from photoncal.associations import AssociationError

        raise AssociationError(
            f"unknown rule {parsed.rule!r}; expected one of {', '.join(sorted(registry))}"
        )
    output = parsed.output_file
    if rule.schema_level == 3 and not parsed.product_name:
        from photoncal.associations import AssociationError

        raise AssociationError(
            f"{parsed.rule} makes a level 3 association, which needs --product-name"
        )
    asn = asn_from_list(
        parsed.filelist,
        rule=rule,
        asn_dir=output.parent,
        product_name=parsed.product_name,
        acid=parsed.acid,
    )
    _, text = asn.dump(format=parsed.format)
    write_text_atomic(output, text)
    n_members = sum(len(product["members"]) for product in asn["products"])
    print(f"asn_from_list: wrote {output} ({len(asn['products'])} products, {n_members} members)")
    return 0


def main(argv=None) -> int:
    """Entry point of ``asn_from_list``; returns the exit status."""
    parser = build_parser()
    try:
        parsed = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    from photoncal.associations import AssociationError

    with command_logging(logging.WARNING):
        try:
            return run(parsed)
        except (AssociationError, OSError) as error:
            print(f"asn_from_list: error: {error}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
