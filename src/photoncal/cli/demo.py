"""``photoncal demo``: simulate a dithered NIRCam observation and calibrate it, offline.

The demo writes a dithered NIRCam imaging observation with a known truth
(:func:`photoncal.sim.simulate_dither_set`, the matching reference files go
to the default reference directory), runs stage 1 (calwebb_detector1) on every
exposure, stage 2 (calwebb_image2) on the level-2 association and stage 3
(calwebb_image3) on the level-3 association, then prints what was produced,
each stage's time and the accuracy against the truth: count-rate bias and
error honesty, the fraction of cosmic rays found, and the completeness,
astrometric and photometric scatter of the final catalog.

With ``--roman`` it simulates one Roman WFI exposure instead
(:func:`photoncal.sim.roman.simulate_roman_exposure`), runs the Roman
exposure pipeline on it and reports the calibrated rate's accuracy.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import time
from collections import Counter

import numpy as np

from photoncal.fileio import atomic_write, atomic_write_text

__all__ = ["add_arguments", "run", "run_demo", "run_roman_demo", "DemoResult"]


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``demo`` options to ``parser`` and return it."""
    parser.description = __doc__.split("\n", 1)[0]
    parser.add_argument("-o", "--output-dir", default="demo_output",
                        help="where the simulated and calibrated files go (default %(default)s)")
    parser.add_argument("--roman", action="store_true",
                        help="simulate and calibrate one Roman WFI exposure instead (exposure pipeline)")
    parser.add_argument("--size", type=int, default=1016,
                        help="Roman science pixels per side, 4088 for a full detector (default %(default)s)")
    parser.add_argument("--exposures", type=int, default=4, help="dither positions (default %(default)s)")
    parser.add_argument("--detector", default=None, help="NIRCam detector (default NRCA1), or WFI01-18 with --roman")
    parser.add_argument("--subarray", default="SUB640",
                        help="SUBARRAY, or FULL for 2048x2048 (default %(default)s)")
    parser.add_argument("--readpatt", default="MEDIUM8", help="READPATT (default %(default)s)")
    parser.add_argument("--ngroups", type=int, default=6, help="groups per integration (default %(default)s)")
    parser.add_argument("--pointing-error", type=float, default=0.3,
                        help="largest pointing error in arcsec, for tweakreg to remove (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default %(default)s)")
    parser.add_argument("--log-level", default="INFO",
                        help="level of the pipeline log, written to <output-dir>/demo.log (default %(default)s)")
    parser.add_argument("--verbose", action="store_true", help="also show the pipeline log on the console")
    return parser


class DemoResult(dict):
    """The demo's numbers: ``times`` (s per stage), ``products``, ``rate``, ``cosmic_rays``, ``catalog``."""


def _reference_array(model, reftype):
    """The array of the reference file a step recorded, cut to the exposure's subarray."""
    from photoncal import config, datamodels
    from photoncal.datamodels.subarray import ref_to_science_subarray

    name = model[f"meta.ref_file.{reftype}.name"]
    path = name if os.path.exists(name) else os.path.join(config.default_reference_dir(), os.path.basename(name))
    with datamodels.open(path) as ref:
        return np.asarray(ref_to_science_subarray(ref, model)["data"], dtype=np.float64)


def _write_astrometric_catalog(truth_catalog, path):
    """The truth's point sources as an absolute astrometric catalog (RA, DEC).

    Relative alignment leaves the mosaic with the pointing error of its
    reference exposure; like a Gaia catalog in a real reduction, this one ties
    the mosaic to the sky so its catalog can be compared with the truth.
    """
    from astropy.table import Table

    truth = Table.read(truth_catalog, format="ascii.ecsv")
    stars = truth[np.asarray(truth["type"]).astype(str) == "point"]
    table = Table({"RA": np.asarray(stars["ra"], dtype=np.float64), "DEC": np.asarray(stars["dec"], dtype=np.float64)})
    return atomic_write(path, lambda tmp: table.write(tmp, format="ascii.ecsv", overwrite=True))


def _footprint_of(i2d, margin=5):
    """``inside(ra, dec)``: sources whose surroundings (``margin`` pixels) the mosaic covers."""
    from scipy.ndimage import minimum_filter

    wcs = i2d.meta.wcs
    covered = minimum_filter(np.asarray(i2d.wht) > 0, size=2 * margin + 1, mode="constant", cval=False)

    def inside(ra, dec):
        x, y = wcs.world_to_pixel_values(ra, dec)
        ix = np.round(np.nan_to_num(x, nan=-1)).astype(int)
        iy = np.round(np.nan_to_num(y, nan=-1)).astype(int)
        ok = (ix >= 0) & (iy >= 0) & (ix < covered.shape[1]) & (iy < covered.shape[0])
        ok[ok] &= covered[iy[ok], ix[ok]]
        return ok

    return inside


