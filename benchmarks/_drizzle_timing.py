"""Timing helpers shared by benchmarks/drizzle.py and benchmarks/resample.py."""

from __future__ import annotations

import os
import resource
import time

import numpy as np


def machine_load():
    """Load averages and the CPU pressure (share of time some task waited for a CPU)."""
    text = " ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        with open("/proc/pressure/cpu") as f:
            some = f.readline().split()
        text += " | cpu pressure " + " ".join(some[1:3])
    except OSError:
        pass
    return text


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def best_time(func, repeat):
    """Best wall-clock time of ``repeat`` runs, the CPU time of that run, and its result."""
    best = (np.inf, np.inf)
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        c0 = time.process_time()
        out = func()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best[0], best[1], out


def band_times(data, weights, pixmap, out_shape, nbands, repeat):
    """The square kernel's output-row bands run one after another (CPU seconds).

    On a machine too busy for a clean multi-threaded timing, set-up plus the
    slowest band estimates the wall-clock time on ``nbands`` idle cores.
    Uses the drizzle module's internals.  Returns ``(estimate, parts)`` with
    parts ``setup``, ``slowest`` and ``total`` (the best of ``repeat`` runs).
    """
    from photoncal.kernels import drizzle as drizzle_module
    from photoncal.kernels import drizzle_kernels as kernels
    from photoncal.kernels.drizzle_geometry import scan_image

    ny, nx = data.shape
    best = {}
    for _ in range(repeat):
        c0 = time.process_time()
        ok, *box = kernels.valid_section(pixmap, 0, nx - 1, 0, ny - 1)
        scan = scan_image(pixmap, out_shape, *box)
        with drizzle_module._ThreadCount(1):
            lo, hi = kernels.footprint_row_bounds(pixmap, scan.row_first, scan.row_last, True, 0.0, 1.0)
        bands = drizzle_module._output_bands(scan.row_first, scan.row_last, lo, hi, out_shape[0], nbands)
        setup = time.process_time() - c0
        out = np.full(out_shape, np.nan, np.float32)
        wht = np.zeros(out_shape, np.float32)
        ctx = np.zeros(out_shape, np.int32)
        none2 = np.zeros((0, 1, 1), np.float32)
        nodq = np.zeros((1, 1), np.uint32)
        band_times = []
        for b in range(len(bands) - 1):
            c0 = time.process_time()
            kernels._square_band(data, weights, True, pixmap, out, wht, ctx, True, np.int32(1), none2, none2,
                                 nodq, nodq, False, None, None, None, scan.row_first, scan.row_last, lo, hi,
                                 bands[b], bands[b + 1], np.float32(1), np.float32(1), 1.0)
            band_times.append(time.process_time() - c0)
        for key, value in (("setup", setup), ("slowest", max(band_times)), ("total", sum(band_times))):
            best[key] = min(best.get(key, np.inf), value)
    return best["setup"] + best["slowest"], best
