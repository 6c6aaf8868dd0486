"""Parity of photoncal's detector kernels with the established pipeline.

Builds small synthetic cases (full frame where the algorithm needs it), runs
photoncal's kernels here and the established jwst/stcal code in the jwst
environment (``--jwst-python``), and prints, per case and array, the largest
difference and the fraction of elements that agree.

    PYTHONPATH=src /work/venv/bin/python benchmarks/detector_parity.py \
        --jwst-python /work/jwstenv/bin/python
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from photoncal.dqflags import pixel as F
from photoncal.kernels import (
    dark_current,
    dq_init,
    firstframe,
    guider_cds,
    ipc,
    lastframe,
    linearity,
    persistence,
    refpix,
    reset,
    rscd,
    saturation,
    superbias,
)

RNG = np.random.default_rng(20240601)


def _ramp(nints, ngroups, ny, nx, start=1000.0, rate=50.0, noise=5.0):
    g = np.arange(ngroups, dtype=np.float32)[None, :, None, None]
    r = RNG.uniform(0.2, 1.0, (1, 1, ny, nx)).astype(np.float32) * rate
    d = start + g * r + RNG.normal(0, noise, (nints, ngroups, ny, nx))
    return d.astype(np.float32)


# ------------------------------------------------------------------ cases


def case_saturation(use_readpatt, nframes):
    nints, ngroups, ny, nx = 2, 6, 48, 56
    data = _ramp(nints, ngroups, ny, nx, start=12000, rate=9000, noise=20)
    data[0, :, 5, 5] = np.linspace(60000, 62000, ngroups)  # saturated in group 1
    data[1, 2, 20:23, 30] = -3.0  # A/D floor
    thresh = RNG.uniform(40000, 52000, (ny, nx)).astype(np.float32)
    thresh[7, 9] = np.nan
    sat_dq = np.zeros((ny, nx), np.uint32)
    sat_dq[10, 11] = F["NO_SAT_CHECK"]
    sat_dq[12, 13] = F["DEAD"]
    gdq = np.zeros(data.shape, np.uint8)
    gdq[:, :, 30, 40] = F["DO_NOT_USE"]
    pdq = np.zeros((ny, nx), np.uint32)
    bias = RNG.normal(11000, 50, (ny, nx)).astype(np.float32)
    zf = (data[:, 0] - 500).astype(np.float32)
    zf[0, 3, 3] = 70000.0
    inputs = dict(data=data, groupdq=gdq, pixeldq=pdq, thresh=thresh, sat_dq=sat_dq, bias=bias, zeroframe=zf)
    params = dict(use_readpatt=use_readpatt, nframes=nframes, grow=1)
    g2, p2, z2 = gdq.copy(), pdq.copy(), zf.copy()
    rp = saturation.frame_read_pattern(nframes, ngroups) if use_readpatt else None
    saturation.flag_saturation(data, g2, p2, thresh, sat_dq, n_pix_grow_sat=1, read_pattern=rp, bias=bias, zeroframe=z2)
    return "saturation", inputs, params, {"groupdq": g2, "pixeldq": p2, "zeroframe": z2}


def case_superbias():
    data = _ramp(2, 4, 40, 50)
    bias = RNG.normal(1000, 30, (40, 50)).astype(np.float32)
    bias[3, 4] = np.nan
    bias_dq = np.zeros((40, 50), np.uint32)
    bias_dq[5, 6] = F["UNRELIABLE_BIAS"]
    pdq = np.zeros((40, 50), np.uint32)
    ours = data.copy()
    p2 = pdq.copy()
    superbias.subtract_superbias(ours, p2, bias, bias_dq)
    return "superbias", dict(data=data, pixeldq=pdq, bias=bias, bias_dq=bias_dq), {}, {"data": ours, "pixeldq": p2}


def case_linearity(frame_level):
    nints, ngroups, ny, nx = 2, 6, 40, 50
    data = _ramp(nints, ngroups, ny, nx, start=100, rate=4000, noise=3)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[:, 4:, 10:15, 10:15] = F["SATURATED"]
    coeffs = np.zeros((4, ny, nx), np.float32)
    coeffs[1] = 1.0
    coeffs[2] = RNG.uniform(1e-6, 3e-6, (ny, nx))
    coeffs[3] = RNG.uniform(1e-12, 5e-12, (ny, nx))
    coeffs[:, 2, 3] = np.nan
    coeffs[1, 4, 5] = 0.0
    lin_dq = np.zeros((ny, nx), np.uint32)
    lin_dq[6, 7] = F["NO_LIN_CORR"]
    pdq = np.zeros((ny, nx), np.uint32)
    inputs = dict(data=data, groupdq=gdq, pixeldq=pdq, coeffs=coeffs, lin_dq=lin_dq)
    params = {}
    ours, p2 = data.copy(), pdq.copy()
    kw = {}
    if frame_level:
        inv = np.zeros((4, ny, nx), np.float32)
        inv[1] = 1.0
        inv[2] = -coeffs[2]
        inv[3] = 2 * coeffs[2] ** 2 - coeffs[3]
        inv[:, 2, 3] = [0, 1, 0, 0]
        inputs["inv_coeffs"] = inv
        params["nframes"] = 4
        kw = dict(inverse_coeffs=inv, read_pattern=saturation.frame_read_pattern(4, ngroups))
    linearity.correct_linearity(ours, gdq, p2, coeffs, lin_dq, **kw)
    return "linearity", inputs, params, {"data": ours, "pixeldq": p2}


def case_dark(nframes, groupgap, dark_shape, intstart=1, dark_nframes=1, dark_groupgap=0):
    nints, ngroups, ny, nx = 3, 5, 30, 40
    data = _ramp(nints, ngroups, ny, nx)
    dark = np.cumsum(RNG.uniform(0, 2, dark_shape + (ny, nx)), axis=-3).astype(np.float32)
    dark[..., 4, 5] = np.nan
    if len(dark_shape) == 2:
        dark_dq = np.zeros((dark_shape[0], 1, ny, nx), np.uint32)
        dark_dq[1, 0, 2, 2] = F["HOT"]
    else:
        dark_dq = np.zeros((ny, nx), np.uint32)
        dark_dq[2, 2] = F["HOT"]
    pdq = np.zeros((ny, nx), np.uint32)
    ours, p2 = data.copy(), pdq.copy()
    res = dark_current.subtract_dark(ours, p2, dark, dark_dq, nframes=nframes, groupgap=groupgap,
                                     dark_nframes=dark_nframes, dark_groupgap=dark_groupgap,
                                     integration_start=intstart)
    params = dict(nframes=nframes, groupgap=groupgap, intstart=intstart, dark_nframes=dark_nframes,
                  dark_groupgap=dark_groupgap)
    return "dark", dict(data=data, pixeldq=pdq, dark=dark, dark_dq=dark_dq), params, {
        "data": ours, "pixeldq": p2, "skipped": np.array(not res.applied)}


def _nir_frame(nints, ngroups, ny=2048, nx=2048):
    """A NIR ramp with amplifier offsets, odd/even offsets and a row-correlated drift."""
    data = _ramp(nints, ngroups, ny, nx, start=0.0, rate=20.0, noise=4.0)
    drift = np.cumsum(RNG.normal(0, 0.6, (nints, ngroups, ny, 1)), axis=2).astype(np.float32)
    amp = RNG.normal(0, 30, (nints, ngroups, 1, 4)).repeat(nx // 4 if nx >= 4 else 1, axis=3)[..., :nx]
    oe = RNG.normal(0, 4, (nints, ngroups, 1, 2))
    oe = np.tile(oe, (1, 1, 1, nx // 2 + 1))[..., :nx]
    data += drift + amp.astype(np.float32) + oe.astype(np.float32)
    return data


def case_refpix_nir(detector, fastaxis, slowaxis, *, odd_even=True, use_side=True, smoothing=11,
                    sub=None, noutputs=4, side_gain=1.0, nints=1):
    ngroups = 3
    if sub is None:
        data = _nir_frame(nints, ngroups)
        xstart = ystart = 1
        name = "FULL"
    else:
        ystart, xstart, ny, nx, name = sub
        data = _nir_frame(nints, ngroups, ny, nx)
    ny, nx = data.shape[-2:]
    pdq = np.zeros((ny, nx), np.uint32)
    # a few bad and hot reference pixels
    data[0, :, 0, min(100, nx - 1)] += 5000.0
    data[0, :, 1, min(101, nx - 1)] -= 3000.0
    pdq[2, min(300, nx - 10):min(310, nx)] |= F["DO_NOT_USE"]
    pdq[min(500, ny - 20):min(520, ny), 1] |= F["DO_NOT_USE"]
    if sub is not None and noutputs != 4:
        pdq[:, :4] |= F["REFERENCE_PIXEL"]
    ours = data.copy()
    status = refpix.refpix_nir(ours, pdq, xstart=xstart, ystart=ystart, fastaxis=fastaxis, slowaxis=slowaxis,
                               noutputs=noutputs, odd_even_columns=odd_even, use_side_ref_pixels=use_side,
                               side_smoothing_length=smoothing, side_gain=side_gain,
                               edgeless_subarray=name in ("SUB512", "SUB512S", "SUB32"))
    params = dict(detector=detector, fastaxis=fastaxis, slowaxis=slowaxis, odd_even_columns=odd_even,
                  use_side=use_side, smoothing=smoothing, side_gain=side_gain, xstart=xstart,
                  ystart=ystart, subarray=name, noutputs=noutputs)
    return "refpix_nir", dict(data=data, pixeldq=pdq), params, {"data": ours, "status": np.array(status)}


def case_refpix_miri(odd_even_rows):
    data = _ramp(2, 4, 1024, 1032, start=20000, rate=100, noise=5)
    data += RNG.normal(0, 20, (2, 4, 1, 4)).repeat(258, axis=3).astype(np.float32)
    data[:, :, 1::2] += RNG.normal(0, 3, (2, 4, 1, 1)).astype(np.float32)
    pdq = np.zeros((1024, 1032), np.uint32)
    pdq[10:20, 1] = F["DO_NOT_USE"]
    data[:, 1:, 50, 1029] += 400.0
    ours = data.copy()
    status = refpix.refpix_miri(ours, pdq, odd_even_rows=odd_even_rows)
    return "refpix_miri", dict(data=data, pixeldq=pdq), dict(odd_even_rows=odd_even_rows), {
        "data": ours, "status": np.array(status)}


def case_ipc(four_d, nref):
    data = _ramp(1, 2, 32, 40, start=100, rate=500, noise=50)
    if four_d:
        kernel = RNG.uniform(0.0, 0.01, (3, 3, 32, 40)).astype(np.float32)
        kernel[1, 1] = 1.0 - (kernel.sum(axis=(0, 1)) - kernel[1, 1])
    else:
        kernel = np.array([[0.0, -0.01, 0.0], [-0.012, 1.044, -0.012], [0.0, -0.01, 0.0]], np.float32)
    ours = data.copy()
    ipc.ipc_correct(ours, kernel, nref)
    return "ipc", dict(data=data, kernel=kernel, nref=np.array(nref)), {}, {"data": ours}


def case_persistence_flag(dn_threshold, dnu):
    nints, ngroups, ny, nx = 2, 5, 20, 30
    data = _ramp(nints, ngroups, ny, nx)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, 2:, 3:6, 3:6] = F["SATURATED"]
    gdq[1, 4:, 10, 10] = F["SATURATED"]
    data[0, 3, 15, 20] = 30000.0
    start_mjd, tint, tgroup, ptime = 60000.0, 60.0, 10.0, 100.0
    pa = np.zeros((ny, nx))
    pa[0, 0] = (start_mjd - 40587.0) * 86400.0 + 35.0
    pa[1, 1] = (start_mjd - 40587.0) * 86400.0 - 5.0
    ours_g, ours_pa = gdq.copy(), pa.copy()
    start = persistence.mjd_to_epoch(start_mjd)
    persistence.flag_persistence_windows(
        ours_g, data, ours_pa, integration_start_times=start + np.arange(nints) * tint,
        group_time=tgroup, persistence_time=ptime, dn_threshold=dn_threshold, persistence_dnu=dnu)
    params = dict(start_mjd=start_mjd, integration_time=tint, group_time=tgroup, persistence_time=ptime,
                  dn_threshold=dn_threshold if dn_threshold else -1.0, dnu=dnu)
    return "persistence_flag", dict(data=data, groupdq=gdq, persistence_array=pa), params, {
        "groupdq": ours_g, "persistence_array": ours_pa}


def case_rscd(ngroups, nints, skip1, skip2p, intstart=1):
    gdq = np.zeros((nints, ngroups, 20, 30), np.uint8)
    for y in range(10):
        g0 = min(ngroups - 1, y)
        gdq[:, g0:, y, 0:15] |= F["SATURATED"]
    gdq[1:, 3:, 12, 12] |= F["SATURATED"]
    data = np.zeros(gdq.shape, np.float32)
    pdq = np.zeros((20, 30), np.uint32)
    ours_g, ours_p = gdq.copy(), pdq.copy()
    rscd.flag_rscd_groups(ours_g, ours_p, skip_int1=skip1, skip_int2p=skip2p, integration_start=intstart)
    return "rscd", dict(data=data, groupdq=gdq, pixeldq=pdq), dict(skip1=skip1, skip2p=skip2p, intstart=intstart), {
        "groupdq": ours_g, "pixeldq": ours_p}


def case_firstlast(ngroups, bright):
    gdq = np.zeros((2, ngroups, 10, 12), np.uint8)
    if ngroups > 2:
        gdq[1, 2:, 4, 5] = F["SATURATED"]
    data = np.zeros(gdq.shape, np.float32)
    pdq = np.zeros((10, 12), np.uint32)
    pdq[4, 5] = F["DO_NOT_USE"] if bright else 0
    og, op = gdq.copy(), pdq.copy()
    firstframe.flag_first_group(og, op, bright_use_group1=bright)
    lastframe.flag_last_group(og)
    return "firstlast", dict(data=data, groupdq=gdq, pixeldq=pdq), dict(bright=bright), {"groupdq": og, "pixeldq": op}


def case_reset(nints, ngroups, ref_nints, ref_ngroups):
    data = _ramp(nints, ngroups, 16, 20)
    ref = RNG.normal(0, 10, (ref_nints, ref_ngroups, 16, 20)).astype(np.float32)
    ref[0, 0, 1, 1] = np.nan
    ref_dq = np.zeros((16, 20), np.uint32)
    ref_dq[2, 3] = F["UNRELIABLE_RESET"]
    pdq = np.zeros((16, 20), np.uint32)
    ours, p2 = data.copy(), pdq.copy()
    reset.subtract_reset(ours, p2, ref, ref_dq)
    return "reset", dict(data=data, pixeldq=pdq, reset=ref, reset_dq=ref_dq), {}, {"data": ours, "pixeldq": p2}


def case_guider(exp_type, nints, ngroups):
    data = _ramp(nints, ngroups, 12, 14, start=500, rate=80, noise=10)
    gain = RNG.uniform(1.5, 2.5, (12, 14)).astype(np.float32)
    rn = RNG.uniform(8, 12, (12, 14)).astype(np.float32)
    out = guider_cds.guider_cds(data, mode=guider_cds.guider_mode(exp_type), group_time=0.3,
                                gain=gain, readnoise=rn)
    return "guider", dict(data=data, gain=gain, readnoise=rn), dict(exp_type=exp_type, group_time=0.3), {
        "data": out.data, "err": out.err}


def case_dq_init():
    data = _ramp(2, 3, 16, 20)
    mask = np.zeros((16, 20), np.uint32)
    mask[1, 2] = F["DO_NOT_USE"] | F["DEAD"]
    mask[3, 4] = F["HOT"]
    pdq = np.zeros((16, 20), np.uint32)
    gdq = np.zeros(data.shape, np.uint8)
    p2, g2 = pdq.copy(), gdq.copy()
    dq_init.merge_mask_dq(p2, g2, mask)
    return "dq_init", dict(data=data, pixeldq=pdq, groupdq=gdq, mask=mask), {}, {"pixeldq": p2, "groupdq": g2}


def all_cases():
    yield "saturation", case_saturation(False, 1)
    yield "saturation_readpatt_nframes1", case_saturation(True, 1)
    yield "saturation_readpatt_nframes4", case_saturation(True, 4)
    yield "superbias", case_superbias()
    yield "linearity", case_linearity(False)
    yield "linearity_frame_level", case_linearity(True)
    yield "dark_direct", case_dark(1, 0, (12,))
    yield "dark_nframes4_groupgap1", case_dark(4, 1, (40,))
    yield "dark_extrapolated", case_dark(4, 1, (20,))
    yield "dark_skipped", case_dark(1, 0, (12,), dark_nframes=2)
    yield "dark_miri_4d", case_dark(1, 0, (2, 8))
    yield "dark_miri_4d_averaged", case_dark(2, 0, (2, 12))
    yield "dark_miri_segment", case_dark(1, 0, (2, 8), intstart=5)
    yield "refpix_nrca1_full", case_refpix_nir("NRCA1", -1, 2)
    yield "refpix_nis_full_2ints", case_refpix_nir("NIS", -2, -1, nints=2)
    yield "refpix_nrs1_full_nosides", case_refpix_nir("NRS1", 2, 1, use_side=False)
    yield "refpix_nrcb1_full_L10", case_refpix_nir("NRCB1", 1, -2, smoothing=10)
    yield "refpix_nrcb1_full_allcols_L10", case_refpix_nir("NRCB1", 1, -2, odd_even=False, smoothing=10, side_gain=0.7)
    yield "refpix_nrca1_sub4amp", case_refpix_nir("NRCA1", -1, 2, sub=(1, 1, 64, 2048, "SUBGRISM64"))
    yield "refpix_nrs1_sub4amp_top", case_refpix_nir("NRS1", 2, 1, sub=(1985, 1, 64, 2048, "SUBX"), noutputs=4)
    yield "refpix_nrca1_sub1amp", case_refpix_nir("NRCA1", -1, 2, sub=(1, 1, 160, 160, "SUB160"), noutputs=1)
    yield "refpix_nrca1_sub1amp_allcols", case_refpix_nir("NRCA1", -1, 2, odd_even=False, sub=(1, 1, 64, 64, "SUB64P"), noutputs=1)
    yield "refpix_nrs1_edgeless", case_refpix_nir("NRS1", 2, 1, sub=(900, 1000, 32, 512, "SUB512"), noutputs=1)
    yield "refpix_miri", case_refpix_miri(True)
    yield "refpix_miri_allrows", case_refpix_miri(False)
    yield "ipc_2d", case_ipc(False, (4, 0, 4, 0))
    yield "ipc_4d", case_ipc(True, (0, 2, 0, 3))
    yield "persistence_flag", case_persistence_flag(None, False)
    yield "persistence_flag_threshold_dnu", case_persistence_flag(20000.0, True)
    yield "rscd_10groups", case_rscd(10, 3, 4, 3)
    yield "rscd_5groups", case_rscd(5, 2, 3, 3)
    yield "rscd_segment", case_rscd(9, 2, 4, 2, intstart=3)
    yield "firstlast_bright", case_firstlast(6, True)
    yield "firstlast_nobright", case_firstlast(6, False)
    yield "firstlast_3groups", case_firstlast(3, True)
    yield "reset", case_reset(4, 6, 2, 4)
    yield "guider_id", case_guider("FGS_ID-IMAGE", 2, 2)
    yield "guider_track", case_guider("FGS_TRACK", 3, 2)
    yield "guider_fineguide", case_guider("FGS_FINEGUIDE", 2, 8)
    yield "dq_init", case_dq_init()


def compare(ours, theirs):
    """Per array: max |difference|, fraction within 1e-3 relative, fraction identical."""
    rows = []
    for key, a in ours.items():
        b = theirs[key]
        a = np.asarray(a)
        b = np.asarray(b)
        if a.shape != b.shape:
            rows.append((key, "shape", f"{a.shape} vs {b.shape}", 0.0, 0.0))
            continue
        if a.dtype.kind == "f":
            both_nan = np.isnan(a) & np.isnan(b)
            diff = np.where(both_nan, 0.0, np.abs(a.astype(np.float64) - b.astype(np.float64)))
            diff = np.nan_to_num(diff, nan=np.inf)
            tol = 1e-3 * np.maximum(np.abs(b.astype(np.float64)), 1.0)
            within = float(np.mean(diff <= tol))
            exact = float(np.mean((diff == 0)))
            rows.append((key, "float", f"{diff.max():.3g}", within, exact))
        else:
            same = float(np.mean(a == b))
            rows.append((key, "exact", f"{np.count_nonzero(a != b)} differ", same, same))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jwst-python", required=True, help="python interpreter with jwst installed")
    parser.add_argument("--only", default=None, help="run only cases whose name contains this text")
    args = parser.parse_args(argv)

    worker = Path(__file__).with_name("_jwst_detector_worker.py")
    with tempfile.TemporaryDirectory(prefix="photoncal_parity_") as tmp:
        ours_all = {}
        t0 = time.perf_counter()
        for name, (kind, inputs, params, ours) in all_cases():
            if args.only and args.only not in name:
                continue
            payload = dict(inputs)
            payload["p_kind"] = np.array(kind)
            for k, v in params.items():
                payload["p_" + k] = np.array(v)
            np.savez(Path(tmp) / f"{name}.npz", **payload)
            ours_all[name] = ours
        t1 = time.perf_counter()
        proc = subprocess.run([args.jwst_python, str(worker), tmp], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stdout)
            print(proc.stderr, file=sys.stderr)
            raise SystemExit("the jwst worker failed")
        t2 = time.perf_counter()
        print(f"photoncal cases: {t1 - t0:.1f} s; established pipeline: {t2 - t1:.1f} s\n")
        print(f"{'case':38s} {'array':18s} {'max |diff|':>14s} {'within 1e-3':>12s} {'identical':>10s}")
        worst = 1.0
        for name, ours in ours_all.items():
            theirs = dict(np.load(Path(tmp) / f"{name}.out.npz"))
            for key, kind, detail, within, exact in compare(ours, theirs):
                worst = min(worst, within)
                print(f"{name:38s} {key:18s} {detail:>14s} {within:12.6f} {exact:10.6f}")
        print(f"\nworst fraction within tolerance: {worst:.6f}")


if __name__ == "__main__":
    main()
