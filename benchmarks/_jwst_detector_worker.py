"""Run the established pipeline's detector-level code on the parity cases.

Invoked by ``detector_parity.py`` with the jwst interpreter:
``python _jwst_detector_worker.py CASE_DIR``.  Every ``<case>.npz`` in
CASE_DIR holds the inputs (``p_*`` entries are scalar parameters); the
results go to ``<case>.out.npz``.  Imports nothing of photoncal.
"""

import logging
import sys
import warnings
from pathlib import Path

import numpy as np

warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)

from stdatamodels.jwst import datamodels  # noqa: E402


def _param(z, name):
    v = z["p_" + name]
    return v.item() if v.ndim == 0 else v


def _ramp(z, *, instrument="NIRCAM", detector="NRCA1", nframes=1, groupgap=0):
    data = z["data"].copy()
    nints, ngroups, ny, nx = data.shape
    m = datamodels.RampModel(data=data)
    m.groupdq = z["groupdq"].copy() if "groupdq" in z else np.zeros(data.shape, np.uint8)
    m.pixeldq = z["pixeldq"].copy() if "pixeldq" in z else np.zeros((ny, nx), np.uint32)
    m.meta.instrument.name = instrument
    m.meta.instrument.detector = detector
    m.meta.exposure.nints = nints
    m.meta.exposure.ngroups = ngroups
    m.meta.exposure.nframes = nframes
    m.meta.exposure.groupgap = groupgap
    m.meta.exposure.zero_frame = False
    m.meta.exposure.type = "NRC_IMAGE" if instrument != "MIRI" else "MIR_IMAGE"
    m.meta.subarray.xstart = int(_param(z, "xstart")) if "p_xstart" in z else 1
    m.meta.subarray.ystart = int(_param(z, "ystart")) if "p_ystart" in z else 1
    m.meta.subarray.xsize = nx
    m.meta.subarray.ysize = ny
    m.meta.subarray.name = str(_param(z, "subarray")) if "p_subarray" in z else "FULL"
    m.meta.subarray.fastaxis = int(_param(z, "fastaxis")) if "p_fastaxis" in z else 1
    m.meta.subarray.slowaxis = int(_param(z, "slowaxis")) if "p_slowaxis" in z else 2
    if "p_noutputs" in z:
        m.meta.exposure.noutputs = int(_param(z, "noutputs"))
    return m


def case_saturation(z):
    from stcal.saturation.saturation import flag_saturated_pixels
    from stdatamodels.jwst.datamodels import dqflags

    data = z["data"]
    rp = None
    if bool(_param(z, "use_readpatt")):
        nframes = int(_param(z, "nframes"))
        rp = [[x + 1 + g * nframes for x in range(nframes)] for g in range(data.shape[1])]
    zf = z["zeroframe"].copy()
    gdq, pdq, zf = flag_saturated_pixels(
        data, z["groupdq"].copy(), z["pixeldq"].copy(), z["thresh"].copy(), z["sat_dq"].copy(),
        65535.0, dqflags.pixel, n_pix_grow_sat=int(_param(z, "grow")), zframe=zf,
        read_pattern=rp, bias=z["bias"],
    )
    return {"groupdq": gdq, "pixeldq": pdq, "zeroframe": zf}


def case_superbias(z):
    from jwst.superbias import bias_sub

    m = _ramp(z)
    b = datamodels.SuperBiasModel(data=z["bias"].copy(), dq=z["bias_dq"].copy())
    b.meta.subarray.xstart = 1
    b.meta.subarray.ystart = 1
    b.meta.subarray.xsize = m.data.shape[-1]
    b.meta.subarray.ysize = m.data.shape[-2]
    b.meta.instrument.name = "NIRCAM"
    out = bias_sub.do_correction(m, b)
    return {"data": out.data, "pixeldq": out.pixeldq}


def case_linearity(z):
    from stcal.linearity.linearity import linearity_correction
    from stdatamodels.jwst.datamodels import dqflags

    ilin = z["inv_coeffs"].copy() if "inv_coeffs" in z else None
    rp = None
    if ilin is not None:
        nframes = int(_param(z, "nframes"))
        rp = [[x + 1 + g * nframes for x in range(nframes)] for g in range(z["data"].shape[1])]
    data, pdq, _ = linearity_correction(
        z["data"].copy(), z["groupdq"].copy(), z["pixeldq"].copy(), z["coeffs"].copy(),
        z["lin_dq"].copy(), dqflags.pixel, ilin_coeffs=ilin, read_pattern=rp,
    )
    return {"data": data, "pixeldq": pdq}


def case_dark(z):
    from stcal.dark_current import dark_class, dark_sub

    sci = dark_class.ScienceData()
    sci.data = z["data"].copy()
    sci.groupdq = np.zeros(sci.data.shape, np.uint8)
    sci.pixeldq = z["pixeldq"].copy()
    sci.exp_nframes = int(_param(z, "nframes"))
    sci.exp_groupgap = int(_param(z, "groupgap"))
    sci.exp_intstart = int(_param(z, "intstart"))
    drk = dark_class.DarkData()
    drk.data = z["dark"].copy()
    drk.groupdq = z["dark_dq"].copy()
    drk.exp_nframes = int(_param(z, "dark_nframes"))
    drk.exp_groupgap = int(_param(z, "dark_groupgap"))
    drk.exp_ngroups = drk.data.shape[-3]
    out, avg = dark_sub.do_correction_data(sci, drk)
    return {"data": np.asarray(out.data, np.float32), "pixeldq": out.pixeldq,
            "skipped": np.array(out.cal_step == "SKIPPED")}


