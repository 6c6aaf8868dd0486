"""calwebb_image2 on a full-frame exposure: photoncal, and the established pipeline beside it.

1. Simulates a full-frame exposure (``photoncal.sim``; default NIRCam NRCA1,
   F200W) and writes what a perfect stage 1 gives: a ``_rate`` file whose
   SCI is the truth count rate, DQ the MASK reference, VAR_POISSON /
   VAR_RNOISE from the gain and read noise.
2. Runs photoncal's ``Image2Pipeline`` on it (a child process: wall time and
   peak resident memory), with the simulated reference files.
3. With ``--jwst-python``, runs the established ``calwebb_image2`` (jwst)
   on the same file with the same reference files (offline, every other
   reference type N/A) and compares the products: ``_cal`` SCI/ERR/DQ and
   ``_i2d`` SCI/WHT.
4. Checks the ``_cal`` against the truth surface brightness.

Usage::

    PYTHONPATH=src python benchmarks/image2.py [--detector NRCA1] [--subarray FULL]
        [--jwst-python /work/jwstenv/bin/python] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != str(_HERE)]

import numpy as np  # noqa: E402


def make_rate(workdir: Path, detector: str, subarray: str, seed: int = 3):
    """Simulate one exposure and write the ideal ``_rate`` file; returns (path, truth, refdir)."""
    from photoncal import datamodels, sim
    from photoncal.datamodels.subarray import ref_to_science_subarray
    from photoncal.dqflags import pixel

    refdir = workdir / "references"
    refdir.mkdir(parents=True, exist_ok=True)
    readpatt = {"MIRIMAGE": "FAST", "NIS": "NISRAPID", "GUIDER1": "FGSRAPID", "GUIDER2": "FGSRAPID"}.get(
        detector, "RAPID")
    level1b, truth = sim.simulate_exposure(detector=detector, subarray=subarray, readpatt=readpatt, ngroups=3,
                                           seed=seed, effects="noiseless", output_dir=None,
                                           reference_dir=str(refdir))
    rate = np.asarray(truth.rate, dtype=np.float32)
    model = datamodels.ImageModel(rate.shape)
    model.update(level1b)
    model.meta.filename = level1b.meta.filename.replace("_uncal", "_rate")
    model.meta.origin = level1b.meta.origin
    model.meta.bunit_data = model.meta.bunit_err = "DN/s"
    det = detector.lower()

    def ref(kind):
        return datamodels.open(next(refdir.glob(f"photoncal_sim_v*_{det}_{kind}*.fits")))

    dq = ref_to_science_subarray(ref("mask"), model).dq.astype(np.uint32)
    gain = ref_to_science_subarray(ref("gain"), model).data
    rn = ref_to_science_subarray(ref("readnoise"), model).data
    var_rnoise = (12.0 * rn**2 / 24.0 / truth.group_time**2).astype(np.float32)
    texp = float(level1b.meta.exposure.integration_time or 2 * truth.group_time)
    var_poisson = (np.clip(rate, 0, None) / np.where(gain > 0, gain, 1) / texp).astype(np.float32)
    bad = (dq & pixel["DO_NOT_USE"]) != 0
    rate[bad] = np.nan
    model.data = rate
    model.dq = dq
    model.var_rnoise = np.where(bad, np.nan, var_rnoise).astype(np.float32)
    model.var_poisson = np.where(bad, np.nan, var_poisson).astype(np.float32)
    model.err = np.sqrt(model.var_rnoise + model.var_poisson)
    path = workdir / model.meta.filename
    model.save(str(path))
    return path, truth, refdir


def run_photoncal(rate, outdir, refdir):
    """Child-process entry: run Image2Pipeline, print JSON timing."""
    warnings.simplefilter("ignore")
    import logging

    t0 = time.perf_counter()
    from photoncal.pipeline.image2 import Image2Pipeline

    # the established pipeline loads asdf's extensions (the transform converters
    # of the WCS files) when it is imported; photoncal loads them on first use:
    # count that as import time for a like-for-like pipeline time
    import asdf

    asdf.get_config().extensions  # noqa: B018
    t_import = time.perf_counter() - t0
    logging.disable(logging.INFO)
    t0, c0 = time.perf_counter(), time.process_time()
    Image2Pipeline.call(rate, output_dir=outdir, save_results=True, reference_dir=refdir)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _peak_rss_mib()
    print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "import_seconds": t_import, "peak_rss_mib": peak}))


def _last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no result line in:\n{text[-3000:]}")


def _rel(a, b, mask):
    a, b = a[mask].astype(np.float64), b[mask].astype(np.float64)
    scale = np.maximum(np.abs(b), 1e-3 * np.nanmax(np.abs(b)))
    return float(np.max(np.abs(a - b) / scale)), float(np.median(np.abs(a - b) / scale))


def _peak_rss_mib():
    """Peak resident memory of this process image (VmHWM; ru_maxrss would include the parent's)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default="NRCA1")
    parser.add_argument("--subarray", default="FULL")
    parser.add_argument("--jwst-python", default=None, help="python interpreter with jwst installed")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--run-photoncal", nargs=3, metavar=("RATE", "OUTDIR", "REFDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_photoncal:
        run_photoncal(*args.run_photoncal)
        return
    warnings.simplefilter("ignore")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="image2_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rate, truth, refdir = make_rate(workdir, args.detector, args.subarray)
    print(f"simulated {rate.name} ({time.perf_counter() - t0:.1f} s) in {workdir}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    env = dict(os.environ, PYTHONPATH=str(_HERE.parent / "src"))
    ours_dir = workdir / "photoncal"
    proc = subprocess.run([sys.executable, __file__, "--run-photoncal", str(rate), str(ours_dir), str(refdir)],
                          capture_output=True, text=True, env=env)
    ours = _last_json(proc.stdout + proc.stderr)
    print(f"photoncal calwebb_image2: {ours['seconds']:6.2f} s, cpu {ours['cpu_seconds']:6.2f} s (imports and asdf "
          f"extensions {ours['import_seconds']:.2f} s), peak RSS {ours['peak_rss_mib']:.0f} MiB")

    from photoncal import datamodels

    stem = rate.name.replace("_rate.fits", "")
    cal = datamodels.open(ours_dir / f"{stem}_cal.fits")
    good = np.isfinite(cal.data)
    rel = np.abs(cal.data[good] / truth.surface_brightness[good] - 1)
    print(f"  _cal vs truth surface brightness: max rel {rel.max():.1e} over {good.sum()} pixels")

    if not args.jwst_python:
        return
    refs = {}
    det = args.detector.lower()
    for kind, pattern in (("distortion", "distortion*.asdf"), ("filteroffset", "filteroffset*.asdf"),
                          ("flat", "flat*.fits"), ("photom", "photom*.fits"), ("area", "area*.fits")):
        found = sorted(refdir.glob(f"photoncal_sim_v*_{det}_{pattern}"))
        if kind == "flat" and len(found) > 1:
            found = [p for p in found if str(cal.meta.instrument.filter).lower() in p.name]
        if found:
            refs[kind] = str(found[0])
    refs_json = workdir / "refs.json"
    refs_json.write_text(json.dumps(refs))
    jwst_dir = workdir / "jwst"
    crds = workdir / "crds_empty"
    crds.mkdir(exist_ok=True)
    jenv = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CRDS_SERVER_URL")}
    jenv["CRDS_PATH"] = str(crds)
    proc = subprocess.run([args.jwst_python, str(_HERE / "_jwst_image2_worker.py"), str(rate), str(jwst_dir),
                           str(refs_json)], capture_output=True, text=True, env=jenv)
    try:
        theirs = _last_json(proc.stdout + proc.stderr)
    except RuntimeError as err:
        print(f"jwst run failed: {err}")
        return
    print(f"jwst      calwebb_image2: {theirs['seconds']:6.2f} s, cpu {theirs['cpu_seconds']:6.2f} s (imports "
          f"{theirs['import_seconds']:.2f} s), peak RSS {theirs['peak_rss_mib']:.0f} MiB   -> photoncal "
          f"x{theirs['seconds'] / ours['seconds']:.2f} (wall), x{theirs['cpu_seconds'] / ours['cpu_seconds']:.2f} (cpu)")

    jcal = datamodels.open(jwst_dir / f"{stem}_cal.fits")
    both = np.isfinite(cal.data) & np.isfinite(jcal.data)
    print(f"  _cal SCI: max/median rel diff {_rel(cal.data, jcal.data, both)[0]:.1e} / "
          f"{_rel(cal.data, jcal.data, both)[1]:.1e}; NaN masks equal: "
          f"{np.array_equal(np.isnan(cal.data), np.isnan(jcal.data))}")
    print(f"  _cal ERR: max rel diff {_rel(cal.err, jcal.err, both)[0]:.1e}; DQ equal: "
          f"{np.array_equal(cal.dq, jcal.dq)}")
    ra, dec = cal.meta.wcs(100.0, 200.0)
    jra, jdec = jcal.meta.wcs(100.0, 200.0)
    print(f"  _cal WCS at (100, 200): {np.hypot((ra - jra) * np.cos(np.deg2rad(dec)), dec - jdec) * 3.6e6:.3f} mas "
          f"apart (jwst adds a velocity-aberration frame; scale factor 1 here)")
    i2d = datamodels.open(ours_dir / f"{stem}_i2d.fits")
    ji2d = datamodels.open(jwst_dir / f"{stem}_i2d.fits")
    print(f"  _i2d shapes: photoncal {i2d.data.shape}, jwst {ji2d.data.shape}")
    if i2d.data.shape == ji2d.data.shape:
        both = (i2d.wht > 0) & (ji2d.wht > 0)
        print(f"  _i2d SCI: max/median rel diff {_rel(i2d.data, ji2d.data, both)[0]:.1e} / "
              f"{_rel(i2d.data, ji2d.data, both)[1]:.1e}; WHT max rel diff {_rel(i2d.wht, ji2d.wht, both)[0]:.1e}")


if __name__ == "__main__":
    main()
