"""calwebb_detector1 against the truth on a full-frame NIRCam exposure.

Simulates NRCA1 FULL, MEDIUM8, 10 groups (every detector effect, cosmic
rays at the default rate; a second exposure without cosmic rays for the
false-jump rate), runs photoncal's Detector1Pipeline with the simulated
reference set and prints what issue 5 asks of a known truth:

* count-rate bias (median relative error on clean pixels) and error honesty
  (robust scatter of (rate - truth) / ERR),
* the fraction of cosmic rays above 10 sigma flagged,
* false jumps per usable group difference on the exposure without cosmic rays,
  and for comparison the same jump algorithm on ideal ramps at that sky level.

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
    with datamodels.open(rate.meta.ref_file.gain.name) as gain_model, \
            datamodels.open(rate.meta.ref_file.readnoise.name) as readnoise_model:
        gain = np.asarray(ref_to_science_subarray(gain_model, rate)["data"])
        readnoise = np.asarray(ref_to_science_subarray(readnoise_model, rate)["data"])
    recovery = evaluate.cosmic_ray_recovery((rate.dq & jump) != 0, truth, gain, readnoise)
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
    ideal_false_jump_rate(ramp, truth, gain, readnoise)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


def ideal_false_jump_rate(ramp, truth, gain, readnoise, size=700):
    """False jumps of the same jump algorithm on ideal ramps at this exposure's sky level.

    Ramps of the median clean-pixel rate with only Poisson and read noise
    (the median gain and read noise, the exposure's read pattern, integer
    DN as on board) show how many false jumps the two-point difference
    method itself gives there, without any detector effect.
    """
    from photoncal import dqflags
    from photoncal.kernels.jump import detect_jumps
    from photoncal.sim.ramps import jwst_read_pattern, simulate_ramps

    exposure = ramp.meta.exposure
    sky = float(np.median(truth.rate[truth.rate > 0]))
    g, rn = float(np.median(gain)), float(np.median(readnoise))
    pattern = jwst_read_pattern(exposure.nframes, exposure.groupgap, exposure.ngroups)
    sim = simulate_ramps(np.full((size, size), sky * g), frame_time=exposure.frame_time, read_pattern=pattern,
                         gain=g, read_noise=rn / np.sqrt(2.0), bias=np.full((size, size), 1000.0), seed=5)
    data = np.rint(sim.data) - np.float32(1000.0)
    result = detect_jumps(data, np.zeros(data.shape, np.uint8), np.zeros((size, size), np.uint32),
                          np.full((size, size), g, np.float32), np.full((size, size), rn, np.float32),
                          nframes=exposure.nframes, group_time=exposure.group_time)
    flagged = np.count_nonzero(result.groupdq[:, 1:] & dqflags.pixel["JUMP_DET"])
    total = result.groupdq[:, 1:].size
    print(f"same jump algorithm on ideal ramps at {sky:.3g} DN/s (Poisson + read noise only): "
          f"{flagged} of {total} = {flagged / total:.2e} per difference")


if __name__ == "__main__":
    main()
