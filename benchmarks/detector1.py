"""Speed and memory of calwebb_detector1, photoncal and (optionally) the
established pipeline side by side.

Simulates one exposure (default: NIRCam NRCA1 full frame, MEDIUM8, 10 groups,
1 integration) with the full simulated reference set, then runs
``Detector1Pipeline`` in fresh processes ``--repeat`` times and prints the
time of each step, the whole run (in-process: from ``call()`` to return,
products written) and the peak resident memory.  With ``--jwst-python`` the
established pipeline (jwst, offline, every reference overridden) runs on the
same files.  ``--strun`` also times ``strun calwebb_detector1`` start to
finish (interpreter start, imports, run, products).  ``--scaling`` runs
photoncal only over several sizes (pixels: NRCA1 SUB160/SUB320/SUB640/FULL
at 10 groups; groups: NIRISS full frame NISRAPID with 5, 10, 20, 50 groups).

The machine is shared: timings vary with the load; the best and the median
of the repeats are printed, with the load average.

Usage::

    PYTHONPATH=src /work/venv/bin/python benchmarks/detector1.py \\
        [--jwst-python /work/jwstenv/bin/python] [--repeat 3] [--strun] [--scaling]
        [--subarray FULL] [--readpatt MEDIUM8] [--ngroups 10] [--nints 1] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.fspath(Path(__file__).resolve().parent))

from _stage1_common import (  # noqa: E402
    JWST_WORKER,
    environment,
    jwst_overrides,
    prepare_exposure,
    run_jwst,
    run_photoncal,
    step_table,
)


def _load():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def _summary(records):
    totals = [r["run_s"] for r in records]
    summary = {"best": min(totals), "median": statistics.median(totals),
               "peak_mb": max(r["peak_mb"] for r in records),
               "import": statistics.median(r["import_s"] for r in records),
               "cpu": statistics.median(r["cpu_s"] for r in records)}
    if all("warm_s" in r for r in records):
        summary["warm_best"] = min(r["warm_s"] for r in records)
        summary["warm_median"] = statistics.median(r["warm_s"] for r in records)
        summary["warm_cpu"] = statistics.median(r["warm_cpu_s"] for r in records)
    return summary


def _runs(records):
    return ", ".join(f"{r['run_s']:.2f}" for r in records)


def _median_steps(records):
    tables = [step_table(r) for r in records]
    names = list(dict.fromkeys(n for t in tables for n in t))
    return {n: statistics.median(t.get(n, 0.0) for t in tables) for n in names}


def _strun_photoncal(uncal, outdir, refdir):
    code = "import sys; from photoncal.cli.strun import main; sys.exit(main())"
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code, "calwebb_detector1", os.fspath(uncal),
                             f"--reference_dir={refdir}", f"--output_dir={outdir}"],
                            capture_output=True, text=True, env=environment())
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return time.perf_counter() - start


def _strun_jwst(jwst_python, uncal, outdir, overrides):
    args = [f"--steps.{step}.{name}={path}" for step, values in overrides.items() for name, path in values.items()]
    start = time.perf_counter()
    result = subprocess.run([jwst_python, os.fspath(JWST_WORKER), "--strun", "calwebb_detector1", os.fspath(uncal),
                             f"--output_dir={outdir}", *args],
                            capture_output=True, text=True, env=environment(CRDS_PATH=os.fspath(Path(outdir) / "x")))
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return time.perf_counter() - start


def compare(args):
    uncal, refdir = prepare_exposure(args.workdir, detector=args.detector, subarray=args.subarray,
                                     readpatt=args.readpatt, ngroups=args.ngroups, nints=args.nints)
    print(f"exposure {uncal.name}: {args.detector} {args.subarray} {args.readpatt} "
          f"{args.ngroups} groups x {args.nints} integrations; load average {_load():.1f}")
    out = Path(args.workdir) / "out"
    ours = [run_photoncal(uncal, out / f"photoncal_{i}", refdir, warm=True) for i in range(args.repeat)]
    theirs = []
    if args.jwst_python:
        overrides = jwst_overrides(uncal, refdir)
        theirs = [run_jwst(args.jwst_python, uncal, out / f"jwst_{i}", overrides) for i in range(args.repeat)]
    ours_steps, theirs_steps = _median_steps(ours), _median_steps(theirs) if theirs else {}
    print(f"\nmedian step times over {args.repeat} runs (s)")
    print(f"{'step':22s} {'photoncal':>10s} {'jwst':>10s}")
    for name in list(dict.fromkeys(list(ours_steps) + list(theirs_steps))):
        a = ours_steps.get(name)
        b = theirs_steps.get(name)
        print(f"{name:22s} {'' if a is None else f'{a:10.3f}':>10s} {'' if b is None else f'{b:10.3f}':>10s}")
    so = _summary(ours)
    print(f"\nphotoncal  in-process run: best {so['best']:.2f} s, median {so['median']:.2f} s "
          f"(runs: {_runs(ours)}); CPU {so['cpu']:.2f} s; peak memory {so['peak_mb']:.0f} MB; "
          f"import {so['import']:.2f} s")
    print(f"photoncal  second run in the same process: best {so['warm_best']:.2f} s, median {so['warm_median']:.2f} s,"
          f" CPU {so['warm_cpu']:.2f} s")
    if theirs:
        st = _summary(theirs)
        print(f"jwst       in-process run: best {st['best']:.2f} s, median {st['median']:.2f} s "
              f"(runs: {_runs(theirs)}); CPU {st['cpu']:.2f} s; peak memory {st['peak_mb']:.0f} MB; "
              f"import {st['import']:.2f} s")
        print(f"speed-up: best {st['best'] / so['best']:.1f}x, median {st['median'] / so['median']:.1f}x, "
              f"CPU {st['cpu'] / so['cpu']:.1f}x (second photoncal run: {st['median'] / so['warm_median']:.1f}x); "
              f"memory {st['peak_mb'] / so['peak_mb']:.1f}x less")
    if args.strun:
        ours_strun = [_strun_photoncal(uncal, out / f"strun_photoncal_{i}", refdir) for i in range(args.repeat)]
        print(f"\nstrun calwebb_detector1, start to finish: photoncal best {min(ours_strun):.2f} s, "
              f"median {statistics.median(ours_strun):.2f} s")
        if args.jwst_python:
            theirs_strun = [_strun_jwst(args.jwst_python, uncal, out / f"strun_jwst_{i}", overrides)
                            for i in range(args.repeat)]
            print(f"                                          jwst best {min(theirs_strun):.2f} s, "
                  f"median {statistics.median(theirs_strun):.2f} s "
                  f"(speed-up {statistics.median(theirs_strun) / statistics.median(ours_strun):.1f}x)")
    print(f"load average at the end {_load():.1f}")


def scaling(args):
    cases = [("pixels", "NRCA1", sub, "MEDIUM8", 10) for sub in ("SUB160", "SUB320", "SUB640", "FULL")]
    cases += [("groups", "NIS", "FULL", "NISRAPID", n) for n in (5, 10, 20, 50)]
    print(f"{'series':7s} {'detector':9s} {'subarray':8s} {'readpatt':9s} {'groups':>6s} {'Mpix*groups':>11s} "
          f"{'best s':>7s} {'median s':>8s} {'ns/pix/group':>12s} {'peak MB':>8s}")
    for series, detector, subarray, readpatt, ngroups in cases:
        uncal, refdir = prepare_exposure(args.workdir, detector=detector, subarray=subarray, readpatt=readpatt,
                                         ngroups=ngroups, nints=1)
        records = [run_photoncal(uncal, Path(args.workdir) / "out" / "scaling", refdir) for _ in range(args.repeat)]
        s = _summary(records)
        from astropy.io import fits

        header = fits.getheader(uncal, "SCI")
        size = header["NAXIS1"] * header["NAXIS2"] * ngroups
        print(f"{series:7s} {detector:9s} {subarray:8s} {readpatt:9s} {ngroups:6d} {size / 1e6:11.1f} "
              f"{s['best']:7.2f} {s['median']:8.2f} {1e9 * s['best'] / size:12.1f} {s['peak_mb']:8.0f}", flush=True)
    print(f"load average {_load():.1f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jwst-python", default=None, help="python interpreter with jwst installed")
    parser.add_argument("--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "photoncal_bench"))
    parser.add_argument("--detector", default="NRCA1")
    parser.add_argument("--subarray", default="FULL")
    parser.add_argument("--readpatt", default="MEDIUM8")
    parser.add_argument("--ngroups", type=int, default=10)
    parser.add_argument("--nints", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--strun", action="store_true", help="also time strun calwebb_detector1 start to finish")
    parser.add_argument("--scaling", action="store_true", help="photoncal over several sizes and group counts")
    args = parser.parse_args(argv)
    if args.scaling:
        scaling(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
