"""Throughput and peak memory of the stage-3 kernels on full-frame-sized data.

Usage::

    PYTHONPATH=src python benchmarks/stage3_kernels.py            # 2048 x 2048 frames
    PYTHONPATH=src python benchmarks/stage3_kernels.py --size 1024 --nimages 4

Each case runs twice after a warm-up call on a small input (numba compilation
and imports are excluded): once timed, once under tracemalloc for the peak
memory allocated through Python/numpy during the case beyond the inputs
already held (tracemalloc slows Python-heavy code, so it is not timed).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings

import numpy as np

from photoncal.sim import analytic as S


def run(label, func, *, pixels=None, items=None):
    t0 = time.perf_counter()
    out = func()
    dt = time.perf_counter() - t0
    del out
    tracemalloc.start()
    out = func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rate = ""
    if pixels:
        rate = f"{pixels / dt / 1e6:8.1f} Mpix/s"
    elif items:
        rate = f"{items / dt:8.0f} items/s"
    print(f"{label:52s} {dt:7.2f} s {rate:>16s}   peak +{peak / 2**20:7.1f} MiB")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="frame side in pixels")
    parser.add_argument("--nimages", type=int, default=8, help="images in the median stack")
    args = parser.parse_args()
    n = args.size
    rng = np.random.default_rng(0)
    warnings.simplefilter("ignore")

    from photoncal.kernels import outlier as ol
    from photoncal.kernels import skymatch as sm
    from photoncal.kernels import source_catalog as sc
    from photoncal.kernels import starfind as sf
    from photoncal.kernels import tweakreg as tw

    # warm-up (numba compilation, imports)
    small = [rng.normal(0, 1, (64, 64)).astype(np.float32) for _ in range(3)]
    ol.median_stack(small, small)
    ol.flag_resampled_crs(small[0], small[1], small[2], 5, 4, 1.2, 0.7)
    sf.find_sources(small[0] + 100, bkg_boxsize=32)

    print(f"frames {n} x {n}, median stack of {args.nimages}")
    images = [(10 + rng.normal(0, 1, (n, n))).astype(np.float32) for _ in range(args.nimages)]
    weights = [np.ones((n, n), dtype=np.float32) for _ in range(args.nimages)]
    stack_bytes = args.nimages * n * n * 4
    print(f"  (input stack: {stack_bytes / 2**20:.0f} MiB + as much in weights)")
    run(f"median_stack {args.nimages} images, weights, 64 MiB buffer",
        lambda: ol.median_stack(images, weights, buffer_bytes=64 * 2**20),
        pixels=args.nimages * n * n)
    run(f"median_stack {args.nimages} images, nlow=1 nhigh=1, 16 MiB",
        lambda: ol.median_stack(images, nlow=1, nhigh=1, buffer_bytes=16 * 2**20),
        pixels=args.nimages * n * n)
    run(f"numpy nanmedian of the same stack (reference)",
        lambda: np.nanmedian(np.array(images), axis=0), pixels=args.nimages * n * n)
    med = ol.median_stack(images)
    err = np.ones((n, n), dtype=np.float32)
    run("flag_resampled_crs (driz_cr) one frame",
        lambda: ol.flag_resampled_crs(images[0], err, med, 5.0, 4.0, 1.2, 0.7), pixels=n * n)
    cube = np.stack(images[: min(8, args.nimages)])
    run(f"flag_outliers_tso cube of {len(cube)} (one median)",
        lambda: ol.flag_outliers_tso(cube, np.ones_like(cube), rolling_window_width=1),
        pixels=cube.size)
    del images, weights, cube

    # stars for source finding and catalogs
    nstar = 600
    x = rng.uniform(10, n - 10, nstar)
    y = rng.uniform(10, n - 10, nstar)
    flux = rng.uniform(2e-4, 2e-2, nstar)
    sky = S.gaussian_stars((n, n), x, y, flux, 1.5) + 1e-5 + rng.normal(0, 2e-6, (n, n))
    run("find_sources (iraf) full frame", lambda: sf.find_sources(sky / 2e-6), pixels=n * n)
    run("make_source_catalog (segmentation) full frame",
        lambda: sc.make_source_catalog(sky, np.full((n, n), 2e-6), bkg_boxsize=256, npixels=10,
                                       deblend=False), pixels=n * n)
    del sky

    # matching and fitting
    ref = rng.uniform(-60, 60, (2000, 2))
    im = ref - [0.3, 0.2] + rng.normal(0, 0.005, ref.shape)
    run("match_catalogs 2000 x 2000 (2-D histogram + tolerance)",
        lambda: tw.match_catalogs(ref, im, pscale=0.03), items=2000)
    pairs = tw.match_catalogs(ref, im, pscale=0.03)
    run("iter_linear_fit general, 3 clip iterations",
        lambda: tw.iter_linear_fit(ref[pairs.ref_idx], im[pairs.im_idx], fitgeom="general"),
        items=len(pairs))
    run("match_catalogs triangles (nmatch=30) 2000 x 2000",
        lambda: tw.match_catalogs(ref, im, algorithm="triangles"), items=2000)

    # sky matching of four overlapping frames with the real footprint machinery
    ra0, dec0 = 53.1, -27.8
    shape = (n, n)
    skyims = []
    for k, (dx, dy) in enumerate([(0, 0), (20, 5), (5, 25), (25, 25)]):
        r, d = S.offset_pointing(ra0, dec0, dx, dy)
        w, _ = S.imaging_wcs(r, d, 5.0 * k, shape=shape, distortion=0.5)
        data = (1.0 + 0.1 * k + rng.normal(0, 0.05, shape)).astype(np.float32)
        skyims.append(sm.sky_image(data, w, id=k))
    run("match_sky global+match 4 frames (6 pairs, mode)",
        lambda: sm.match_sky(skyims, "global+match"), pixels=4 * n * n)


if __name__ == "__main__":
    main()
