"""Parity of photoncal's jump detection and ramp fitting with stcal.

Simulates ramps with :mod:`photoncal.sim.ramps` (cosmic rays, saturation,
bad pixels, flagged groups), runs photoncal's kernels here and stcal's
``detect_jumps_data`` and ``ramp_fit_data`` (OLS_C) in another interpreter
(the one given by ``--jwst-python``) on the same arrays, exchanged as .npy
files, and prints agreement fractions:

* jump: fraction of pixels whose GROUPDQ agrees in every group;
* ramp fit on identical GROUPDQ (stcal's jump output fed to both): fraction
  of unflagged pixels whose rate agrees within 1e-3 relative, DQ agreement;
* the whole chain (each side with its own jump detection).

Usage::

    PYTHONPATH=src /work/venv/bin/python benchmarks/ramp_parity.py \\
        --jwst-python /work/jwstenv/bin/python [--size 256]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from photoncal import dqflags
from photoncal.kernels.jump import detect_jumps
from photoncal.kernels.ramp_fit import fit_ramps
from photoncal.sim.ramps import jwst_read_pattern, random_cosmic_rays, simulate_ramps

DNU = dqflags.pixel["DO_NOT_USE"]
SAT = dqflags.pixel["SATURATED"]
JUMP = dqflags.pixel["JUMP_DET"]

STCAL_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import numpy as np
    from stcal.jump.jump import detect_jumps_data
    from stcal.jump.jump_class import JumpData
    from stcal.ramp_fitting import ramp_fit, ramp_fit_class
    from stdatamodels.jwst.datamodels import dqflags

    work = Path(sys.argv[1])
    meta = json.loads((work / "meta.json").read_text())
    data = np.load(work / "data.npy")
    gdq = np.load(work / "gdq.npy")
    pdq = np.load(work / "pdq.npy")
    gain = np.load(work / "gain.npy")
    rnoise = np.load(work / "rnoise.npy")
    timings = {}

    def run_jump(gdq_in):
        jd = JumpData(gain2d=gain, rnoise2d=rnoise, dqflags=dqflags.pixel)
        jd.init_arrays_from_arrays(data.copy(), gdq_in.copy(), pdq.copy())
        jd.nframes = meta["nframes"]
        jd.dt_group = np.ones(1)
        jd.n_reads_groupdiff = np.ones(1) * 2 * meta["nframes"]
        jd.max_cores = "1"
        jd.after_jump_flag_e1 = 0.0
        gtime = meta["group_time"]
        jd.after_jump_flag_dn1 = meta["after_jump_flag_dn1"]
        jd.after_jump_flag_n1 = int(meta["after_jump_flag_time1"] // gtime)
        jd.after_jump_flag_dn2 = meta["after_jump_flag_dn2"]
        jd.after_jump_flag_n2 = int(meta["after_jump_flag_time2"] // gtime)
        t0 = time.time()
        new_gdq, new_pdq, ncr, _ = detect_jumps_data(jd)
        timings["jump"] = time.time() - t0
        return new_gdq, new_pdq, ncr

    def run_fit(gdq_in, pdq_in):
        rd = ramp_fit_class.RampData()
        orig = gdq_in.copy() if np.any(gdq_in & dqflags.pixel["CHARGELOSS"]) else None
        rd.set_arrays(data.copy(), gdq_in.copy(), pdq_in.copy(),
                      np.zeros(pdq.shape, np.float32), orig_gdq=orig)
        rd.set_meta(name=meta["instrument"], frame_time=meta["frame_time"],
                    group_time=meta["group_time"], groupgap=meta["groupgap"],
                    nframes=meta["nframes"], drop_frames1=0)
        rd.algorithm = "OLS_C"
        rd.set_dqflags(dqflags.pixel)
        rd.start_row, rd.num_rows = 0, data.shape[2]
        rd.suppress_one_group_ramps = meta["suppress_one_group"] and data.shape[1] > 1
        t0 = time.time()
        image, integ, _ = ramp_fit.ramp_fit_data(rd, False, rnoise.copy(), gain.copy(),
                                                 "OLS_C", "optimal", "1")
        timings["ramp_fit"] = time.time() - t0
        return image, integ

    if data.shape[1] > 2:
        jgdq, jpdq, ncr = run_jump(gdq)
    else:
        jgdq, jpdq, ncr = gdq.copy(), pdq.copy(), 0
    np.save(work / "stcal_jump_gdq.npy", jgdq)
    np.save(work / "stcal_jump_pdq.npy", jpdq)
    image, integ = run_fit(jgdq, jpdq)
    for key in ("slope", "dq", "var_poisson", "var_rnoise", "err"):
        np.save(work / f"stcal_rate_{key}.npy", image[key])
        np.save(work / f"stcal_ints_{key}.npy", integ[key])
    (work / "stcal_timings.json").write_text(json.dumps(timings))
    """
)