def run_demo(output_dir="demo_output", *, exposures=4, detector="NRCA1", subarray="SUB640",
             readpatt="MEDIUM8", ngroups=6, pointing_error=0.3, seed=1, progress=print) -> DemoResult:
    """Simulate, calibrate through stages 1-3 and measure against the truth.

    Returns
    -------
    DemoResult
    """
    from astropy.table import Table

    from photoncal import datamodels, dqflags
    from photoncal.pipeline.detector1 import Detector1Pipeline
    from photoncal.pipeline.image2 import Image2Pipeline
    from photoncal.pipeline.image3 import Image3Pipeline
    from photoncal.sim import evaluate
    from photoncal.sim.observe import simulate_dither_set

    os.makedirs(output_dir, exist_ok=True)
    result = DemoResult(times={})

    progress(f"Simulating {exposures} dithered {detector} {subarray} exposures ({readpatt}, {ngroups} groups)...")
    start = time.perf_counter()
    dataset = simulate_dither_set(exposures, detector=detector, subarray=subarray, readpatt=readpatt,
                                  ngroups=ngroups, pointing_error=pointing_error, seed=seed,
                                  output_dir=output_dir)
    result["times"]["simulate"] = time.perf_counter() - start

    progress("Stage 1: calwebb_detector1 on each exposure...")
    start = time.perf_counter()
    rates = []
    for path in dataset.exposures:
        Detector1Pipeline.call(path, output_dir=output_dir, save_results=True)
        rates.append(path.replace("_uncal.fits", "_rate.fits"))
    result["times"]["stage 1"] = time.perf_counter() - start

    progress("Stage 2: calwebb_image2 on the level-2 association...")
    start = time.perf_counter()
    Image2Pipeline.call(dataset.image2_asn, output_dir=output_dir, save_results=True)
    result["times"]["stage 2"] = time.perf_counter() - start

    progress("Stage 3: calwebb_image3 on the level-3 association...")
    start = time.perf_counter()
    refcat = _write_astrometric_catalog(dataset.catalog, os.path.join(output_dir, "demo_refcat.ecsv"))
    Image3Pipeline.call(dataset.image3_asn, output_dir=output_dir, save_results=True,
                        steps={"tweakreg": {"abs_refcat": refcat}})
    result["times"]["stage 3"] = time.perf_counter() - start

    # Accuracy of stage 1 against the truth.
    rate_stats, found, strong = [], 0.0, 0
    jump = dqflags.pixel["JUMP_DET"]
    for path, truth in zip(rates, dataset.truths):
        with datamodels.open(path) as rate:
            rate_stats.append(evaluate.rate_accuracy(rate.data, rate.err, rate.dq, truth))
            recovery = evaluate.cosmic_ray_recovery((rate.dq & jump) != 0, truth,
                                                    _reference_array(rate, "gain"),
                                                    _reference_array(rate, "readnoise"))
        if recovery.n_cosmic_rays:
            strong += recovery.n_cosmic_rays
            found += recovery.found_fraction * recovery.n_cosmic_rays
    pixels = sum(r.n_pixels for r in rate_stats)
    weights = [r.n_pixels for r in rate_stats]
    result["rate"] = {
        "pixels": pixels,
        "median_relative_error": float(np.average([r.median_relative_error for r in rate_stats], weights=weights)),
        "normalized_scatter": float(np.average([r.normalized_scatter for r in rate_stats], weights=weights)),
        "mean_difference": float(np.average([r.mean_difference for r in rate_stats], weights=weights)),
        "mean_difference_error": float(np.sqrt(sum((w * r.mean_difference_error) ** 2
                                                   for w, r in zip(weights, rate_stats))) / pixels),
    }
    result["cosmic_rays"] = {"n_above_10_sigma": strong, "found_fraction": found / strong if strong else float("nan")}

    # Accuracy of the final catalog.
    i2d_paths = [p for p in glob.glob(os.path.join(output_dir, "*_i2d.fits")) if "-o" in os.path.basename(p)]
    cat_paths = glob.glob(os.path.join(output_dir, "*_cat.ecsv"))
    if i2d_paths and cat_paths:
        with datamodels.open(i2d_paths[0]) as i2d:
            footprint = _footprint_of(i2d)
            accuracy = evaluate.catalog_accuracy(Table.read(cat_paths[0], format="ascii.ecsv"),
                                                 Table.read(dataset.catalog, format="ascii.ecsv"),
                                                 footprint=footprint)
        result["catalog"] = accuracy.as_dict()
    suffixes = Counter(os.path.basename(p).rsplit("_", 1)[-1] for p in glob.glob(os.path.join(output_dir, "*.*")))
    result["products"] = dict(sorted(suffixes.items()))
    return result


