"""Time and peak memory of the detector kernels on a full-frame ramp.

A 2048 x 2048 near-IR ramp with 10 groups (one integration) goes through the
stage-1 kernels in pipeline order; MIRI-only kernels run on a 1024 x 1032
ramp.  For each kernel the script prints the best wall time of ``--repeat``
runs (after a warm-up call that compiles the numba code), the throughput in
ramp bytes per second, and the extra resident memory the kernel needed above
its inputs (peak RSS, Linux).

    PYTHONPATH=src /work/venv/bin/python benchmarks/detector_kernels.py [--groups 10] [--repeat 3]
        [--jwst-python /work/jwstenv/bin/python]   # also time the established saturation and refpix
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import time

import numba
import numpy as np

from photoncal.dqflags import pixel as F
from photoncal.kernels import (
    dark_current,
    dq_init,
    group_scale,
    ipc,
    lastframe,
    linearity,
    persistence,
    refpix,
    reset,
    saturation,
    superbias,
)


def _rss_kib(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def measure(name, fn, setup, nbytes, repeat):
    """Run ``fn(*setup())`` once to warm up, then ``repeat`` times; print the best."""
    fn(*setup())
    best = np.inf
    extra = 0
    for _ in range(repeat):
        args = setup()
        can_reset = _reset_peak()
        before = _rss_kib("VmRSS")
        t0 = time.perf_counter()
        fn(*args)
        dt = time.perf_counter() - t0
        peak = _rss_kib("VmHWM") if can_reset else before
        best = min(best, dt)
        extra = max(extra, peak - before)
        del args
    print(f"{name:34s} {best * 1e3:9.1f} ms {nbytes / best / 1e9:8.2f} GB/s {extra / 1024:9.1f} MiB")
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jwst-python", default=None, help="also time jwst's saturation and refpix")
    args = parser.parse_args(argv)

    ng = args.groups
    n = 2048
    rng = np.random.default_rng(1)
    base = (rng.normal(12000, 30, (1, ng, n, n)) + np.arange(ng)[None, :, None, None] * 900.0).astype(np.float32)
    base[0, :, 100:140, 200:260] = 60000.0
    ramp_bytes = base.nbytes
    pdq0 = np.zeros((n, n), np.uint32)
    gdq0 = np.zeros(base.shape, np.uint8)
    thresh = np.full((n, n), 58000.0, np.float32)
    bias = rng.normal(11000, 20, (n, n)).astype(np.float32)
    coeffs = np.zeros((5, n, n), np.float32)
    coeffs[1] = 1.0
    coeffs[2] = 1e-6
    dark = np.cumsum(rng.uniform(0, 0.1, (ng, n, n)), axis=0).astype(np.float32)
    zeros2 = np.zeros((n, n), np.uint32)

    print(f"numba threads: {numba.get_num_threads()}, ramp 1 x {ng} x {n} x {n} float32 "
          f"({ramp_bytes / 2**20:.0f} MiB)\n")
    print(f"{'kernel':34s} {'time':>12s} {'ramp/time':>11s} {'extra RSS':>13s}")

    def fresh():
        return base.copy(), gdq0.copy(), pdq0.copy()

    total = 0.0
    total += measure("group_scale", lambda d, g, p: group_scale.rescale_groups(d, 1.6),
                     fresh, ramp_bytes, args.repeat)
    total += measure("dq_init", lambda d, g, p: dq_init.merge_mask_dq(p, g, zeros2),
                     fresh, ramp_bytes, args.repeat)
    total += measure("saturation (use_readpatt, grow 1)",
                     lambda d, g, p: saturation.flag_saturation(
                         d, g, p, thresh, zeros2, read_pattern=saturation.frame_read_pattern(1, ng), bias=bias),
                     fresh, ramp_bytes, args.repeat)
    total += measure("superbias", lambda d, g, p: superbias.subtract_superbias(d, p, bias, zeros2),
                     fresh, ramp_bytes, args.repeat)
    total += measure("refpix (NIR full frame)",
                     lambda d, g, p: refpix.refpix_nir(d, p, fastaxis=-1, slowaxis=2),
                     fresh, ramp_bytes, args.repeat)
    total += measure("linearity (5 coefficients)",
                     lambda d, g, p: linearity.correct_linearity(d, g, p, coeffs, zeros2),
                     fresh, ramp_bytes, args.repeat)
    total += measure("dark_current (nframes=1)",
                     lambda d, g, p: dark_current.subtract_dark(d, p, dark, zeros2, nframes=1, groupgap=0),
                     fresh, ramp_bytes, args.repeat)
    print(f"{'  sum of the stage-1 kernels above':34s} {total * 1e3:9.1f} ms\n")

    dark4 = np.cumsum(rng.uniform(0, 0.1, (4 * ng + 3 * ng, n, n)).astype(np.float32), axis=0)
    measure("dark_current (nframes=4, gap=3)",
            lambda d, g, p: dark_current.subtract_dark(d, p, dark4, zeros2, nframes=4, groupgap=3),
            fresh, ramp_bytes, args.repeat)
    del dark4
    kern = np.array([[0.0, -0.01, 0.0], [-0.01, 1.04, -0.01], [0.0, -0.01, 0.0]], np.float32)
    measure("ipc (3x3 kernel)", lambda d, g, p: ipc.ipc_correct(d, kern, (4, 4, 4, 4)),
            fresh, ramp_bytes, args.repeat)
    tf = np.zeros((3, n, n))
    tpars = persistence.TrapParameters(np.array([1e3, 5e2, 2e2]), np.array([-1e-3, -1e-2, -1e-1]),
                                       np.array([10.0, 5.0, 1.0]), np.array([-1e-3, -1e-2, -1e-1]))
    measure("persistence (trap model, 3 families)",
            lambda d, g, p: persistence.trap_persistence(
                d, g, p, tf.copy(), np.ones((n, n)), np.full((n, n), 6e4), tpars, frame_time=10.7,
                group_time=10.7, flag_pers_cutoff=40.0),
            fresh, ramp_bytes, 1)

    mbase = rng.normal(20000, 5, (2, ng, 1024, 1032)).astype(np.float32)
    mref = rng.normal(0, 2, (2, ng, 1024, 1032)).astype(np.float32)

    def mfresh():
        return mbase.copy(), np.zeros(mbase.shape, np.uint8), np.zeros((1024, 1032), np.uint32)

    measure("refpix (MIRI, 2 integrations)", lambda d, g, p: refpix.refpix_miri(d, p), mfresh, mbase.nbytes, args.repeat)
    measure("reset (MIRI, 2 integrations)",
            lambda d, g, p: reset.subtract_reset(d, p, mref, np.zeros((1024, 1032), np.uint32)),
            mfresh, mbase.nbytes, args.repeat)
    measure("lastframe", lambda d, g, p: lastframe.flag_last_group(g), mfresh, mbase.nbytes, args.repeat)

    if args.jwst_python:
        code = textwrap.dedent(f"""
            import time, logging, warnings
            import numpy as np
            warnings.simplefilter('ignore'); logging.disable(logging.CRITICAL)
            from stcal.saturation.saturation import flag_saturated_pixels
            from stdatamodels.jwst import datamodels
            from stdatamodels.jwst.datamodels import dqflags
            from jwst.refpix import reference_pixels
            ng, n = {ng}, 2048
            rng = np.random.default_rng(1)
            d = (rng.normal(12000, 30, (1, ng, n, n)) + np.arange(ng)[None, :, None, None] * 900.0).astype(np.float32)
            t = time.perf_counter()
            flag_saturated_pixels(d, np.zeros(d.shape, np.uint8), np.zeros((n, n), np.uint32),
                np.full((n, n), 58000.0, np.float32), np.zeros((n, n), np.uint32), 65535.0, dqflags.pixel,
                n_pix_grow_sat=1, read_pattern=[[g + 1] for g in range(ng)], bias=np.zeros((n, n), np.float32))
            print(f"jwst saturation {{(time.perf_counter() - t) * 1e3:9.1f}} ms")
            m = datamodels.RampModel(data=d)
            m.pixeldq = np.zeros((n, n), np.uint32)
            m.meta.instrument.name = 'NIRCAM'; m.meta.instrument.detector = 'NRCA1'
            m.meta.subarray.xstart = 1; m.meta.subarray.ystart = 1; m.meta.subarray.xsize = n
            m.meta.subarray.ysize = n; m.meta.subarray.fastaxis = -1; m.meta.subarray.slowaxis = 2
            m.meta.exposure.zero_frame = False
            p = dict(refpix_algorithm='median', sirs_kernel_model=None, sigreject=4.0, gaussmooth=1.0, halfwidth=30)
            t = time.perf_counter()
            reference_pixels.correct_model(m, True, True, 11, 1.0, True, p, 3.0)
            print(f"jwst refpix     {{(time.perf_counter() - t) * 1e3:9.1f}} ms")
        """)
        print()
        out = subprocess.run([args.jwst_python, "-c", code], capture_output=True, text=True)
        sys.stdout.write(out.stdout)
        if out.returncode:
            sys.stderr.write(out.stderr)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
