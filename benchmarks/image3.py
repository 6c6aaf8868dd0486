"""calwebb_image3 speed and peak memory, beside the established pipeline on the same inputs.

    PYTHONPATH=src python benchmarks/image3.py                       # 4 full-frame NIRCam exposures
    PYTHONPATH=src python benchmarks/image3.py --jwst-python /work/jwstenv/bin/python
    PYTHONPATH=src python benchmarks/image3.py --scaling 4,8,16      # peak memory vs number of exposures
    PYTHONPATH=src python benchmarks/image3.py --subarray SUB640 -n 4 --in-memory
    PYTHONPATH=src python benchmarks/image3.py --accuracy            # the issue's accuracy checks

``--accuracy`` runs photoncal's calwebb_image3 once on the set (pointing errors up to
``--pointing-error``, default 0.5", aligned to the truth catalog as it would be to Gaia unless
``--relative-only``) and compares every product with the simulated truth: astrometric offsets of
each exposure, recovered sky offsets, outlier flags against the injected cosmic rays, and the
catalog's completeness, positions and fluxes.

The inputs are simulated calibrated exposures (:func:`photoncal.sim.calibrated.simulate_cal_set`:
pointing errors, sky offsets, unflagged cosmic rays) written once to ``--workdir``.  Each
pipeline runs in a fresh subprocess; the peak memory is that process's maximum resident set
(``ru_maxrss``), imports included.  The established pipeline runs with CRDS step parameters
disabled and the simulated APCORR/ABVEGAOFFSET references as overrides, so it needs no
network.  Both pipelines get the same association, parameters and reference files.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")

_PHOTONCAL_RUN = r"""
import json, os, resource, sys, time
sys.path.insert(0, {src!r})
t0 = time.perf_counter()
from photoncal.pipeline.image3 import Image3Pipeline
import logging
steps = {{"source_catalog": {{"override_apcorr": {apcorr!r}, "override_abvegaoffset": {abvega!r}}}}}
Image3Pipeline.call({asn!r}, output_dir={out!r}, save_results=True, in_memory={in_memory}, steps=steps,
                    configure_log=False)
elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

