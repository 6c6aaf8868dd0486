"""Source finding per full frame: photoncal's numba finders against photutils'.

Usage::

    PYTHONPATH=src python benchmarks/starfind.py                     # simulated 2048 x 2048 frame
    PYTHONPATH=src python benchmarks/starfind.py --cal a_cal.fits    # SCI/DQ of cal exposures
    PYTHONPATH=src python benchmarks/starfind.py --threads 1 --repeat 5

For each frame it times (best of ``--repeat`` after a warm-up on a small
image, so numba compilation and imports are excluded):

* ``find_sources`` with the 'iraf' (TweakRegStep default) and 'dao'
  finders - background mesh, threshold and finder - with
  ``backend='photoncal'`` and ``backend='photutils'``;
* its parts: ``estimate_background`` and ``detect`` alone;
* source_catalog detection: ``detect(..., 'segmentation')`` (smoothing,
  photutils segmentation and deblending, photutils catalog) with our
  smoothing and with astropy's, and the smoothing alone.

and checks that both backends give the same sources.  It prints the
numba thread count and the load average, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np


def best_of(func, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return min(times), out


def simulated_frame(n, seed=0):
    from photoncal.sim import analytic as S

    rng = np.random.default_rng(seed)
    nstar = 1500
    x = rng.uniform(-5, n + 5, nstar)
    y = rng.uniform(-5, n + 5, nstar)
    flux = 10 ** rng.uniform(1.5, 4.5, nstar)
    sci = S.gaussian_stars((n, n), x, y, flux, 1.0) + 0.3 + rng.normal(0, 0.05, (n, n))
    sci = sci.astype(np.float32)
    dq = np.zeros((n, n), dtype=np.uint32)
    bad = rng.random((n, n)) < 0.005
    sci[bad] = np.nan
    dq[bad] = 1  # DO_NOT_USE
    dq[:4, :] = dq[-4:, :] = dq[:, :4] = dq[:, -4:] = 512 | 1  # reference pixels: NON_SCIENCE
    err = np.full((n, n), 0.05, dtype=np.float32)
    return "simulated", sci, dq, err


def cal_frame(path):
    from astropy.io import fits

    with fits.open(path) as hdul:
        return (os.path.basename(path), hdul["SCI"].data.astype(np.float32),
                hdul["DQ"].data.astype(np.uint32), hdul["ERR"].data.astype(np.float32))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cal", nargs="*", default=[], help="cal files (SCI, DQ, ERR) to measure")
    parser.add_argument("--size", type=int, default=2048, help="side of the simulated frame")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case (best is shown)")
    parser.add_argument("--threads", type=int, default=None, help="numba threads (default: all)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    import numba

    from photoncal.kernels import starfind as sf

    if args.threads:
        numba.set_num_threads(args.threads)
    small = np.random.default_rng(1).normal(100, 1, (96, 96)).astype(np.float32)
    for finder in ("iraf", "dao", "segmentation"):  # compile and import outside the timings
        sf.find_sources(small, bkg_boxsize=32, starfinder=finder, npixels=5)
    sf._convolve(small, 2.0, mask=np.zeros(small.shape, dtype=bool))

    frames = [cal_frame(p) for p in args.cal] or [simulated_frame(args.size)]
    print(f"numba threads {numba.get_num_threads()}, load average at start "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for name, sci, dq, err in frames:
        print(f"\n{name}: {sci.shape[0]} x {sci.shape[1]}")
        coverage = ~np.isfinite(sci) | ((dq & sf.DEFAULT_BAD_BITS) != 0)
        for finder in ("iraf", "dao"):
            opts = {} if finder == "iraf" else {"sharplo": 0.2, "sharphi": 1.0, "roundlo": -1.0}
            timings = {}
            cats = {}
            for backend in ("photoncal", "photutils"):
                timings[backend], cats[backend] = best_of(
                    lambda: sf.find_sources(sci, dq=dq, starfinder=finder, backend=backend, **opts),
                    args.repeat)
            a, b = cats["photoncal"], cats["photutils"]
            same = len(a) == len(b) and all(np.allclose(a[c], b[c], rtol=1e-9) for c in a.colnames)
            print(f"  find_sources {finder:4s}  photoncal {timings['photoncal']:6.3f} s   photutils "
                  f"{timings['photutils']:6.3f} s   x{timings['photutils'] / timings['photoncal']:5.1f}"
                  f"   {len(a)} sources, same as photutils: {same}")
        for backend in ("photoncal", "photutils"):
            t, (bkg, rms) = best_of(lambda: sf.estimate_background(sci, 400, coverage, backend=backend),
                                    args.repeat)
            print(f"    estimate_background (box 400)  {backend:9s} {t:6.3f} s")
        data = sci - bkg
        threshold = 10.0 * rms
        for backend in ("photoncal", "photutils"):
            t, _ = best_of(lambda: sf.detect(data, threshold, 2.5, "iraf", coverage, backend=backend,
                                             min_separation=2, n_brightest=200), args.repeat)
            print(f"    detect iraf                    {backend:9s} {t:6.3f} s")

        # source_catalog's detection: its defaults (box 1000, 3 sigma, kernel FWHM 2, 25 pixels)
        bkg, rms = sf.estimate_background(sci, 1000, coverage)
        data = (sci - bkg).astype(np.float64)
        seg_kw = {"n_pixels": 25, "connectivity": 8, "n_levels": 32, "contrast": 0.001,
                  "mode": "exponential", "deblend": True, "error": err.astype(np.float64)}
        results = {}
        for backend in ("photoncal", "photutils"):
            t_conv, _ = best_of(lambda: sf._convolve(data, 2.0, mask=coverage, backend=backend), args.repeat)
            t_seg, results[backend] = best_of(
                lambda: sf.detect(data, 3.0 * rms, 2.0, "segmentation", coverage, backend=backend, **seg_kw),
                max(1, args.repeat - 1))
            print(f"  source_catalog detect  {backend:9s} {t_seg:6.3f} s  (smoothing {t_conv:6.3f} s)")
        (ca, sa), (cb, sb) = results["photoncal"], results["photutils"]
        print(f"    same segmentation and catalog: "
              f"{np.array_equal(sa.data, sb.data) and len(ca) == len(cb)}, {len(ca)} sources")
    print(f"load average at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