def make_case(name, *, nframes, groupgap, ngroups, nints, frame_time, size, seed, instrument="NIRCAM",
              first_group_dnu=False, last_group_dnu=False, suppress_one_group=True, after_jump=False,
              chargeloss=False):
    """Simulated exposure with a broad range of rates, CRs, saturation and bad pixels."""
    rng = np.random.default_rng(seed)
    ny = nx = size
    shape = (ny, nx)
    rate = np.exp(rng.uniform(np.log(0.05), np.log(3000.0), shape))
    gain = rng.normal(2.0, 0.1, shape).astype(np.float32)
    cds_noise = rng.normal(12.0, 1.0, shape).astype(np.float32)
    pattern = jwst_read_pattern(nframes, groupgap, ngroups)
    last_frame = pattern[-1][-1]
    crs = random_cosmic_rays(shape, nints=nints, last_frame=last_frame, hits_per_pixel=0.02,
                             electrons_min=300.0, electrons_max=1e5, seed=seed + 1)
    saturation = np.full(shape, 55000.0)
    sim = simulate_ramps(rate, frame_time=frame_time, read_pattern=pattern, nints=nints, gain=gain,
                         read_noise=cds_noise / np.sqrt(2.0), saturation=saturation,
                         cosmic_rays=crs, seed=seed)
    data = sim.data
    gdq = np.zeros(data.shape, dtype=np.uint8)
    gdq[data >= saturation[None, None]] |= SAT
    if first_group_dnu:
        gdq[:, 0] |= DNU
    if last_group_dnu:
        gdq[:, -1] |= DNU
    if chargeloss:
        # charge migration flags the groups after a level as CHARGELOSS | DO_NOT_USE
        hit = rng.random((nints, ny, nx)) < 0.05
        start = rng.integers(1, ngroups, (nints, ny, nx))
        groups = np.arange(ngroups)[None, :, None, None]
        gdq[(groups >= start[:, None]) & hit[:, None]] |= DNU | dqflags.pixel["CHARGELOSS"]
    pdq = np.zeros(shape, dtype=np.uint32)
    bad = rng.random(shape) < 0.002
    pdq[bad] |= DNU | dqflags.pixel["DEAD"]
    gain[rng.random(shape) < 0.0005] = np.nan
    gain[rng.random(shape) < 0.0005] = 0.0
    meta = dict(name=name, nframes=nframes, groupgap=groupgap, frame_time=frame_time,
                group_time=frame_time * (nframes + groupgap), instrument=instrument,
                suppress_one_group=suppress_one_group, after_jump_flag_dn1=0.0,
                after_jump_flag_time1=0.0, after_jump_flag_dn2=0.0, after_jump_flag_time2=0.0)
    if after_jump:
        group_time = meta["group_time"]
        meta.update(after_jump_flag_dn1=300.0, after_jump_flag_time1=1.5 * group_time,
                    after_jump_flag_dn2=3000.0, after_jump_flag_time2=3.2 * group_time)
    return data, gdq, pdq, gain, cds_noise, meta


