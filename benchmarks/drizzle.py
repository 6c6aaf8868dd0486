"""Throughput of photoncal's drizzle and blot against the drizzle package's C code.

Drizzles a full-frame image (default 2048 x 2048) onto a grid of its own
pixel scale (a dither-like shift and a small rotation) with each kernel,
single-threaded and with all numba threads, and times the reference
``drizzle`` package (single-threaded C) on the same inputs when installed.
Also times blot and the pixel-map computation, and prints peak memory.

Usage::

    PYTHONPATH=src python benchmarks/drizzle.py [--size 2048] [--repeat 3]
        [--kernels square,point,turbo,gaussian,tophat,lanczos3] [--threads N] [--drizzle-only]
    PYTHONPATH=src python benchmarks/drizzle.py --planes [--kernels square,turbo,point]

``--planes`` times stacks instead: each kernel with 1, 2 and 3 planes of one
pixel map and weight map (``Drizzle(nplanes=K)``), and one exposure of a
mosaic the old way (SCI, then each of three variances drizzled alone) against
one pass with the variances as ``single_data``; one thread, CPU seconds.

The machine's load average and CPU pressure are printed before and after:
wall-clock times of the multi-threaded runs mean something only when the
cores were otherwise idle. drizzle 3.0 has no ``tophat`` kernel, so that
kernel is timed without a C reference.
"""

import argparse
import os
import sys
import time
import warnings

# this script is called drizzle.py: keep its folder off the path so that
# "import drizzle" finds the reference package
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import numba  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, _HERE)  # only for the shared timing helpers
from _drizzle_timing import band_times, best_time, machine_load, peak_rss_mib  # noqa: E402

sys.path.remove(_HERE)

from photoncal.kernels.blot import blot_image  # noqa: E402
from photoncal.kernels.drizzle import Drizzle, resample_variance, sigma_planes  # noqa: E402

try:
    from drizzle.resample import SUPPORTED_DRIZZLE_KERNELS
    from drizzle.resample import Drizzle as ReferenceDrizzle
    from drizzle.resample import blot_image as reference_blot
except ImportError:  # the reference package is optional
    ReferenceDrizzle = None
    reference_blot = None
    SUPPORTED_DRIZZLE_KERNELS = ()


def own_scale_pixmap(n, angle_deg=0.05, shift=(0.37, 0.21)):
    y, x = np.indices((n, n), dtype=np.float64)
    t = np.deg2rad(angle_deg)
    c = (n - 1) / 2
    xo = np.cos(t) * (x - c) - np.sin(t) * (y - c) + c + shift[0]
    yo = np.sin(t) * (x - c) + np.cos(t) * (y - c) + c + shift[1]
    return np.dstack([xo, yo])


def band_split_estimate(data, weights, pixmap, nbands, repeat):
    """Print the square kernel's band-split estimate of the time on ``nbands`` idle cores."""
    n = data.shape[0]
    estimate, best = band_times(data, weights, pixmap, (n, n), nbands, repeat)
    print(f"square, {nbands} bands run one by one: set-up {best['setup']:.3f} s CPU, band work "
          f"{best['total']:.3f} s, slowest band {best['slowest']:.3f} s -> on {nbands} idle cores "
          f"~{estimate:.3f} s ({n * n / 1e6 / estimate:.1f} Mpix/s)")


def thread_schedstats():
    """{thread id: (seconds on a CPU, seconds waiting for one)} of this process (Linux)."""
    stats = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                run_ns, wait_ns = f.read().split()[:2]
        except OSError:
            continue
        stats[tid] = (int(run_ns) / 1e9, int(wait_ns) / 1e9)
    return stats


def parallel_thread_times(func, nthreads, repeat):
    """Per-thread CPU time and run-queue wait of a real ``nthreads`` run (the best of ``repeat``).

    On a busy machine the wall-clock time of a parallel run is mostly waiting
    for a free core; the threads' own CPU times show what the run would take
    on idle cores (the slowest thread) and whether running the bands at the
    same time (shared memory bandwidth) slows them down.
    """
    numba.set_num_threads(nthreads)
    best = None
    for _ in range(repeat):
        before = thread_schedstats()
        t0 = time.perf_counter()
        func()
        wall = time.perf_counter() - t0
        after = thread_schedstats()
        busy = sorted(((after[t][0] - before[t][0], after[t][1] - before[t][1])
                       for t in after if t in before), reverse=True)[:nthreads]
        if best is None or busy[0][0] < best[1][0][0]:
            best = (wall, busy)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return best


