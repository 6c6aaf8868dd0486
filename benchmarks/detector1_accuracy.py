"""calwebb_detector1 against the truth on a full-frame NIRCam exposure.

Simulates NRCA1 FULL, MEDIUM8, 10 groups (every detector effect, cosmic
rays at the default rate; a second exposure without cosmic rays for the
false-jump rate), runs photoncal's Detector1Pipeline with the simulated
reference set and prints what issue 5 asks of a known truth:

* count-rate bias (median relative error on clean pixels) and error honesty
  (robust scatter of (rate - truth) / ERR),
* the fraction of cosmic rays above 10 sigma flagged,
* false jumps per usable group difference on the exposure without cosmic rays.

Usage::

    PYTHONPATH=src python benchmarks/detector1_accuracy.py [--workdir DIR] [--sky-offset 0]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import numpy as np

from _stage1_common import prepare_exposure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="where exposures and references go, kept (default: a temporary directory, removed)")
    parser.add_argument("--subarray", default="FULL")
    parser.add_argument("--readpatt", default="MEDIUM8")
    parser.add_argument("--ngroups", type=int, default=10)
    parser.add_argument("--sky-offset", type=float, default=0.0, help="extra sky, MJy/sr")
    args = parser.parse_args()

    from photoncal import datamodels, dqflags
    from photoncal.datamodels.subarray import ref_to_science_subarray
    from photoncal.pipeline.detector1 import Detector1Pipeline
    from photoncal.sim import evaluate
    from photoncal.sim.truth import Truth, truth_path_for

    workdir = args.workdir or tempfile.mkdtemp(prefix="photoncal_d1acc_")
    common = dict(subarray=args.subarray, readpatt=args.readpatt, ngroups=args.ngroups,
                  sky_offset=args.sky_offset)
    uncal, refdir = prepare_exposure(workdir, seed=3, **common)
    truth = Truth.load(truth_path_for(str(uncal)))
    start = time.perf_counter()
    rate = Detector1Pipeline(reference_dir=str(refdir), steps={"persistence": {"skip": True}}).run(str(uncal))
    elapsed = time.perf_counter() - start
    accuracy = evaluate.rate_accuracy(rate.data, rate.err, rate.dq, truth)
    jump = dqflags.pixel["JUMP_DET"]
    with datamodels.open(rate.meta.ref_file.gain.name) as gain, \
            datamodels.open(rate.meta.ref_file.readnoise.name) as readnoise:
        recovery = evaluate.cosmic_ray_recovery((rate.dq & jump) != 0, truth,
                                                np.asarray(ref_to_science_subarray(gain, rate)["data"]),
                                                np.asarray(ref_to_science_subarray(readnoise, rate)["data"]))
    print(f"{args.subarray} {args.readpatt} {args.ngroups} groups, {rate.data.size} pixels, "
          f"pipeline {elapsed:.1f} s")
    print(f"count rates: {accuracy.n_pixels} clean pixels, median relative error "
          f"{accuracy.median_relative_error:+.2e}, mean (rate - truth) {accuracy.mean_difference:+.2e} "
          f"+- {accuracy.mean_difference_error:.1e} DN/s, robust scatter of (rate - truth)/ERR "
          f"{accuracy.normalized_scatter:.3f}")
    print(f"cosmic rays above 10 sigma: {recovery.n_cosmic_rays}, flagged {100 * recovery.found_fraction:.2f} %")

    clean_uncal, _ = prepare_exposure(workdir, seed=4, effects={"cosmic_rays": False}, **common)
    ramp = Detector1Pipeline(reference_dir=str(refdir),
                             steps={"ramp_fit": {"skip": True}, "persistence": {"skip": True}}).run(str(clean_uncal))
    gdq = np.asarray(ramp.groupdq)
    unusable = dqflags.pixel["DO_NOT_USE"] | dqflags.pixel["SATURATED"]
    usable = ((gdq[:, 1:] & unusable) == 0) & ((gdq[:, :-1] & unusable) == 0)
    false_jumps = np.count_nonzero(((gdq[:, 1:] & jump) != 0) & usable)
    print(f"false jumps without cosmic rays: {false_jumps} of {int(usable.sum())} usable group differences "
          f"= {false_jumps / usable.sum():.2e} per difference")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