_JWST_RUN = r"""
import json, os, resource, sys, time, logging
os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "true"
t0 = time.perf_counter()
from jwst.pipeline import Image3Pipeline
logging.disable(logging.INFO)
steps = {{"source_catalog": {{"override_apcorr": {apcorr!r}, "override_abvegaoffset": {abvega!r}}}}}
Image3Pipeline.call({asn!r}, output_dir={out!r}, save_results=True, in_memory={in_memory}, steps=steps)
elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def make_inputs(workdir, n, subarray, seed, pointing_error=0.5):
    """Simulate (once) ``n`` calibrated exposures; return their association, references and files."""
    from photoncal.sim.calibrated import simulate_cal_set
    from photoncal.sim.references import ensure_stage3_references

    directory = os.path.join(workdir, f"{subarray.lower()}_{n}_pe{pointing_error:g}_s{seed}")
    refs = os.path.join(workdir, "references")
    marker = os.path.join(directory, "inputs.json")
    if os.path.exists(marker):
        with open(marker) as handle:
            return json.load(handle)
    full = subarray == "FULL"
    start = time.perf_counter()
    dataset = simulate_cal_set(n, subarray=subarray, n_stars=400 if full else 80, n_galaxies=150 if full else 20,
                               cosmic_rays=2000 if full else 100, pointing_error=pointing_error,
                               seed=seed, output_dir=directory, reference_dir=refs)
    paths = ensure_stage3_references("NIRCAM", "NRCA1", directory=refs)
    info = {"asn": dataset.image3_asn, "apcorr": paths["apcorr"], "abvegaoffset": paths["abvegaoffset"],
            "exposures": list(dataset.exposures), "catalog": dataset.catalog,
            "product": dataset.product_name, "reference_dir": refs}
    with open(marker, "w") as handle:
        json.dump(info, handle)
    print(f"simulated {n} {subarray} exposures in {time.perf_counter() - start:.1f} s -> {directory}")
    return info


def run(python, template, inputs, in_memory, label):
    out = tempfile.mkdtemp(prefix=f"image3_{label}_")
    code = template.format(src=SRC, asn=inputs["asn"], out=out, in_memory=in_memory,
                           apcorr=inputs["apcorr"], abvega=inputs["abvegaoffset"])
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    shutil.rmtree(out, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------
# accuracy against the simulated truth
# ----------------------------------------------------------------------------------------------

def _offsets_mas(wcs, sources):
    """(east, north) WCS-minus-truth offsets (mas) of point sources at their true pixels."""
    import numpy as np

    ra, dec = wcs(sources["x"], sources["y"])
    east = (ra - sources["ra"]) * np.cos(np.deg2rad(sources["dec"])) * 3.6e6
    north = (dec - sources["dec"]) * 3.6e6
    return np.stack([east, north], axis=1)


def accuracy_report(inputs, out, *, absolute=True, steps=None):
    """Run photoncal's calwebb_image3 on ``inputs`` into ``out``; compare with the truth; print.

    Returns a dict of the numbers printed.
    """
    import numpy as np
    from astropy import units as u
    from astropy.table import QTable, Table

    from photoncal import datamodels
    from photoncal.dqflags import pixel
    from photoncal.pipeline.image3 import Image3Pipeline
    from photoncal.sim.calibrated import load_cal_truth
    from photoncal.sim.evaluate import catalog_accuracy

    steps = dict(steps or {})
    steps.setdefault("source_catalog", {}).update(
        {"override_apcorr": inputs["apcorr"], "override_abvegaoffset": inputs["abvegaoffset"]})
    if absolute:
        steps.setdefault("tweakreg", {})["abs_refcat"] = inputs["catalog"]
    start = time.perf_counter()
    mosaic = Image3Pipeline.call(inputs["asn"], output_dir=out, save_results=True, in_memory=False,
                                 reference_dir=inputs["reference_dir"], steps=steps,
                                 configure_log=False)
    seconds = time.perf_counter() - start
    truths = [load_cal_truth(p) for p in inputs["exposures"]]
    crfs = [os.path.join(out, os.path.basename(p).replace("_cal.fits", "_o001_crf.fits"))
            for p in inputs["exposures"]]
    report = {"pipeline_seconds": seconds, "exposures": []}
    print(f"calwebb_image3 ({'aligned to the truth catalog' if absolute else 'relative alignment only'}) "
          f"in {seconds:.1f} s")

    # astrometry, sky, outliers per exposure
    print(f"{'exposure':<44} {'pointing err':>12} {'before':>8} {'after':>14} {'rms':>6}"
          f" {'sky err':>8} {'CR found':>9} {'false':>8}")
    print(f"{'':<44} {'[mas]':>12} {'[mas]':>8} {'mean E,N [mas]':>14} {'[mas]':>6}"
          f" {'[% sky]':>8} {'':>9} {'[%good]':>8}")
    sky_true, sky_found = [], []
    hits = total = false = good_total = 0
    means = []
    for path, crf_path, truth in zip(inputs["exposures"], crfs, truths):
        on = truth.sources[truth.sources["on_image"] & (truth.sources["type"] == "point")]
        with datamodels.open(path) as cal, datamodels.open(crf_path) as crf:
            before = _offsets_mas(cal.meta.wcs, on)
            after = _offsets_mas(crf.meta.wcs, on)
            flagged = (crf.dq & pixel["OUTLIER"]) != 0
            cr = truth.cosmic_rays
            primary = cr[cr["primary"]]
            n_hit = int(flagged[primary["y"], primary["x"]].sum())
            affected = np.zeros(flagged.shape, bool)
            affected[cr["y"], cr["x"]] = True
            good = (cal.dq == 0) & ~affected
            n_false = int((flagged & good).sum())
            level = crf.meta.background.level
        hits, total = hits + n_hit, total + len(primary)
        false, good_total = false + n_false, good_total + int(good.sum())
        sky_true.append(truth.sky_background + truth.sky_offset)
        sky_found.append(np.nan if level is None else level)
        pe = truth.pointing_error
        mean = after.mean(axis=0)
        means.append(mean)
        rms = float(np.sqrt(np.mean(np.sum(after ** 2, axis=1))))
        row = {"name": os.path.basename(path), "pointing_error_mas": float(np.hypot(pe["d_east"], pe["d_north"]) * 1e3),
               "before_mas": float(np.sqrt(np.mean(np.sum(before ** 2, axis=1)))),
               "after_mean_mas": mean.tolist(), "after_rms_mas": rms,
               "cr_found": n_hit / max(len(primary), 1), "false_flag": n_false / max(int(good.sum()), 1)}
        report["exposures"].append(row)
    sky_true, sky_found = np.array(sky_true), np.array(sky_found)
    sky_err = ((sky_found - sky_found[0]) - (sky_true - sky_true[0])) / sky_true.mean() * 100
    injected = sky_true - sky_true[0]
    for row, err in zip(report["exposures"], sky_err):
        row["sky_offset_error_percent_of_sky"] = float(err)
        print(f"{row['name']:<44} {row['pointing_error_mas']:>12.0f} {row['before_mas']:>8.0f}"
              f" {row['after_mean_mas'][0]:>6.2f},{row['after_mean_mas'][1]:>6.2f} {row['after_rms_mas']:>7.2f}"
              f" {err:>8.3f} {row['cr_found']:>9.1%} {100 * row['false_flag']:>8.4f}")
    means = np.array(means)
    report["between_exposures_mas"] = float(np.ptp(means, axis=0).max())
    report["sky_offsets_injected_percent"] = (injected / sky_true.mean() * 100).tolist()
    report["sky_offset_error_max_percent_of_sky"] = float(np.abs(sky_err).max())
    report["cr_found"] = hits / max(total, 1)
    report["false_flag"] = false / max(good_total, 1)
    print(f"exposures agree to {report['between_exposures_mas']:.2f} mas (largest spread of their mean offsets)")
    print(f"sky offsets injected {np.round(report['sky_offsets_injected_percent'], 2).tolist()} % of the sky, "
          f"recovered to {report['sky_offset_error_max_percent_of_sky']:.3f} % of the sky "
          f"(skymatch {steps.get('skymatch', {}) or 'defaults'})")
    print(f"outlier_detection: {hits}/{total} cosmic rays flagged ({report['cr_found']:.1%}), "
          f"{false}/{good_total} good pixels flagged ({100 * report['false_flag']:.4f} %)")

    # catalog
    cat = QTable.read(os.path.join(out, f"{inputs['product']}_cat.ecsv"))
    truth_cat = Table.read(inputs["catalog"])
    ny, nx = mosaic.data.shape

    def covered(ra, dec):
        x, y = mosaic.meta.wcs.invert(np.asarray(ra), np.asarray(dec), with_bounding_box=False)
        inside = np.isfinite(x) & (x > 10) & (x < nx - 10) & (y > 10) & (y < ny - 10)
        xi = np.where(inside, np.round(x), 0).astype(int)
        yi = np.where(inside, np.round(y), 0).astype(int)
        return inside & (mosaic.wht[yi, xi] > 0)

    acc = catalog_accuracy(cat, truth_cat, footprint=covered)
    report["catalog"] = acc.as_dict()
    # isolated point sources: nearest measured source, position and aperture flux
    t_ra, t_dec = np.asarray(truth_cat["ra"]), np.asarray(truth_cat["dec"])
    t_flux = np.asarray(getattr(truth_cat["flux"], "value", truth_cat["flux"]), dtype=float)
    ra, dec = cat["sky_centroid"].ra.deg, cat["sky_centroid"].dec.deg
    cosd = np.cos(np.deg2rad(t_dec))
    nearest = np.empty(t_ra.size, dtype=int)
    dist = np.empty(t_ra.size)
    for k in range(t_ra.size):
        sep = np.hypot((ra - t_ra[k]) * cosd[k], dec - t_dec[k]) * 3.6e6
        nearest[k], dist[k] = int(np.argmin(sep)), float(sep.min())
    nn = np.full(t_ra.size, np.inf)
    for k in range(t_ra.size):
        sep = np.hypot((t_ra - t_ra[k]) * cosd[k], t_dec - t_dec[k]) * 3600.0
        sep[k] = np.inf
        nn[k] = sep.min()
    stars = (covered(t_ra, t_dec) & (t_flux >= acc.flux_limit_jy)
             & (np.asarray(truth_cat["type"]).astype(str) == "point") & (nn > 1.5) & (dist < 100))
    ratio = cat["aper_total_flux"].to_value(u.Jy)[nearest[stars]] / t_flux[stars]
    if not stars.any():
        # e.g. relative alignment only: the whole mosaic carries the reference's pointing error
        print(f"catalog: {len(cat)} sources; {acc.n_truth} truth sources above 10 sigma, "
              f"{acc.completeness:.1%} found within {0.1:g}\"; no isolated star within 100 mas of a "
              "measured source")
        report["isolated_stars"] = {"n": 0}
        return report
    report["isolated_stars"] = {"n": int(stars.sum()), "position_median_mas": float(np.median(dist[stars])),
                                "position_max_mas": float(dist[stars].max()),
                                "flux_ratio_median": float(np.median(ratio)),
                                "flux_ratio_worst": float(ratio[np.argmax(np.abs(ratio - 1))]),
                                "within_10_mas": float(np.mean(dist[stars] < 10.0)),
                                "flux_within_2_percent": float(np.mean(np.abs(ratio - 1) < 0.02)),
                                "flux_within_5_percent": float(np.mean(np.abs(ratio - 1) < 0.05))}
    worst = np.flatnonzero(stars)[np.argsort(-np.abs(ratio - 1))[:3]]
    report["isolated_stars"]["worst"] = [
        {"ra": float(t_ra[k]), "dec": float(t_dec[k]), "flux_jy": float(t_flux[k]),
         "ratio": float(cat["aper_total_flux"].to_value(u.Jy)[nearest[k]] / t_flux[k]),
         "dist_mas": float(dist[k])} for k in worst]
    print(f"catalog: {len(cat)} sources; {acc.n_truth} truth sources above 10 sigma "
          f"({acc.flux_limit_jy * 1e9:.1f} nJy) on the mosaic, {acc.completeness:.1%} found; "
          f"{acc.n_isolated} point sources matched (no other source within 1\"): RMS {acc.astrometric_rms_mas:.2f} mas, "
          f"flux ratio {acc.flux_ratio_median:.4f} +- {acc.flux_ratio_scatter:.4f}")
    iso = report["isolated_stars"]
    print(f"isolated stars (>1.5\" from any other source, n={iso['n']}): position median "
          f"{iso['position_median_mas']:.2f} mas, max {iso['position_max_mas']:.2f} mas; "
          f"aper_total_flux / truth median {iso['flux_ratio_median']:.4f}, worst {iso['flux_ratio_worst']:.4f}; "
          f"{iso['within_10_mas']:.1%} within 10 mas, {iso['flux_within_2_percent']:.1%} within 2 % "
          f"and {iso['flux_within_5_percent']:.1%} within 5 % in flux")
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=4, help="number of exposures (default 4)")
    parser.add_argument("--subarray", default="FULL", help="FULL (default) or a NIRCam subarray")
    parser.add_argument("--jwst-python", help="python of an environment with the jwst package")
    parser.add_argument("--scaling", help="comma-separated exposure counts for the memory scaling table")
    parser.add_argument("--in-memory", action="store_true", help="in_memory=True (default: False, on disk)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each pipeline (best time reported)")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "photoncal_image3_bench"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pointing-error", type=float, default=0.5,
                        help="largest pointing error of an exposure, arcsec (default 0.5)")
    parser.add_argument("--accuracy", action="store_true",
                        help="run photoncal once and compare its products with the simulated truth")
    parser.add_argument("--relative-only", action="store_true",
                        help="--accuracy: no absolute alignment to the truth catalog")
    parser.add_argument("--skystat", help="--accuracy: skymatch skystat (default: the step's, 'mode')")
    parser.add_argument("--json", help="--accuracy: also write the numbers to this JSON file")
    parser.add_argument("--keep-products", action="store_true",
                        help="--accuracy: keep the pipeline's products (under --workdir)")
    args = parser.parse_args(argv)
    sys.path.insert(0, SRC)
    os.makedirs(args.workdir, exist_ok=True)

    if args.accuracy:
        inputs = make_inputs(args.workdir, args.n, args.subarray, args.seed, args.pointing_error)
        print(f"{args.n} NIRCam NRCA1 {args.subarray} exposures, pointing errors up to "
              f"{args.pointing_error:g}\", seed {args.seed}")
        out = tempfile.mkdtemp(prefix="image3_accuracy_", dir=args.workdir)
        steps = {"skymatch": {"skystat": args.skystat}} if args.skystat else {}
        try:
            report = accuracy_report(inputs, out, absolute=not args.relative_only, steps=steps)
        finally:
            if args.keep_products:
                print(f"products kept in {out}")
            else:
                shutil.rmtree(out, ignore_errors=True)
        if args.json:
            with open(args.json, "w") as handle:
                json.dump(report, handle, indent=1)
        return

    counts = [int(c) for c in args.scaling.split(",")] if args.scaling else [args.n]
    subarray = args.subarray if not args.scaling or args.subarray != "FULL" else "SUB640"
    print(f"calwebb_image3, NIRCam NRCA1 {subarray}, in_memory={args.in_memory}, {os.cpu_count()} cores")
    print(f"{'exposures':>9} {'pipeline':>9} {'time [s]':>9} {'peak RSS [MiB]':>15}")
    for n in counts:
        inputs = make_inputs(args.workdir, n, subarray, args.seed, args.pointing_error)
        # warm-up (numba caches) outside the timed runs
        run(sys.executable, _PHOTONCAL_RUN, inputs, args.in_memory, "warmup") if n == counts[0] else None
        best = min((run(sys.executable, _PHOTONCAL_RUN, inputs, args.in_memory, "photoncal")
                    for _ in range(args.repeat)), key=lambda r: r["seconds"])
        print(f"{n:>9} {'photoncal':>9} {best['seconds']:>9.1f} {best['peak_mib']:>15.0f}", flush=True)
        if args.jwst_python:
            ref = min((run(args.jwst_python, _JWST_RUN, inputs, args.in_memory, "jwst")
                       for _ in range(args.repeat)), key=lambda r: r["seconds"])
            print(f"{n:>9} {'jwst':>9} {ref['seconds']:>9.1f} {ref['peak_mib']:>15.0f}"
                  f"   (photoncal {ref['seconds'] / best['seconds']:.1f}x faster)", flush=True)


if __name__ == "__main__":
    main()