def run_roman_demo(output_dir="demo_output", *, size=1016, detector="WFI01", optical_element="F158", seed=1,
                   progress=print) -> DemoResult:
    """Simulate one Roman WFI exposure, run the exposure pipeline and measure against the truth.

    Returns
    -------
    DemoResult
    """
    from astropy.table import Table

    from photoncal.roman import datamodels as rdm
    from photoncal.roman.pipeline import ExposurePipeline
    from photoncal.sim import evaluate
    from photoncal.sim.roman import simulate_roman_exposure

    os.makedirs(output_dir, exist_ok=True)
    result = DemoResult(times={})
    progress(f"Simulating a Roman {detector} {optical_element} exposure, {size} x {size} science pixels...")
    start = time.perf_counter()
    uncal, truth = simulate_roman_exposure(detector, optical_element, size=size, seed=seed, output_dir=output_dir)
    result["times"]["simulate"] = time.perf_counter() - start

    progress("Exposure pipeline (dq_init ... rampfit, assign_wcs, flatfield, photom, source_catalog, tweakreg)...")
    start = time.perf_counter()
    ExposurePipeline.call(uncal, output_dir=output_dir, save_results=True)
    result["times"]["exposure pipeline"] = time.perf_counter() - start

    base = uncal.replace("_uncal.asdf", "")
    with rdm.open(base + "_cal.asdf") as cal:
        accuracy = evaluate.rate_accuracy(np.asarray(cal.data), np.asarray(cal.err), np.asarray(cal.dq), truth,
                                          rate=truth.rate_cal)
        recovery = evaluate.roman_cosmic_ray_recovery(np.asarray(cal.dq), truth)
    result["rate"] = {"pixels": accuracy.n_pixels, "median_relative_error": accuracy.median_relative_error,
                      "normalized_scatter": accuracy.normalized_scatter,
                      "mean_difference": accuracy.mean_difference,
                      "mean_difference_error": accuracy.mean_difference_error}
    result["cosmic_rays"] = {"n_above_10_sigma": recovery.n_cosmic_rays, "found_fraction": recovery.found_fraction}
    result["sources"] = {"n_truth": len(truth.sources), "n_detected": len(Table.read(base + "_cat.ecsv"))}
    suffixes = Counter(os.path.basename(p).rsplit("_", 1)[-1] for p in glob.glob(os.path.join(output_dir, "*.*")))
    result["products"] = dict(sorted(suffixes.items()))
    return result


def format_summary(result: DemoResult, output_dir: str) -> str:
    """The short summary the demo prints."""
    lines = [f"photoncal demo: products in {output_dir}/"]
    lines.append("  " + ", ".join(f"{count} x {suffix}" for suffix, count in result["products"].items()))
    lines.append("Time per stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in result["times"].items()))
    r = result["rate"]
    lines.append(f"Count rates ({r['pixels']} clean pixels): mean (measured - true) "
                 f"{r['mean_difference']:+.2e} +- {r['mean_difference_error']:.1e} DN/s, median relative error "
                 f"{100 * r['median_relative_error']:+.3f} % (Poisson skew at low counts), robust scatter of "
                 f"(measured - true)/ERR {r['normalized_scatter']:.3f}")
    c = result.get("cosmic_rays")
    if c:
        lines.append(f"Cosmic rays above 10 sigma: {c['n_above_10_sigma']}, found {100 * c['found_fraction']:.2f} %")
    cat = result.get("catalog")
    if "sources" in result:
        lines.append(f"Catalog: {result['sources']['n_detected']} sources detected "
                     f"({result['sources']['n_truth']} simulated, most below the detection limit)")
    elif cat and not np.isfinite(cat["completeness"]):
        lines.append("Catalog: no truth source above the catalog's 10-sigma limit could be matched "
                     "(too few sources for alignment? see the pipeline log)")
    elif cat:
        lines.append(f"Catalog: {100 * cat['completeness']:.1f} % of {cat['n_truth']} truth sources above "
                     f"10 sigma found; {cat['n_isolated']} isolated point sources: astrometric RMS "
                     f"{cat['astrometric_rms_mas']:.2f} mas, "
                     f"flux ratio {cat['flux_ratio_median']:.4f} +- {cat['flux_ratio_scatter']:.4f}")
    else:
        lines.append("Catalog: no stage-3 catalog was produced")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the demo from parsed arguments and print its summary."""
    from photoncal.stpipe.log import LogConfig, LogSection

    os.makedirs(args.output_dir, exist_ok=True)
    log_path = os.path.join(args.output_dir, "demo.log")
    handlers = [f"file:{log_path}"] + (["stdout"] if args.verbose else [])
    log = LogConfig([LogSection("*", str(args.log_level).upper(), handlers, where="--log-level")],
                    source="photoncal demo")
    log.apply()
    try:
        if args.roman:
            result = run_roman_demo(args.output_dir, size=args.size, detector=args.detector or "WFI01",
                                    seed=args.seed)
        else:
            result = run_demo(args.output_dir, exposures=args.exposures, detector=args.detector or "NRCA1",
                              subarray=args.subarray, readpatt=args.readpatt, ngroups=args.ngroups,
                              pointing_error=args.pointing_error, seed=args.seed)
    finally:
        log.undo()
    summary_path = os.path.join(args.output_dir, "demo_summary.json")
    atomic_write_text(summary_path, json.dumps(result, indent=2))
    print(format_summary(result, args.output_dir))
    print(f"Pipeline log: {log_path}; numbers: {summary_path}")
    return 0
