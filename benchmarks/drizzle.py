"""Throughput of photoncal's drizzle and blot against the drizzle package's C code.

Drizzles a full-frame image (default 2048 x 2048) onto a grid of its own
pixel scale (a dither-like shift and a small rotation) with each kernel,
single-threaded and with all numba threads, and times the reference
``drizzle`` package (single-threaded C) on the same inputs when installed.
Also times blot and the pixel-map computation, and prints peak memory.

Usage::

    PYTHONPATH=src python benchmarks/drizzle.py [--size 2048] [--repeat 3]
        [--kernels square,point,turbo,gaussian,lanczos3] [--threads N]
"""

import argparse
import os
import resource
import sys
import time
import warnings

# this script is called drizzle.py: keep its folder off the path so that
# "import drizzle" finds the reference package
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import numba  # noqa: E402
import numpy as np  # noqa: E402

from photoncal.kernels.blot import blot_image  # noqa: E402
from photoncal.kernels.drizzle import Drizzle  # noqa: E402

try:
    from drizzle.resample import Drizzle as ReferenceDrizzle
    from drizzle.resample import blot_image as reference_blot
except ImportError:  # the reference package is optional
    ReferenceDrizzle = None
    reference_blot = None


def own_scale_pixmap(n, angle_deg=0.05, shift=(0.37, 0.21)):
    y, x = np.indices((n, n), dtype=np.float64)
    t = np.deg2rad(angle_deg)
    c = (n - 1) / 2
    xo = np.cos(t) * (x - c) - np.sin(t) * (y - c) + c + shift[0]
    yo = np.sin(t) * (x - c) + np.cos(t) * (y - c) + c + shift[1]
    return np.dstack([xo, yo])


def best_time(func, repeat):
    """Best wall-clock time of ``repeat`` runs (and that run's CPU time)."""
    best = (np.inf, np.inf)
    for _ in range(repeat):
        t0 = time.perf_counter()
        c0 = time.process_time()
        func()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kernels", default="square,point,turbo,gaussian,lanczos3")
    parser.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    n = args.size
    rng = np.random.default_rng(0)
    data = rng.normal(100.0, 10.0, (n, n)).astype(np.float32)
    weights = rng.uniform(0.5, 1.5, (n, n)).astype(np.float32)
    pixmap = own_scale_pixmap(n)
    mpix = n * n / 1e6
    thread_counts = sorted({1, args.threads})
    print(f"drizzle {n}x{n} onto its own-scale grid; numba threads available: "
          f"{numba.config.NUMBA_NUM_THREADS}")

    # compile outside the timings
    small = own_scale_pixmap(64)
    for kernel in args.kernels.split(","):
        Drizzle(kernel=kernel, out_shape=(64, 64)).add_image(data[:64, :64], 1.0, small)
    blot_image(data[:64, :64], small)

    print("wall-clock seconds (best of --repeat), CPU seconds of that run, speed-up over the C code")
    print(f"{'kernel':10s} {'threads':>7s} {'seconds':>8s} {'cpu':>6s} {'Mpix/s':>8s} {'vs C':>6s}")
    for kernel in args.kernels.split(","):
        reference_seconds = None
        if ReferenceDrizzle is not None:
            def run_reference():
                ReferenceDrizzle(kernel=kernel, out_shape=(n, n)).add_image(
                    data, exptime=1.0, pixmap=pixmap, weight_map=weights)
            reference_seconds, cpu = best_time(run_reference, args.repeat)
            print(f"{kernel:10s} {'C':>7s} {reference_seconds:8.3f} {cpu:6.3f} "
                  f"{mpix / reference_seconds:8.2f} {1.0:6.2f}")
        for threads in thread_counts:
            numba.set_num_threads(threads)

            def run_ours():
                Drizzle(kernel=kernel, out_shape=(n, n)).add_image(
                    data, exptime=1.0, pixmap=pixmap, weight_map=weights)
            seconds, cpu = best_time(run_ours, args.repeat)
            ratio = f"{reference_seconds / seconds:6.2f}" if reference_seconds else "   n/a"
            print(f"{kernel:10s} {threads:7d} {seconds:8.3f} {cpu:6.3f} {mpix / seconds:8.2f} {ratio}")
        numba.set_num_threads(args.threads)

    resampled = Drizzle(out_shape=(n, n))
    resampled.add_image(data, exptime=1.0, pixmap=pixmap)
    median = np.nan_to_num(resampled.out_img)
    for interp in ("poly5", "linear"):
        reference_seconds = None
        if reference_blot is not None:
            reference_seconds, cpu = best_time(lambda: reference_blot(median, pixmap, interp=interp), args.repeat)
            print(f"blot-{interp:6s} {'C':>6s} {reference_seconds:8.3f} {cpu:6.3f} "
                  f"{mpix / reference_seconds:8.2f} {1.0:6.2f}")
        for threads in thread_counts:
            numba.set_num_threads(threads)
            seconds, cpu = best_time(lambda: blot_image(median, pixmap, interp=interp), args.repeat)
            ratio = f"{reference_seconds / seconds:6.2f}" if reference_seconds else "   n/a"
            print(f"blot-{interp:6s} {threads:6d} {seconds:8.3f} {cpu:6.3f} {mpix / seconds:8.2f} {ratio}")
        numba.set_num_threads(args.threads)

    try:
        from astropy import units as u
        from astropy import coordinates as coord
        from astropy.modeling import models
        import gwcs
        from gwcs import coordinate_frames as cf

        from photoncal.wcs.pixmap import calc_pixmap

        def tan_wcs(crpix, angle):
            t = np.deg2rad(angle)
            m = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]) * (0.031 / 3600)
            tr = ((models.Shift(-crpix) & models.Shift(-crpix)) | models.AffineTransformation2D(matrix=m)
                  | models.Pix2Sky_TAN() | models.RotateNative2Celestial(53.1, -27.8, 180.0))
            det = cf.Frame2D(name="detector", axes_names=("x", "y"), unit=(u.pix, u.pix))
            sky = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world", unit=(u.deg, u.deg))
            w = gwcs.WCS([(det, tr), (sky, None)])
            w.array_shape = (n, n)
            return w

        a, b = tan_wcs(n / 2, 0.0), tan_wcs(n / 2 + 3.3, 0.05)
        seconds, _ = best_time(lambda: calc_pixmap(a, b), 1)
        print(f"calc_pixmap (gwcs TAN, {n}x{n}): {seconds:.3f} s, {mpix / seconds:.2f} Mpix/s")
    except ImportError:
        pass
    print(f"peak RSS: {peak_rss_mib():.0f} MiB (inputs: data+weights {2 * data.nbytes / 2**20:.0f} MiB, "
          f"pixmap {pixmap.nbytes / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
