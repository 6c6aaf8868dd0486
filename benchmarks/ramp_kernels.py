"""Throughput and peak memory of the ramp kernels and the ramp simulator.

Each case runs in its own process (so its peak RSS is its own), builds its
inputs plane by plane (no ramp-sized temporaries), runs the kernel once to
load/compile it and then times the next ``--repeat`` runs (default 1).
Printed per case: the least wall and the least CPU seconds of the timed
runs, pixel-groups per second, the input size and the process's peak RSS.

Usage::

    PYTHONPATH=src /work/venv/bin/python benchmarks/ramp_kernels.py [--size 2048] [--only fit,jump] [--repeat 3]

Cases: ``fit`` (JWST ramp fitting, 5/10/20/50 groups), ``jump`` (jump
detection, same), ``uneven`` (Roman 4096x4096, 9 resultants from 44 reads),
``sim`` (2048x2048 10-group MEDIUM8 and the Roman exposure).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

ROMAN_PATTERN = [[1], [2, 3], [4, 5, 6, 7], [8, 9, 10, 11, 12], [13, 14, 15, 16, 17, 18],
                 [19, 20, 21, 22, 23, 24, 25], [26, 27, 28, 29, 30, 31, 32, 33], [34, 35, 36, 37, 38],
                 [39, 40, 41, 42, 43, 44]]


def _ramps(nints, ngroups, n, seed=0, tgroup=10.737):
    """Noisy linear ramps with a few jumps, built one plane at a time."""
    rng = np.random.default_rng(seed)
    rate = rng.uniform(0.5, 50.0, (n, n)).astype(np.float32)
    data = np.empty((nints, ngroups, n, n), dtype=np.float32)
    for i in range(nints):
        for k in range(ngroups):
            data[i, k] = rate * (tgroup * (k + 1)) + rng.normal(0.0, 8.0, (n, n)).astype(np.float32)
            if k > 0:
                hit = rng.random((n, n)) < 2e-3
                data[i, k:, hit] += 500.0
    return data


def run_case(case, size, repeat=1):
    """Run one case in this process; return its measurements (the least wall
    and the least CPU time over ``repeat`` timed calls)."""
    from photoncal.kernels.jump import detect_jumps
    from photoncal.kernels.ramp_fit import fit_ramps
    from photoncal.kernels.ramp_uneven import fit_ramps_uneven
    from photoncal.sim.ramps import jwst_read_pattern, simulate_ramps

    kind, _, arg = case.partition(":")
    n = size
    if kind in ("fit", "jump"):
        ngroups = int(arg)
        data = _ramps(1, ngroups, n)
        gdq = np.zeros(data.shape, np.uint8)
        pdq = np.zeros((n, n), np.uint32)
        gain = np.full((n, n), 2.0, np.float32)
        rn = np.full((n, n), 12.0, np.float32)
        inputs = data.nbytes + gdq.nbytes
        samples = data.size
        if kind == "fit":
            def work():
                fit_ramps(data, gdq, pdq, gain, rn, frame_time=10.737, group_time=10.737, nframes=1)
        else:
            def work():
                detect_jumps(data, gdq, pdq, gain, rn, nframes=1, group_time=10.737)
    elif kind == "uneven":
        n = 4096 if size >= 2048 else size
        rng = np.random.default_rng(1)
        rate = rng.uniform(0.5, 50.0, (n, n)).astype(np.float32)
        data = np.empty((len(ROMAN_PATTERN), n, n), dtype=np.float32)
        for k, reads in enumerate(ROMAN_PATTERN):
            data[k] = rate * (3.04 * np.mean(reads)) + rng.normal(0.0, 5.0, (n, n)).astype(np.float32)
        gdq = np.zeros(data.shape, np.uint8)
        inputs = data.nbytes + gdq.nbytes
        samples = data.size

        def work():
            fit_ramps_uneven(data, gdq, 0, 2.0, 6.0, read_pattern=ROMAN_PATTERN, read_time=3.04)
    elif kind == "sim":
        rng = np.random.default_rng(2)
        if arg == "medium8":
            rate = rng.uniform(0.1, 30.0, (n, n))
            pattern, frame_time = jwst_read_pattern(8, 2, 10), 10.737
        else:
            n = 4096 if size >= 2048 else size
            rate = rng.uniform(0.1, 30.0, (n, n))
            pattern, frame_time = ROMAN_PATTERN, 3.04
        inputs = rate.nbytes
        samples = n * n * len(pattern)

        def work():
            simulate_ramps(rate, frame_time=frame_time, read_pattern=pattern, gain=2.0, read_noise=8.0,
                           bias=np.full((n, n), 1.0e4), saturation=np.full((n, n), 6.0e4), seed=3)
    else:
        raise SystemExit(f"unknown case {case!r}")

    work()  # load or compile
    wall = cpu = float("inf")
    for _ in range(max(1, repeat)):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        work()
        wall = min(wall, time.perf_counter() - wall0)
        cpu = min(cpu, time.process_time() - cpu0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return dict(case=case, shape=n, wall=wall, cpu=cpu, samples=samples, inputs_mb=inputs / 2**20,
                peak_rss_mb=peak)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2048, help="side of the JWST arrays (Roman: 4096)")
    parser.add_argument("--only", default="fit,jump,uneven,sim", help="comma-separated case kinds")
    parser.add_argument("--groups", default="5,10,20,50", help="group counts for fit and jump")
    parser.add_argument("--repeat", type=int, default=1,
                        help="timed calls per case; the least wall and CPU time are printed (the machine is shared)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case, args.size, args.repeat)))
        return

    import numba

    kinds = args.only.split(",")
    cases = []
    for kind in ("fit", "jump"):
        if kind in kinds:
            cases += [f"{kind}:{g}" for g in args.groups.split(",")]
    if "uneven" in kinds:
        cases.append("uneven:9")
    if "sim" in kinds:
        cases += ["sim:medium8", "sim:roman"]
    print(f"numba threads: {numba.config.NUMBA_NUM_THREADS}; load average at start: "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'case':14s} {'pixels':>11s} {'wall s':>8s} {'cpu s':>8s} {'Msamples/s':>11s} "
          f"{'inputs MB':>10s} {'peak RSS MB':>12s}")
    for case in cases:
        proc = subprocess.run([sys.executable, __file__, "--case", case, "--size", str(args.size),
                               "--repeat", str(args.repeat)],
                              capture_output=True, text=True, env=os.environ.copy())
        if proc.returncode != 0:
            print(f"{case}: failed\n{proc.stderr[-2000:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{r['case']:14s} {r['shape']:>5d}x{r['shape']:<5d} {r['wall']:8.3f} {r['cpu']:8.3f} "
              f"{r['samples'] / r['wall'] / 1e6:11.1f} {r['inputs_mb']:10.0f} {r['peak_rss_mb']:12.0f}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
