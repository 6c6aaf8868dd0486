"""Parity of photoncal's jump detection and ramp fitting with stcal.

Simulates ramps with :mod:`photoncal.sim.ramps` (cosmic rays, saturation,
bad pixels, flagged groups), runs photoncal's kernels here and stcal's
``detect_jumps_data`` and ``ramp_fit_data`` (OLS_C) in another interpreter
(the one given by ``--jwst-python``) on the same arrays, exchanged as .npy
files, and prints agreement fractions:

* jump: fraction of pixels whose GROUPDQ agrees in every group;
* ramp fit on identical GROUPDQ (stcal's jump output fed to both): fraction
  of unflagged pixels whose rate agrees within 1e-3 relative, DQ agreement;
* the whole chain (each side with its own jump detection);
* Roman uneven resultants: ``fit_ramps_uneven`` against stcal's
  ``ols_cas22`` (slopes within 1e-3, variances, resultant DQ with jumps).

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
from photoncal.kernels.ramp_uneven import fit_ramps_uneven
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
        jp = meta.get("jump_params", {})
        if jp:
            jd.set_snowball_info(jp.get("expand_large_events", False), jp.get("min_jump_area", 5.0),
                                 jp.get("min_sat_area", 1.0), jp.get("expand_factor", 2.0),
                                 jp.get("sat_required_snowball", True), jp.get("min_sat_radius_extend", 2.5),
                                 jp.get("sat_expand", 2) * 2, jp.get("edge_size", 25))
            jd.set_shower_info(jp.get("find_showers", False), jp.get("extend_snr_threshold", 1.2),
                               jp.get("extend_min_area", 90), jp.get("extend_inner_radius", 1.0),
                               jp.get("extend_outer_radius", 2.6), jp.get("extend_ellipse_expand_ratio", 1.1),
                               jp.get("min_diffs_single_pass", 10), jp.get("max_extended_radius", 200) * 2)
            jd.grps_masked_after_shower = int(jp.get("time_masked_after_shower", 15.0) // gtime)
            jd.mask_persist_grps_next_int = jp.get("mask_snowball_core_next_int", True)
            jd.persist_grps_flagged = int(jp.get("snowball_time_masked_next_int", 4000) // gtime)
            jd.max_shower_amplitude = jp.get("max_shower_amplitude", 4.0) * gtime
        jd.after_jump_flag_dn1 = meta["after_jump_flag_dn1"]
        jd.after_jump_flag_n1 = int(meta["after_jump_flag_time1"] // gtime)
        jd.after_jump_flag_dn2 = meta["after_jump_flag_dn2"]
        jd.after_jump_flag_n2 = int(meta["after_jump_flag_time2"] // gtime)
        t0 = time.time()
        new_gdq, new_pdq, ncr, nevents = detect_jumps_data(jd)
        timings["jump"] = time.time() - t0
        timings["events"] = int(nevents)
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



ROMAN_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import numpy as np
    from stcal.ramp_fitting import ols_cas22_fit
    from stcal.ramp_fitting.ols_cas22 import Parameter, Variance

    work = Path(sys.argv[1])
    meta = json.loads((work / "meta.json").read_text())
    data = np.load(work / "data.npy")
    gdq = np.load(work / "gdq.npy")
    gain = np.load(work / "gain.npy")
    rnoise = np.load(work / "rnoise.npy")
    t0 = time.time()
    out = ols_cas22_fit.fit_ramps_casertano(data * gain, gdq, rnoise * gain, meta["read_time"],
                                            read_pattern=meta["read_pattern"], use_jump=True)
    elapsed = time.time() - t0
    np.save(work / "slope.npy", out.parameters[..., Parameter.slope] / gain)
    np.save(work / "var_rnoise.npy", out.variances[..., Variance.read_var] / gain**2)
    np.save(work / "var_poisson.npy", out.variances[..., Variance.poisson_var] / gain**2)
    np.save(work / "dq.npy", out.dq)
    (work / "timing.json").write_text(json.dumps({"fit": elapsed}))
    """
)

