"""Opening a full-frame ramp reads no pixel data until it is used.

Writes a 2048 x 2048 x 10 groups x 1 integration ramp (float32, the
``_ramp`` layout) and the same exposure as a raw ``_uncal`` file (uint16),
then, each in a fresh process, opens it and prints the resident memory
(current and peak) right after ``open()`` and after touching ``model.data``.

Run from the repository root::

    PYTHONPATH=src python benchmarks/datamodels_memmap.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

SHAPE = (1, 10, 2048, 2048)


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_files(directory: str) -> None:
    import numpy as np

    from photoncal import datamodels as dm

    rng = np.random.default_rng(0)
    raw = rng.integers(1000, 60000, size=SHAPE, dtype=np.uint16)
    uncal = dm.Level1bModel(data=raw)
    uncal.meta.instrument.name = "NIRCAM"
    uncal.meta.instrument.detector = "NRCA1"
    uncal.meta.exposure.ngroups = SHAPE[1]
    uncal.meta.exposure.nints = SHAPE[0]
    uncal.save(os.path.join(directory, "bench_uncal.fits"))
    ramp = dm.RampModel(raw.astype(np.float32))
    ramp.meta.instrument.name = "NIRCAM"
    ramp.save(os.path.join(directory, "bench_ramp.fits"))


def measure(path: str, memmap: bool) -> None:
    base = rss_mib()
    t0 = time.perf_counter()
    from photoncal import datamodels as dm

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = dm.open(path, memmap=memmap)
    t_open = time.perf_counter() - t0
    after_open, peak_open = rss_mib(), peak_mib()
    t0 = time.perf_counter()
    data = model.data
    total = float(data.sum(dtype="float64"))  # touches every page
    t_touch = time.perf_counter() - t0
    after_touch, peak_touch = rss_mib(), peak_mib()
    size = data.nbytes / 2**20
    print(f"{os.path.basename(path):18s} memmap={str(memmap):5s} {type(model).__name__:9s} "
          f"data {data.dtype.str} {size:6.0f} MiB | "
          f"RSS before open {base:6.0f} MiB, after open {after_open:6.0f} (peak {peak_open:6.0f}), "
          f"after touching data {after_touch:6.0f} (peak {peak_touch:6.0f}) | "
          f"import {t_import:.2f}s open {t_open:.3f}s read+sum {t_touch:.2f}s  [sum={total:.4g}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", help="directory for the test files (kept); default: a temporary one")
    parser.add_argument("--measure", nargs=2, metavar=("PATH", "MEMMAP"), help=argparse.SUPPRESS)
    parser.add_argument("--write", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure[0], args.measure[1] == "1")
        return
    if args.write:
        write_files(args.write)
        return
    directory = args.keep or tempfile.mkdtemp(prefix="photoncal_bench_")
    os.makedirs(directory, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.join(os.path.dirname(__file__), "..", "src"),
                                                      env.get("PYTHONPATH")]))
    try:
        if not os.path.exists(os.path.join(directory, "bench_ramp.fits")):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--write", directory], check=True, env=env)
            print(f"wrote the test files in {time.perf_counter() - t0:.1f}s")
        for name in ("bench_ramp.fits", "bench_uncal.fits"):
            for memmap in ("1", "0"):
                subprocess.run([sys.executable, __file__, "--measure", os.path.join(directory, name), memmap],
                               check=True, env=env)
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
