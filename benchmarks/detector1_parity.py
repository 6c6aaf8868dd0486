"""Parity of photoncal's calwebb_detector1 with the established pipeline (jwst).

Simulates exposures with :mod:`photoncal.sim` (every detector effect, cosmic
rays, saturating stars), runs photoncal's Detector1Pipeline and the
established one (jwst, in its own interpreter, offline, every reference file
given as an override - see ``_jwst_detector1_worker.py``) on the same
``_uncal`` file and reference files, and compares the ``_rate`` and
``_rateints`` products:

* SCI: fraction of pixels unflagged in both (DQ = 0) whose rates agree
  within 1e-3 relative (and within 1e-6 DN/s absolute, for rates near 0);
* DQ: fraction of pixels with identical DQ;
* ERR, VAR_POISSON, VAR_RNOISE: same criterion as SCI;
* NaN pattern: where each product has NaN SCI.

Usage::

    PYTHONPATH=src /work/venv/bin/python benchmarks/detector1_parity.py \\
        --jwst-python /work/jwstenv/bin/python [--workdir DIR] [--cases nircam,miri,nircam_full]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, os.fspath(Path(__file__).resolve().parent))

from _stage1_common import jwst_overrides, prepare_exposure, run_jwst, run_photoncal  # noqa: E402

CASES = {
    # name: simulate_exposure arguments
    "nircam": dict(detector="NRCA1", subarray="SUB320", readpatt="MEDIUM8", ngroups=10, nints=1, seed=3,
                   sky_offset=20.0),
    "nircam_rapid": dict(detector="NRCA1", subarray="SUB160", readpatt="RAPID", ngroups=10, nints=2, seed=4),
    "miri": dict(detector="MIRIMAGE", subarray="SUB128", readpatt="FAST", ngroups=20, nints=2, seed=5,
                 sky_offset=20.0),
    "nircam_full": dict(detector="NRCA1", subarray="FULL", readpatt="MEDIUM8", ngroups=10, nints=1, seed=1),
    "miri_full": dict(detector="MIRIMAGE", subarray="FULL", readpatt="FAST", ngroups=10, nints=2, seed=6),
}
RTOL = 1e-3
ATOL = 1e-6


def compare(ours_path, theirs_path):
    """Agreement statistics of two rate (or rateints) files."""
    from astropy.io import fits

    with fits.open(ours_path) as ours, fits.open(theirs_path) as theirs:
        dq_a, dq_b = ours["DQ"].data, theirs["DQ"].data
        stats = {"pixels": int(dq_a.size), "dq_equal": float(np.mean(dq_a == dq_b))}
        unflagged = (dq_a == 0) & (dq_b == 0)
        stats["unflagged"] = int(unflagged.sum())
        for ext in ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE"):
            a = ours[ext].data.astype(np.float64)
            b = theirs[ext].data.astype(np.float64)
            close = np.abs(a - b) <= np.maximum(RTOL * np.abs(b), ATOL)
            stats[f"{ext.lower()}_agree"] = float(np.mean(close[unflagged]))
            rel = np.abs(a - b)[unflagged] / np.maximum(np.abs(b[unflagged]), ATOL)
            stats[f"{ext.lower()}_max_rel"] = float(np.nanmax(rel)) if rel.size else 0.0
        nan_a, nan_b = np.isnan(ours["SCI"].data), np.isnan(theirs["SCI"].data)
        stats["nan_ours"], stats["nan_jwst"] = int(nan_a.sum()), int(nan_b.sum())
        stats["nan_both"] = int((nan_a & nan_b).sum())
        differing = dq_a != dq_b
        if differing.any():
            stats["dq_bits_only_ours"] = int(np.bitwise_or.reduce((dq_a & ~dq_b)[differing]))
            stats["dq_bits_only_jwst"] = int(np.bitwise_or.reduce((dq_b & ~dq_a)[differing]))
    return stats


def run_case(name, arguments, workdir, jwst_python):
    uncal, refdir = prepare_exposure(workdir, **arguments)
    base = os.path.basename(uncal).replace("_uncal.fits", "")
    ours_dir = Path(workdir) / f"{name}_photoncal"
    theirs_dir = Path(workdir) / f"{name}_jwst"
    # jwst 3.0 skips persistence by default; its first-exposure correction is zero anyway
    run_photoncal(uncal, ours_dir, refdir, steps={"persistence": {"skip": True}})
    run_jwst(jwst_python, uncal, theirs_dir, jwst_overrides(uncal, refdir))
    results = {}
    for product in ("rate", "rateints"):
        results[product] = compare(ours_dir / f"{base}_{product}.fits", theirs_dir / f"{base}_{product}.fits")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jwst-python", required=True, help="python interpreter with jwst installed")
    parser.add_argument("--workdir", default=None, help="directory for exposures and products (default: temporary)")
    parser.add_argument("--cases", default="nircam,nircam_rapid,miri", help=f"comma-separated, from {list(CASES)}")
    parser.add_argument("--json", action="store_true", help="print the statistics as JSON")
    args = parser.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix="photoncal_parity_")
    summary = {}
    for name in args.cases.split(","):
        summary[name] = run_case(name, CASES[name], workdir, args.jwst_python)
    if args.json:
        print(json.dumps(summary, indent=1))
        return summary
    for name, results in summary.items():
        for product, s in results.items():
            print(f"{name:14s} {product:9s} SCI within 1e-3: {100 * s['sci_agree']:8.4f} % of {s['unflagged']} unflagged"
                  f" | DQ equal: {100 * s['dq_equal']:8.4f} % | ERR {100 * s['err_agree']:7.3f} %"
                  f" VAR_P {100 * s['var_poisson_agree']:7.3f} % VAR_R {100 * s['var_rnoise_agree']:7.3f} %"
                  f" | max rel SCI {s['sci_max_rel']:.2e} | NaN ours/jwst/both {s['nan_ours']}/{s['nan_jwst']}/{s['nan_both']}")
    return summary


if __name__ == "__main__":
    main()