def case_refpix_nir(z):
    from jwst.refpix import reference_pixels

    m = _ramp(z, detector=str(_param(z, "detector")))
    params = {"refpix_algorithm": "median", "sirs_kernel_model": None, "sigreject": 4.0,
              "gaussmooth": 1.0, "halfwidth": 30}
    status = reference_pixels.correct_model(
        m, bool(_param(z, "odd_even_columns")), bool(_param(z, "use_side")),
        int(_param(z, "smoothing")), float(_param(z, "side_gain")), True, params, 3.0,
    )
    return {"data": m.data, "status": np.array(status)}


def case_refpix_miri(z):
    from jwst.refpix import reference_pixels

    m = _ramp(z, instrument="MIRI", detector="MIRIMAGE")
    params = {"refpix_algorithm": "median", "sirs_kernel_model": None, "sigreject": 4.0,
              "gaussmooth": 1.0, "halfwidth": 30}
    status = reference_pixels.correct_model(m, True, True, 11, 1.0, bool(_param(z, "odd_even_rows")), params, 3.0)
    return {"data": m.data, "status": np.array(status)}


def case_ipc(z):
    from jwst.ipc.ipc_corr import NumRefPixels, ipc_convolve

    data = z["data"].copy()
    nref = NumRefPixels(*[int(v) for v in z["nref"]])
    for i in range(data.shape[0]):
        for g in range(data.shape[1]):
            ipc_convolve(data[i, g], z["kernel"], nref)
    return {"data": data}


def case_persistence_flag(z):
    from jwst.persistence import persistence

    m = _ramp(z)
    m.meta.exposure.start_time = float(_param(z, "start_mjd"))
    m.meta.exposure.integration_time = float(_param(z, "integration_time"))
    m.meta.exposure.group_time = float(_param(z, "group_time"))
    pa = z["persistence_array"].copy()
    thr = float(_param(z, "dn_threshold"))
    ds = persistence.DataSet(m, None, float(_param(z, "persistence_time")), thr if thr > 0 else None,
                             pa, bool(_param(z, "dnu")))
    ds.do_all()
    return {"groupdq": m.groupdq, "persistence_array": ds.persistence_array}


def case_rscd(z):
    from jwst.rscd import rscd_sub

    m = _ramp(z, instrument="MIRI", detector="MIRIMAGE")
    m.meta.exposure.integration_start = int(_param(z, "intstart"))
    out = rscd_sub.correction_skip_groups(m, int(_param(z, "skip1")), int(_param(z, "skip2p")))
    return {"groupdq": out.groupdq, "pixeldq": out.pixeldq}


def case_firstlast(z):
    from jwst.firstframe import firstframe_sub
    from jwst.lastframe import lastframe_sub

    m = _ramp(z, instrument="MIRI", detector="MIRIMAGE")
    firstframe_sub.do_correction(m, bright_use_group1=bool(_param(z, "bright")))
    lastframe_sub.do_correction(m)
    return {"groupdq": m.groupdq, "pixeldq": m.pixeldq}


def case_reset(z):
    from jwst.reset import reset_sub

    m = _ramp(z, instrument="MIRI", detector="MIRIMAGE")
    r = datamodels.ResetModel(data=z["reset"].copy(), dq=z["reset_dq"].copy())
    r.meta.exposure.nints = r.data.shape[0]
    r.meta.exposure.ngroups = r.data.shape[1]
    out = reset_sub.do_correction(m, r)
    return {"data": out.data, "pixeldq": out.pixeldq}


def case_guider(z):
    from jwst.guider_cds import guider_cds

    data = z["data"].copy()
    m = datamodels.GuiderRawModel(data=data)
    m.meta.exposure.type = str(_param(z, "exp_type"))
    m.meta.exposure.group_time = float(_param(z, "group_time"))
    m.meta.instrument.name = "FGS"
    m.meta.instrument.detector = "GUIDER1"
    for mm in (m,):
        mm.meta.subarray.xstart = 1
        mm.meta.subarray.ystart = 1
        mm.meta.subarray.xsize = data.shape[-1]
        mm.meta.subarray.ysize = data.shape[-2]
    g = datamodels.GainModel(data=z["gain"].copy())
    rn = datamodels.ReadnoiseModel(data=z["readnoise"].copy())
    for ref in (g, rn):
        ref.meta.subarray.xstart = 1
        ref.meta.subarray.ystart = 1
        ref.meta.subarray.xsize = data.shape[-1]
        ref.meta.subarray.ysize = data.shape[-2]
        ref.meta.instrument.name = "FGS"
    out = guider_cds.guider_cds(m, g, rn)
    return {"data": out.data, "err": out.err}


def case_dq_init(z):
    from jwst.dq_init import dq_initialization

    m = _ramp(z)
    mask = datamodels.MaskModel(dq=z["mask"].copy())
    mask.meta.subarray.xstart = 1
    mask.meta.subarray.ystart = 1
    mask.meta.subarray.xsize = m.data.shape[-1]
    mask.meta.subarray.ysize = m.data.shape[-2]
    mask.meta.instrument.name = "NIRCAM"
    out = dq_initialization.do_dqinit(m, mask)
    return {"pixeldq": out.pixeldq, "groupdq": out.groupdq}


def main(case_dir):
    for path in sorted(Path(case_dir).glob("*.npz")):
        if path.name.endswith(".out.npz"):
            continue
        z = dict(np.load(path, allow_pickle=False))
        kind = str(z["p_kind"].item())
        result = globals()["case_" + kind](z)
        np.savez(path.with_suffix(".out.npz"), **{k: np.asarray(v) for k, v in result.items()})


if __name__ == "__main__":
    main(sys.argv[1])