ROMAN_PATTERN = [[1], [2, 3], [4, 5, 6, 7], [8, 9, 10, 11, 12], [13, 14, 15, 16, 17, 18],
                 [19, 20, 21, 22, 23, 24, 25], [26, 27, 28, 29, 30, 31, 32, 33], [34, 35, 36, 37, 38],
                 [39, 40, 41, 42, 43, 44]]


def roman_parity(jwst_python, size, seed):
    """photoncal's uneven-resultant fit against stcal's ols_cas22 on the same resultants."""
    rng = np.random.default_rng(seed)
    shape = (size, size)
    rate = np.exp(rng.uniform(np.log(0.05), np.log(3000.0), shape))
    gain = rng.normal(2.0, 0.1, shape).astype(np.float32)
    rnoise = rng.normal(6.0, 0.5, shape).astype(np.float32)
    crs = random_cosmic_rays(shape, nints=1, last_frame=44, hits_per_pixel=0.02, electrons_min=300.0,
                             electrons_max=1e5, seed=seed + 1)
    sim = simulate_ramps(rate, frame_time=3.04, read_pattern=ROMAN_PATTERN, gain=gain, read_noise=rnoise,
                         saturation=np.full(shape, 55000.0), cosmic_rays=crs, seed=seed)
    data = sim.data[0]
    gdq = np.zeros(data.shape, np.uint8)
    gdq[data >= 55000.0] = SAT
    meta = dict(read_time=3.04, read_pattern=ROMAN_PATTERN)
    with tempfile.TemporaryDirectory(prefix="ramp_parity_roman_") as tmp:
        work = Path(tmp)
        for key, arr in (("data", data), ("gdq", gdq), ("gain", gain), ("rnoise", rnoise)):
            np.save(work / f"{key}.npy", arr)
        (work / "meta.json").write_text(json.dumps(meta))
        (work / "run.py").write_text(ROMAN_SCRIPT)
        proc = subprocess.run([jwst_python, str(work / "run.py"), str(work)], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit("stcal ols_cas22 run failed")
        theirs = {key: np.load(work / f"{key}.npy") for key in ("slope", "var_rnoise", "var_poisson", "dq")}
        their_time = json.loads((work / "timing.json").read_text())["fit"]
    t0 = time.time()
    ours = fit_ramps_uneven(data, gdq, np.zeros(shape, np.uint32), gain, rnoise, read_pattern=ROMAN_PATTERN,
                            read_time=3.04)
    our_time = time.time() - t0
    usable = np.isfinite(ours.data) & np.isfinite(theirs["slope"])
    close = np.abs(ours.data - theirs["slope"]) <= 1e-3 * np.maximum(np.abs(theirs["slope"]), 1e-6) + 1e-6
    rate_frac = np.count_nonzero(close & usable) / max(np.count_nonzero(usable), 1)
    var_close = np.isclose(ours.var_rnoise, theirs["var_rnoise"], rtol=1e-3) & np.isclose(
        ours.var_poisson, theirs["var_poisson"], rtol=1e-3, atol=1e-6)
    var_frac = np.count_nonzero(var_close & usable) / max(np.count_nonzero(usable), 1)
    dq_frac = np.count_nonzero(np.all(ours.groupdq == theirs["dq"], axis=0)) / (size * size)
    print("Roman uneven resultants (9 from 44 reads), ols_cas22 with jumps")
    print(f"  rate within 1e-3: {rate_frac:.5f} of {np.count_nonzero(usable)} pixels; variances within 1e-3 "
          f"{var_frac:.5f}; resultant DQ identical {dq_frac:.5f}")
    print(f"  time: photoncal {our_time:.3f} s | stcal {their_time:.3f} s")
    return dict(rate=rate_frac, variances=var_frac, dq=dq_frac)


def make_case(name, *, nframes, groupgap, ngroups, nints, frame_time, size, seed, instrument="NIRCAM",
              first_group_dnu=False, last_group_dnu=False, suppress_one_group=True, after_jump=False,
              chargeloss=False, snowballs=0, showers=0, jump_params=None, low_rates=False):
    """Simulated exposure with a broad range of rates, CRs, saturation and bad pixels."""
    rng = np.random.default_rng(seed)
    ny = nx = size
    shape = (ny, nx)
    rate = np.exp(rng.uniform(np.log(0.05), np.log(30.0 if low_rates else 3000.0), shape))
    gain = rng.normal(2.0, 0.1, shape).astype(np.float32)
    cds_noise = rng.normal(12.0, 1.0, shape).astype(np.float32)
    pattern = jwst_read_pattern(nframes, groupgap, ngroups)
    last_frame = pattern[-1][-1]
    crs = random_cosmic_rays(shape, nints=nints, last_frame=last_frame, hits_per_pixel=0.02,
                             electrons_min=300.0, electrons_max=1e5, seed=seed + 1)
    events = [crs]
    yy, xx = np.mgrid[0:ny, 0:nx]
    for _ in range(snowballs):
        # a bright core that saturates, with a halo of jumps around it
        cy, cx = rng.uniform(10, ny - 10, 2)
        r2 = (yy - cy) ** 2 + (xx - cx) ** 2
        charge = 4e5 * np.exp(-r2 / (2 * 2.0**2))
        hit = charge > 200.0
        frame = rng.integers(2, last_frame + 1)
        events.append(np.column_stack([np.full(hit.sum(), rng.integers(nints)), np.full(hit.sum(), frame),
                                       yy[hit], xx[hit], charge[hit]]))
    for _ in range(showers):
        # a faint extended shower: a disk of small jumps
        cy, cx = rng.uniform(15, ny - 15, 2)
        hit = (yy - cy) ** 2 + (xx - cx) ** 2 < 12.0**2
        frame = rng.integers(3, last_frame + 1)
        events.append(np.column_stack([np.full(hit.sum(), rng.integers(nints)), np.full(hit.sum(), frame),
                                       yy[hit], xx[hit], np.full(hit.sum(), 60.0)]))
    crs = np.concatenate(events)
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
    meta["jump_params"] = jump_params or {}
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
    dict(name="10 groups x 2 ints, snowballs (expand_large_events)", nframes=1, groupgap=0, ngroups=10,
         nints=2, frame_time=10.737, snowballs=12, jump_params=dict(expand_large_events=True)),
    dict(name="MIRI-like 20 groups, showers (find_showers)", nframes=1, groupgap=0, ngroups=20, nints=1,
         frame_time=2.775, instrument="MIRI", showers=4, low_rates=True, jump_params=dict(find_showers=True)),
]


def photoncal_chain(data, gdq, pdq, gain, rnoise, meta):
    t0 = time.time()
    if data.shape[1] > 2:
        jump = detect_jumps(data, gdq, pdq, gain, rnoise, nframes=meta["nframes"],
                            group_time=meta["group_time"],
                            **{key: meta[key] for key in ("after_jump_flag_dn1", "after_jump_flag_time1",
                                                          "after_jump_flag_dn2", "after_jump_flag_time2")},
                            **meta["jump_params"])
        meta["our_events"] = jump.number_extended_events
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
    parser.add_argument("--only-roman", action="store_true", help="run only the Roman comparison")
    args = parser.parse_args(argv)
    if args.only_roman:
        return [roman_parity(args.jwst_python, args.size, args.seed)]

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
        if meta["jump_params"]:
            print(f"  extended events: photoncal {meta.get('our_events')} stcal {st_timings.get('events')}")
        print(f"  time: photoncal jump {t_jump:.3f} s fit {t_fit:.3f} s | stcal jump "
              f"{row['stcal_jump']:.3f} s fit {row['stcal_fit']:.3f} s")
    return summary


if __name__ == "__main__":
    main()
