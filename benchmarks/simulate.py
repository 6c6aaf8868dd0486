"""Benchmark of photoncal.sim: a NIRCam full-frame MEDIUM8 exposure with 10 groups.

Prints the time of each stage (scene rendering and signal chain, Level-1b
file, truth file) and the peak memory of the process.  The detector
properties are built (and the numba kernels compiled) in a warm-up run, as
in any session that simulates more than one exposure; the reference set is
not written (``write_references=False``).

    PYTHONPATH=src python benchmarks/simulate.py [--ngroups 10] [--readpatt MEDIUM8]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--detector", default="NRCA1")
    parser.add_argument("--subarray", default="FULL")
    parser.add_argument("--readpatt", default="MEDIUM8")
    parser.add_argument("--ngroups", type=int, default=10)
    parser.add_argument("--nints", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)

    from photoncal import sim
    from photoncal.sim.exposure import setup_exposure, simulate_arrays
    from photoncal.sim.observe import build_level1b
    from photoncal.sim.truth import truth_path_for

    t0 = time.perf_counter()
    warm = setup_exposure(detector=args.detector, subarray="SUB64P" if args.detector.startswith("NRC") else "FULL",
                          readpatt=args.readpatt, ngroups=2, seed=0)
    simulate_arrays(warm)
    from photoncal.sim.detector import detector_properties

    props = detector_properties(args.detector, args.subarray)
    for name in ("gain", "readnoise", "superbias", "full_well", "linearity_signal", "dark_rate",
                 "area", "response", "bad_pixel_response", "saturation"):
        getattr(props, name)
    print(f"warm-up (numba, detector properties): {time.perf_counter() - t0:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeat):
            t = time.perf_counter()
            setup = setup_exposure(detector=args.detector, subarray=args.subarray,
                                   readpatt=args.readpatt, ngroups=args.ngroups, nints=args.nints,
                                   seed=100 + k)
            t_setup = time.perf_counter()
            result = simulate_arrays(setup)
            t_sim = time.perf_counter()
            model = build_level1b(result)
            path = os.path.join(tmp, model.meta.filename)
            model.to_fits(path)
            t_fits = time.perf_counter()
            result.truth.save(truth_path_for(path))
            t_truth = time.perf_counter()
            ny, nx = result.data.shape[2:]
            frames = setup.timing["frames_per_integration"] * args.nints
            print(f"run {k + 1}: {args.detector} {args.subarray} {args.readpatt} ngroups={args.ngroups} "
                  f"nints={args.nints} ({nx}x{ny}, {frames} frames, "
                  f"{len(setup.scene.sources)} sources, {len(result.truth.cosmic_rays)} CR deposits)")
            print(f"  setup {t_setup - t:.2f} s | signal chain {t_sim - t_setup:.2f} s "
                  f"({nx * ny * frames / (t_sim - t_setup) / 1e6:.0f} Mpixel-frames/s) | "
                  f"uncal write {t_fits - t_sim:.2f} s ({os.path.getsize(path) / 1e6:.0f} MB) | "
                  f"truth write {t_truth - t_fits:.2f} s | total {t_truth - t:.2f} s")
    print(f"peak memory: {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
