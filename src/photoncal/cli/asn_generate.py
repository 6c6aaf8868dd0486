"""``asn_generate``: generate the level 2 and level 3 associations of a pool."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from photoncal.associations._logging import command_logging

DESCRIPTION = """Generate association files from an association pool.

The default rules (level 2 and level 3, imaging) are used unless
--ignore-default; -r adds rule files, which are YAML or JSON (see
docs/associations.md). By default every candidate in the pool's ASN_CANDIDATE
column is generated, and so are the discovered (a3NNN) associations that
repeat no candidate association."""


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of ``asn_generate``."""
    from photoncal import __version__

    parser = argparse.ArgumentParser(
        prog="asn_generate",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("pool", help="association pool file ('|'-separated table)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "-i", "--ids", nargs="+", dest="asn_candidate_ids", metavar="ID",
        help="only these association candidates (e.g. o001 c1000)",
    )
    mode.add_argument("--discover", action="store_true", help="only discovered associations")
    mode.add_argument(
        "--all-candidates", action="store_true", dest="all_candidates",
        help="only candidate associations",
    )
    parser.add_argument(
        "-p", "--path", type=Path, default=Path("."),
        help='directory to write the associations to (default: "%(default)s")',
    )
    parser.add_argument(
        "--save-orphans", dest="save_orphans", nargs="?", const="orphaned.csv", default=None,
        metavar="FILE", help="write the exposures in no association to this pool file "
        "(default name: orphaned.csv, in --path)",
    )
    parser.add_argument(
        "--version-id", dest="version_id", nargs="?", const=True, default=None,
        help="version tag in association names; without a value, the current time "
        "(yyyymmddthhmmss); with --DMS the current time is the default",
    )
    parser.add_argument(
        "-r", "--rules", action="append", metavar="RULEFILE",
        help="rule file (YAML/JSON) or rule-set name (level2, level3); repeatable",
    )
    parser.add_argument(
        "--ignore-default", action="store_true", help="do not use the default rules (give -r)"
    )
    parser.add_argument("--dry-run", action="store_true", help="generate but write nothing")
    parser.add_argument(
        "-d", "--delimiter", default="|", help='pool column separator (default: "%(default)s")'
    )
    parser.add_argument(
        "--pool-format", default="ascii.basic",
        help='astropy table format of the pool (default: "%(default)s")',
    )
    parser.add_argument(
        "-v", "--verbose", action="store_const", dest="loglevel", const=logging.INFO,
        default=logging.WARNING, help="report progress",
    )
    parser.add_argument(
        "-D", "--debug", action="store_const", dest="loglevel", const=logging.DEBUG,
        help="report details of the matching",
    )
    parser.add_argument(
        "--DMS", action="store_true", dest="DMS_enabled",
        help="DMS workflow: timestamped names and log lines; with -i, also the background "
        "candidates of those exposures",
    )
    parser.add_argument(
        "--format", default="json", choices=["json", "yaml"],
        help='association file format (default: "%(default)s")',
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--no-finalize", action="store_true",
        help="keep every association made, complete or not (for debugging rules)",
    )
    parser.add_argument(
        "--merge", action="store_true",
        help="merge level 2 associations of one candidate and type into one file",
    )
    parser.add_argument(
        "--per-pool-algorithm", action="store_true",
        help="one pass over the whole pool, candidates separated by list expansion",
    )
    return parser


def run(parsed) -> int:
    """Generate (and write) the associations of a parsed command line."""
    from photoncal.associations import (
        AssociationPool,
        AssociationRegistry,
        candidate_constraint,
        generate,
        generate_associations,
        make_timestamp,
        save_associations,
    )
    from photoncal.associations.generator import orphaned_items

    version_id = parsed.version_id
    if version_id is None and parsed.DMS_enabled:
        version_id = make_timestamp()
    elif version_id is True:
        version_id = make_timestamp()

    pool = AssociationPool.read(parsed.pool, delimiter=parsed.delimiter, format=parsed.pool_format)
    if parsed.per_pool_algorithm:
        rules = AssociationRegistry(
            parsed.rules,
            include_default=not parsed.ignore_default,
            global_constraints=candidate_constraint(parsed.asn_candidate_ids),
            name="candidate",
        )
        if parsed.discover or not (parsed.all_candidates or parsed.asn_candidate_ids):
            rules.update(
                AssociationRegistry(
                    parsed.rules, include_default=not parsed.ignore_default, name="discover"
                )
            )
        associations, orphans = generate(
            pool, rules, version_id=version_id, finalize=not parsed.no_finalize
        )
        if parsed.discover:
            associations = [asn for asn in associations if asn.ruleset == "discover"]
            orphans = orphaned_items(pool, associations)
    else:
        associations, orphans = generate_associations(
            pool,
            rule_defs=parsed.rules,
            candidate_ids=parsed.asn_candidate_ids,
            all_candidates=parsed.all_candidates,
            discover=parsed.discover,
            version_id=version_id,
            ignore_default=parsed.ignore_default,
            finalize_asns=not parsed.no_finalize,
            merge=parsed.merge,
            dms_enabled=parsed.DMS_enabled,
        )

    if parsed.dry_run:
        extension = ".json" if parsed.format == "json" else ".yaml"
        for asn in associations:
            print(f"would write {parsed.path / (asn.asn_name + extension)}")
    else:
        if not parsed.path.is_dir():
            parsed.path.mkdir(parents=True, exist_ok=True)
        written_files = save_associations(
            associations, parsed.path, format=parsed.format, skip_invalid=parsed.no_finalize
        )
        for written in written_files:
            print(f"wrote {written}")
        if parsed.save_orphans:
            orphans.write(parsed.path / parsed.save_orphans)
    print(
        f"asn_generate: {len(associations)} associations, {len(orphans)} orphaned exposures"
        + (f": {', '.join(orphans['filename'])}" if 0 < len(orphans) <= 10 else "")
    )
    return 0


def main(argv=None) -> int:
    """Entry point of ``asn_generate``; returns the exit status."""
    parser = build_parser()
    try:
        parsed = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, usage errors
        return int(stop.code or 0)
    from photoncal.associations import AssociationError

    with command_logging(parsed.loglevel, dms=parsed.DMS_enabled):
        try:
            return run(parsed)
        except (AssociationError, OSError) as error:
            if parsed.loglevel <= logging.DEBUG:
                raise
            print(f"asn_generate: error: {error}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
