"""``photoncal simulate``: write simulated JWST exposures with their truth, offline.

Examples::

    photoncal simulate --detector NRCA1 --subarray SUB160 --ngroups 5 -o out
    photoncal simulate --detector MIRIMAGE --readpatt FAST --ngroups 10 --nints 2 -o out
    photoncal simulate --dither 4 --detectors NRCA1,NRCA3 --subarray SUB640 -o out
    photoncal simulate --detector NIS --effects noiseless --without flat,ipc -o out
    photoncal simulate --references-only --detector NRCB2

Each exposure is written as ``jw..._uncal.fits`` beside its ``_truth.asdf``;
a dither set adds the truth catalog (ECSV) and image2/image3 associations.
The matching simulated reference files are written to the default
reference directory (``$PHOTONCAL_CACHE/references``) unless
``--reference-dir`` says otherwise.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``simulate`` options to ``parser`` and return it."""
    parser.description = parser.description or __doc__.split("\n", 1)[0]
    what = parser.add_argument_group("what to observe")
    what.add_argument("--instrument", help="NIRCAM, NIRISS, FGS or MIRI (default: the detector's)")
    what.add_argument("--detector", default="NRCA1",
                      help="DETECTOR: NRCA1-4, NRCALONG, NRCB1-4, NRCBLONG, NIS, GUIDER1, GUIDER2, "
                           "MIRIMAGE (default %(default)s)")
    what.add_argument("--detectors", help="comma-separated detectors read together (dither sets)")
    what.add_argument("--subarray", default="FULL", help="SUBARRAY (default %(default)s)")
    what.add_argument("--readpatt", help="READPATT (default the instrument's fastest)")
    what.add_argument("--ngroups", type=int, default=5, help="groups per integration (default %(default)s)")
    what.add_argument("--nints", type=int, default=1, help="integrations (default %(default)s)")
    what.add_argument("--filter", help="filter (default F200W, F444W, F150W or F770W)")
    what.add_argument("--ra", type=float, default=53.16, help="RA_REF in deg (default %(default)s)")
    what.add_argument("--dec", type=float, default=-27.79, help="DEC_REF in deg (default %(default)s)")
    what.add_argument("--roll", type=float, default=45.0, help="ROLL_REF in deg (default %(default)s)")
    what.add_argument("--stars", type=int, default=40, help="stars per detector (default %(default)s)")
    what.add_argument("--galaxies", type=int, default=40, help="galaxies per detector (default %(default)s)")

    how = parser.add_argument_group("signal chain")
    how.add_argument("--effects", default="all", choices=["all", "none", "noiseless"],
                     help="preset of the signal chain (default %(default)s)")
    how.add_argument("--without", default="",
                     help="comma-separated effects to turn off, e.g. ipc,cosmic_rays,nonlinearity")
    how.add_argument("--with", dest="with_", default="",
                     help="comma-separated effects to turn on over the preset")
    how.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")

    dith = parser.add_argument_group("dithered observation")
    dith.add_argument("--dither", type=int, default=0, metavar="N",
                      help="observe the field N times with dithers (writes a catalog and associations)")
    dith.add_argument("--dither-size", type=float, help="dither radius in arcsec (default 4%% of the field)")
    dith.add_argument("--pointing-error", type=float, default=0.05,
                      help="largest pointing error in arcsec (default %(default)s)")

    out = parser.add_argument_group("output")
    out.add_argument("-o", "--output-dir", default=".", help="output directory (default %(default)s)")
    out.add_argument("--program", type=int, default=1234, help="program number (default %(default)s)")
    out.add_argument("--observation", type=int, default=1, help="observation number (default %(default)s)")
    out.add_argument("--reference-dir", help="where the matching reference files go "
                                             "(default $PHOTONCAL_CACHE/references)")
    out.add_argument("--no-references", action="store_true", help="do not write reference files")
    out.add_argument("--references-only", action="store_true",
                     help="only write the reference set of the detector(s)")
    return parser


def _effects(args):
    from dataclasses import fields

    from photoncal.sim.effects import Effects

    effects = Effects.preset(args.effects)
    known = {f.name for f in fields(Effects) if f.name != "cosmic_ray_rate"}
    changes = {}
    for text, value in ((args.without, False), (args.with_, True)):
        for name in filter(None, (n.strip() for n in text.split(","))):
            if name not in known:
                raise ValueError(f"unknown effect {name!r}; expected some of {', '.join(sorted(known))}")
            changes[name] = value
    return Effects.coerce({**effects.to_dict(), **changes})


def run(args: argparse.Namespace) -> int:
    """Run ``photoncal simulate`` with parsed ``args``; return the exit code."""
    from photoncal import sim

    try:
        detectors = [d.strip() for d in args.detectors.split(",")] if args.detectors else [args.detector]
        if args.references_only:
            for det in detectors:
                paths = sim.ensure_reference_set(args.instrument, det, subarray=args.subarray,
                                                 readpatt=args.readpatt, ngroups=args.ngroups,
                                                 filters=[args.filter] if args.filter else None,
                                                 directory=args.reference_dir)
                for reftype, path in sorted(paths.items()):
                    for p in (path.values() if isinstance(path, dict) else [path]):
                        print(f"{reftype:12s} {p}")
            return 0
        effects = _effects(args)
        if args.dither or len(detectors) > 1:
            dataset = sim.simulate_dither_set(
                max(args.dither, 1), instrument=args.instrument, detectors=detectors,
                subarray=args.subarray, readpatt=args.readpatt, ngroups=args.ngroups,
                nints=args.nints, filter=args.filter, ra=args.ra, dec=args.dec, roll=args.roll,
                dither_size=args.dither_size, pointing_error=args.pointing_error, effects=effects,
                seed=args.seed, output_dir=args.output_dir, program=args.program,
                observation=args.observation, reference_dir=args.reference_dir,
                write_references=not args.no_references, n_stars=args.stars,
                n_galaxies=args.galaxies,
            )
            for path in dataset.exposures:
                print(path)
            print(dataset.catalog)
            print(dataset.image2_asn)
            print(dataset.image3_asn)
            return 0
        scene = sim.make_scene(args.ra, args.dec, radius=_field_radius(args), n_stars=args.stars,
                               n_galaxies=args.galaxies, seed=args.seed)
        path, _ = sim.simulate_exposure(
            args.instrument, detectors[0], args.subarray, args.readpatt, args.ngroups, args.nints,
            filter=args.filter, scene=scene, effects=effects, seed=args.seed,
            output_dir=args.output_dir, ra=args.ra, dec=args.dec, roll=args.roll,
            program=args.program, observation=args.observation, reference_dir=args.reference_dir,
            write_references=not args.no_references,
        )
        print(path)
        return 0
    except (ValueError, OSError) as err:
        print(f"photoncal simulate: error: {err}", file=sys.stderr)
        return 1


def _field_radius(args) -> float:
    from photoncal.sim.instruments import get_detector, get_subarray

    det = get_detector(args.detector, args.instrument)
    sub = get_subarray(det.instrument, args.subarray)
    return 0.75 * max(sub.xsize, sub.ysize) * det.pixel_scale


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m photoncal.cli.simulate``)."""
    parser = add_arguments(argparse.ArgumentParser(prog="photoncal simulate"))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
