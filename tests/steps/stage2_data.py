"""Simulated stage-2 inputs with a known truth, shared by the stage-2 tests.

Tests import it as ``stage2_data`` (``tests/steps`` is on pytest's
``pythonpath``), so every test file shares one set of simulated exposures
and references.

``rate_exposure(...)`` is what a perfect stage 1 would return for a
simulated exposure: SCI = the truth rate (DN/s, flat applied, IPC
corrected), optionally with Gaussian noise of the variances it records;
DQ = the MASK reference (reference pixels DO_NOT_USE); VAR_POISSON and
VAR_RNOISE from the rate, gain and read noise; the uncal header.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np


@functools.lru_cache(maxsize=None)
def workdir() -> Path:
    """A private directory for the session (references, simulated files), removed at exit."""
    path = Path(tempfile.mkdtemp(prefix="photoncal_stage2_"))
    atexit.register(shutil.rmtree, path, True)
    return path


def reference_dir() -> str:
    path = workdir() / "references"
    path.mkdir(exist_ok=True)
    return str(path)


@functools.lru_cache(maxsize=None)
def _simulated(detector, subarray, filter_name, seed, effects, pointing_error, sky_offset, ra, dec, roll, scene,
               dither_offset=(0.0, 0.0), exposure=1):
    from photoncal import sim

    kwargs = {}
    if scene == "stars":
        # two isolated point sources well inside a subarray centred on (ra, dec),
        # further apart than two PSF radii (12 lambda/D)
        offset = 7.0 if detector == "MIRIMAGE" else 1.7
        kwargs["scene"] = sim.Scene.from_sources([ra, ra], [dec, dec + offset / 3600.0], [2.0e-5, 1.0e-5],
                                                 kind="point", sky_background=0.2)
    if filter_name is not None:
        kwargs["filter"] = filter_name
    readpatt = {"MIRIMAGE": "FAST", "NIS": "NISRAPID"}.get(detector)
    if detector.startswith("GUIDER"):
        readpatt = "FGSRAPID"
    model, truth = sim.simulate_exposure(
        detector=detector, subarray=subarray, readpatt=readpatt, ngroups=3, nints=1, seed=seed,
        effects=effects, output_dir=None, reference_dir=reference_dir(),
        pointing_error=pointing_error, sky_offset=sky_offset, ra=ra, dec=dec, roll=roll,
        dither_offset=dither_offset, exposure=exposure, **kwargs)
    return model, truth


def cal_exposure(*args, **kwargs):
    """A calibrated (``_cal``-like) exposure: :func:`rate_exposure` through assign_wcs, flat_field and photom."""
    from photoncal.steps.assign_wcs import AssignWcsStep
    from photoncal.steps.flat_field import FlatFieldStep
    from photoncal.steps.photom import PhotomStep

    model, truth = rate_exposure(*args, **kwargs)
    refs = reference_dir()
    for step in (AssignWcsStep, FlatFieldStep, PhotomStep):
        model = step.call(model, reference_dir=refs)
    model.meta.filename = model.meta.filename.replace("_rate", "_cal")
    return model, truth


def rate_exposure(detector="NRCA1", subarray="SUB160", filter_name=None, seed=1, effects="noiseless",
                  pointing_error=(0.0, 0.0, 0.0), noise=False, sky_offset=0.0, ra=53.16, dec=-27.79,
                  roll=45.0, nints=None, scene="default", dither_offset=(0.0, 0.0), exposure=1):
    """A rate ImageModel (CubeModel with ``nints``) from the simulator, and its truth.

    Returns
    -------
    model : ImageModel or CubeModel
        A new model (callers may modify it).
    truth : photoncal.sim.Truth
    """
    from photoncal import datamodels
    from photoncal.datamodels.subarray import ref_to_science_subarray
    from photoncal.dqflags import pixel

    level1b, truth = _simulated(detector, subarray, filter_name, seed, effects, tuple(pointing_error),
                                float(sky_offset), ra, dec, roll, scene, tuple(dither_offset), int(exposure))
    rate = np.asarray(truth.rate, dtype=np.float32)
    shape = rate.shape
    model = datamodels.ImageModel(shape) if nints is None else datamodels.CubeModel((nints,) + shape)
    model.update(level1b, only=None)
    model.meta.filename = level1b.meta.filename.replace("_uncal", "_rate" if nints is None else "_rateints")
    model.meta.observation.exposure_number = level1b.meta.observation.exposure_number
    model.meta.origin = level1b.meta.origin
    for key in ("v2_ref", "v3_ref", "roll_ref", "ra_ref", "dec_ref", "vparity", "v3yangle", "crpix1",
                "crpix2", "crval1", "crval2", "s_region"):
        setattr(model.meta.wcsinfo, key, getattr(level1b.meta.wcsinfo, key))
    model.meta.bunit_data = "DN/s"
    model.meta.bunit_err = "DN/s"

    refs = Path(reference_dir())
    det = detector.lower()
    mask = datamodels.open(next(refs.glob(f"photoncal_sim_v*_{det}_mask*.fits")))
    gain = datamodels.open(next(refs.glob(f"photoncal_sim_v*_{det}_gain*.fits")))
    readnoise = datamodels.open(next(refs.glob(f"photoncal_sim_v*_{det}_readnoise*.fits")))
    dq = ref_to_science_subarray(mask, model).dq.astype(np.uint32)
    g = ref_to_science_subarray(gain, model).data.astype(np.float32)
    rn = ref_to_science_subarray(readnoise, model).data.astype(np.float32)
    t_eff = float(level1b.meta.exposure.integration_time or truth.group_time * 2)
    var_rnoise = (12.0 * rn**2 / (3**3 - 3) / truth.group_time**2).astype(np.float32)
    var_poisson = (np.clip(rate, 0, None) / np.where(g > 0, g, 1) / t_eff).astype(np.float32)
    data = rate.copy()
    if noise:
        rng = np.random.default_rng(seed + 1000)
        data = data + rng.normal(0.0, 1.0, shape).astype(np.float32) * np.sqrt(var_rnoise + var_poisson)
    if nints is not None:
        data = np.broadcast_to(data, (nints,) + shape).copy()
        var_rnoise = np.broadcast_to(var_rnoise, (nints,) + shape).copy()
        var_poisson = np.broadcast_to(var_poisson, (nints,) + shape).copy()
        dq = np.broadcast_to(dq, (nints,) + shape).copy()
    bad = (dq & pixel["DO_NOT_USE"]) != 0
    data = data.astype(np.float32)
    data[bad] = np.nan
    model.data = data
    model.dq = dq
    model.var_rnoise = np.where(bad, np.nan, var_rnoise).astype(np.float32)
    model.var_poisson = np.where(bad, np.nan, var_poisson).astype(np.float32)
    model.err = np.sqrt(model.var_rnoise + model.var_poisson).astype(np.float32)
    for m in (mask, gain, readnoise):
        m.close()
    return model, truth