CASES = [
    dict(name="10 groups, 1 int (NIRCam RAPID-like)", nframes=1, groupgap=0, ngroups=10, nints=1,
         frame_time=10.737),
    dict(name="6 groups x 2 ints, nframes=4 groupgap=1", nframes=4, groupgap=1, ngroups=6, nints=2,
         frame_time=10.737),
    dict(name="3 groups x 3 ints", nframes=1, groupgap=0, ngroups=3, nints=3, frame_time=10.737),
    dict(name="4 groups x 2 ints", nframes=2, groupgap=0, ngroups=4, nints=2, frame_time=10.737),
    dict(name="20 groups (single-pass jump)", nframes=1, groupgap=0, ngroups=20, nints=1,
         frame_time=5.0),
    dict(name="2 groups (no jump)", nframes=1, groupgap=0, ngroups=2, nints=2, frame_time=10.737),
    dict(name="MIRI-like, first and last group DNU, 8 groups", nframes=1, groupgap=0, ngroups=8, nints=2,
         frame_time=2.775, instrument="MIRI", first_group_dnu=True, last_group_dnu=True),
    dict(name="5 groups, suppress_one_group=False", nframes=1, groupgap=0, ngroups=5, nints=2,
         frame_time=10.737, suppress_one_group=False),
    dict(name="8 groups, after-jump flagging", nframes=1, groupgap=0, ngroups=8, nints=1,
         frame_time=10.737, after_jump=True),
    dict(name="7 groups, CHARGELOSS flags", nframes=1, groupgap=0, ngroups=7, nints=2,
         frame_time=10.737, chargeloss=True),
    dict(name="3 groups x 100 ints (sigma clipping)", nframes=1, groupgap=0, ngroups=3, nints=100,
         frame_time=1.0, size_factor=0.25),
]


def photoncal_chain(data, gdq, pdq, gain, rnoise, meta):
    t0 = time.time()
    if data.shape[1] > 2:
        jump = detect_jumps(data, gdq, pdq, gain, rnoise, nframes=meta["nframes"],
                            group_time=meta["group_time"],
                            **{key: meta[key] for key in ("after_jump_flag_dn1", "after_jump_flag_time1",
                                                          "after_jump_flag_dn2", "after_jump_flag_time2")})
        jgdq, jpdq = jump.groupdq, jump.pixeldq
    else:
        jgdq, jpdq = gdq.copy(), pdq.copy()
    t_jump = time.time() - t0
    return jgdq, jpdq, t_jump


def photoncal_fit(data, gdq, pdq, gain, rnoise, meta):
    t0 = time.time()
    res = fit_ramps(data, gdq, pdq, gain, rnoise, frame_time=meta["frame_time"],
                    group_time=meta["group_time"], nframes=meta["nframes"], groupgap=meta["groupgap"],
                    suppress_one_group=meta["suppress_one_group"],
                    discard_flagged_edge_groups=meta["instrument"] == "MIRI")
    return res, time.time() - t0