def planes_benchmark(data, weights, pixmap, kernels, repeat):
    """CPU seconds (one thread) of stacks of 1-3 planes, and of a mosaic exposure with its variances."""
    n = data.shape[0]
    numba.set_num_threads(1)
    stacks = {k: np.stack([data] * k) for k in (2, 3)}
    print("one thread, CPU seconds (best of --repeat): planes drizzled together with one map and weight")
    print(f"{'kernel':10s} {'1 plane':>8s} {'2 planes':>9s} {'3 planes':>9s}")
    for kernel in kernels:
        row = []
        for k in (1, 2, 3):
            def run(k=k):
                driz = Drizzle(kernel=kernel, out_shape=(n, n), nplanes=None if k == 1 else k)
                driz.add_image(data if k == 1 else stacks[k], exptime=1.0, pixmap=pixmap, weight_map=weights)
            run()  # compile
            row.append(best_time(run, repeat)[1])
        print(f"{kernel:10s} {row[0]:8.3f} {row[1]:9.3f} {row[2]:9.3f}")
    variances = [np.abs(data) * f for f in (0.01, 0.02, 0.03)]

    def four_passes():
        Drizzle(out_shape=(n, n)).add_image(data, exptime=1.0, pixmap=pixmap, weight_map=weights)
        for var in variances:
            resample_variance(var, pixmap, (n, n), weight_map=weights)

    def one_pass():
        Drizzle(out_shape=(n, n)).add_image(data, exptime=1.0, pixmap=pixmap, weight_map=weights,
                                            single_data=sigma_planes(variances))
    one_pass()
    four = best_time(four_passes, repeat)[1]
    one = best_time(one_pass, repeat)[1]
    print(f"mosaic exposure (square): SCI + 3 variances in 4 drizzles {four:.3f} s, in one pass {one:.3f} s "
          f"({four / one:.1f}x)")
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kernels", default="square,point,turbo,gaussian,tophat,lanczos3")
    parser.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS)
    parser.add_argument("--drizzle-only", action="store_true", help="skip the blot and pixel-map timings")
    parser.add_argument("--planes", action="store_true", help="time stacks of planes and single planes instead")
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
    print(f"load average (1, 5, 15 min) at start: {machine_load()}")
    if args.planes:
        kernels = args.kernels.split(",") if args.kernels != parser.get_default("kernels") else ["square", "turbo",
                                                                                                  "point"]
        planes_benchmark(data, weights, pixmap, kernels, max(args.repeat, 3))
        print(f"load average at end: {machine_load()}")
        return

    # compile outside the timings
    small = own_scale_pixmap(64)
    for kernel in args.kernels.split(","):
        Drizzle(kernel=kernel, out_shape=(64, 64)).add_image(data[:64, :64], 1.0, small)
    blot_image(data[:64, :64], small)

    print("wall-clock seconds (best of --repeat, variants interleaved), CPU seconds of that run,")
    print("speed-up of the wall-clock time over the C code")
    print(f"{'task':14s} {'threads':>7s} {'seconds':>8s} {'cpu':>6s} {'Mpix/s':>8s} {'vs C':>6s}")

    def compare(label, reference, ours):
        """Time the reference and ours at each thread count, interleaved."""
        variants = []
        if reference is not None:
            variants.append(("C", reference))
        for threads in thread_counts:
            variants.append((threads, ours))
        best = {name: (np.inf, np.inf) for name, _ in variants}
        for _ in range(args.repeat):
            for name, func in variants:
                numba.set_num_threads(args.threads if name == "C" else name)
                best[name] = min(best[name], best_time(func, 1)[:2])
        numba.set_num_threads(args.threads)
        reference_seconds = best["C"][0] if "C" in best else None
        for name, _ in variants:
            seconds, cpu = best[name]
            ratio = f"{reference_seconds / seconds:6.2f}" if reference_seconds else "   n/a"
            print(f"{label:14s} {name!s:>7s} {seconds:8.3f} {cpu:6.3f} {mpix / seconds:8.2f} {ratio}")

    for kernel in args.kernels.split(","):
        reference = None
        if kernel in SUPPORTED_DRIZZLE_KERNELS:
            def reference(kernel=kernel):
                ReferenceDrizzle(kernel=kernel, out_shape=(n, n)).add_image(
                    data, exptime=1.0, pixmap=pixmap, weight_map=weights)

        def ours(kernel=kernel):
            Drizzle(kernel=kernel, out_shape=(n, n)).add_image(
                data, exptime=1.0, pixmap=pixmap, weight_map=weights)
        compare(kernel, reference, ours)

    if "square" in args.kernels.split(",") and args.threads > 1:
        band_split_estimate(data, weights, pixmap, args.threads, args.repeat)
        if os.path.isdir("/proc/self/task"):
            wall, busy = parallel_thread_times(
                lambda: Drizzle(kernel="square", out_shape=(n, n)).add_image(
                    data, exptime=1.0, pixmap=pixmap, weight_map=weights), args.threads, args.repeat)
            cpu = ", ".join(f"{run:.3f}" for run, _ in busy)
            wait = ", ".join(f"{w:.3f}" for _, w in busy)
            print(f"square, real {args.threads}-thread run: wall {wall:.3f} s; per thread CPU {cpu} s, "
                  f"waiting for a core {wait} s -> on {args.threads} idle cores ~{busy[0][0]:.3f} s")

    if args.drizzle_only:
        print(f"load average at end: {machine_load()}")
        return
    resampled = Drizzle(out_shape=(n, n))
    resampled.add_image(data, exptime=1.0, pixmap=pixmap)
    median = np.nan_to_num(resampled.out_img)
    for interp in ("poly5", "linear"):
        reference = None
        if reference_blot is not None:
            def reference(interp=interp):
                reference_blot(median, pixmap, interp=interp)

        def ours(interp=interp):
            blot_image(median, pixmap, interp=interp)
        compare(f"blot-{interp}", reference, ours)

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
        seconds, _, _ = best_time(lambda: calc_pixmap(a, b), 1)
        print(f"calc_pixmap (gwcs TAN, {n}x{n}): {seconds:.3f} s, {mpix / seconds:.2f} Mpix/s")
    except ImportError:
        pass
    print(f"load average at end: {machine_load()}")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB (inputs: data+weights {2 * data.nbytes / 2**20:.0f} MiB, "
          f"pixmap {pixmap.nbytes / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