def rate_agreement(ours, theirs, our_dq, their_dq, rtol=1e-3):
    usable = ((our_dq & DNU) == 0) & ((their_dq & DNU) == 0) & np.isfinite(theirs)
    denom = np.maximum(np.abs(theirs), 1e-6)
    close = np.abs(ours - theirs) <= rtol * denom + 1e-6
    frac = np.count_nonzero(close & usable) / max(np.count_nonzero(usable), 1)
    dq_frac = np.count_nonzero(our_dq == their_dq) / our_dq.size
    return frac, dq_frac, np.count_nonzero(usable)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jwst-python", required=True, help="interpreter with stcal/jwst installed")
    parser.add_argument("--size", type=int, default=256, help="side of the square test array")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    summary = []
    for k, case in enumerate(CASES):
        case = dict(case)
        size = max(8, int(args.size * case.pop("size_factor", 1.0)))
        data, gdq, pdq, gain, rnoise, meta = make_case(size=size, seed=args.seed + 10 * k, **case)
        with tempfile.TemporaryDirectory(prefix="ramp_parity_") as tmp:
            work = Path(tmp)
            for key, arr in (("data", data), ("gdq", gdq), ("pdq", pdq), ("gain", gain), ("rnoise", rnoise)):
                np.save(work / f"{key}.npy", arr)
            (work / "meta.json").write_text(json.dumps(meta))
            script = work / "run_stcal.py"
            script.write_text(STCAL_SCRIPT)
            proc = subprocess.run([args.jwst_python, str(script), str(work)], capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"stcal run failed for case {case['name']!r}")
            st = {p.stem: np.load(p) for p in work.glob("stcal_*.npy")}
            st_timings = json.loads((work / "stcal_timings.json").read_text())

        our_gdq, our_pdq, t_jump = photoncal_chain(data, gdq, pdq, gain, rnoise, meta)
        jump_pix = np.all(our_gdq == st["stcal_jump_gdq"], axis=(0, 1))
        jump_frac = np.count_nonzero(jump_pix) / jump_pix.size
        pdq_frac = np.count_nonzero(our_pdq == st["stcal_jump_pdq"]) / our_pdq.size

        same, t_fit = photoncal_fit(data, st["stcal_jump_gdq"], st["stcal_jump_pdq"], gain, rnoise, meta)
        fit_frac, fit_dq, n_usable = rate_agreement(same.rate.data, st["stcal_rate_slope"], same.rate.dq,
                                                    st["stcal_rate_dq"])
        ints_frac, ints_dq, _ = rate_agreement(same.rateints.data, st["stcal_ints_slope"],
                                               same.rateints.dq, st["stcal_ints_dq"])
        usable = ((same.rate.dq & DNU) == 0) & ((st["stcal_rate_dq"] & DNU) == 0)
        err_close = np.isclose(same.rate.err, st["stcal_rate_err"], rtol=1e-3)
        err_frac = np.count_nonzero(err_close & usable) / max(np.count_nonzero(usable), 1)

        chain, _ = photoncal_fit(data, our_gdq, our_pdq, gain, rnoise, meta)
        chain_frac, chain_dq, _ = rate_agreement(chain.rate.data, st["stcal_rate_slope"], chain.rate.dq,
                                                 st["stcal_rate_dq"])
        row = dict(case=case["name"], jump_pixels=jump_frac, jump_pixeldq=pdq_frac, rate=fit_frac,
                   rate_dq=fit_dq, rate_err=err_frac, rateints=ints_frac, rateints_dq=ints_dq,
                   chain_rate=chain_frac, chain_dq=chain_dq, usable=n_usable,
                   t_jump=t_jump, t_fit=t_fit, stcal_jump=st_timings.get("jump", float("nan")),
                   stcal_fit=st_timings["ramp_fit"])
        summary.append(row)
        print(f"{case['name']}")
        print(f"  jump GROUPDQ identical: {jump_frac:.5f} of pixels; PIXELDQ {pdq_frac:.5f}")
        print(f"  ramp fit (same GROUPDQ): rate within 1e-3: {fit_frac:.5f} of {n_usable} usable pixels;"
              f" DQ equal {fit_dq:.5f}; ERR within 1e-3 {err_frac:.5f}")
        print(f"  rateints within 1e-3: {ints_frac:.5f}; DQ equal {ints_dq:.5f}")
        print(f"  whole chain: rate within 1e-3 {chain_frac:.5f}; DQ equal {chain_dq:.5f}")
        print(f"  time: photoncal jump {t_jump:.3f} s fit {t_fit:.3f} s | stcal jump "
              f"{row['stcal_jump']:.3f} s fit {row['stcal_fit']:.3f} s")
    return summary


if __name__ == "__main__":
    main()
