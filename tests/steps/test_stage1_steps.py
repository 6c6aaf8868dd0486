"""Every stage-1 step run on its own: status keyword, reference files
recorded (R_*), output name, and ``override_<reftype>=N/A`` skips it."""

from __future__ import annotations

import os

import numpy as np
import pytest
from astropy.io import fits

from photoncal.cli import strun
from photoncal.stpipe import registry

# alias -> (status keyword, reference types it records), run on the NIRCam exposure
NIR_STEPS = {
    "dq_init": ("S_DQINIT", ["mask"]),
    "saturation": ("S_SATURA", ["saturation", "superbias"]),
    "ipc": ("S_IPC", ["ipc"]),
    "superbias": ("S_SUPERB", ["superbias"]),
    "refpix": ("S_REFPIX", []),
    "linearity": ("S_LINEAR", ["linearity"]),
    "persistence": ("S_PERSIS", ["trapdensity", "trappars", "persat"]),
    "dark_current": ("S_DARK", ["dark"]),
    "jump": ("S_JUMP", ["gain", "readnoise"]),
    "ramp_fit": ("S_RAMP", ["readnoise", "gain"]),
}
# run on the MIRI exposure
MIRI_STEPS = {
    "lastframe": ("S_LASTFR", []),
    "reset": ("S_RESET", ["reset"]),
    "rscd": ("S_RSCD", ["rscd"]),
}
REF_KEYWORD = {"mask": "R_MASK", "saturation": "R_SATURA", "superbias": "R_SUPERB", "ipc": "R_IPC",
               "linearity": "R_LINEAR", "trapdensity": "R_TRPDEN", "trappars": "R_TRPPAR", "persat": "R_PERSAT",
               "dark": "R_DARK", "gain": "R_GAIN", "readnoise": "R_READNO", "reset": "R_RESET", "rscd": "R_RSCD"}


def _base(path):
    return os.path.basename(os.fspath(path)).replace("_uncal.fits", "")


def _run_strun(alias, path, refdir, *extra):
    return strun.main([alias, os.fspath(path), f"--reference_dir={refdir}", *extra])


@pytest.mark.parametrize("alias", sorted(NIR_STEPS) + sorted(MIRI_STEPS))
def test_strun_step_writes_named_product_with_status_and_references(alias, nircam_uncal, miri_uncal,
                                                                     stage1_refdir, in_tmp):
    status, reftypes = {**NIR_STEPS, **MIRI_STEPS}[alias]
    path = (miri_uncal if alias in MIRI_STEPS else nircam_uncal)[0]
    base = _base(path)
    if alias == "refpix":
        # one-output subarrays find their reference pixels through the MASK (dq_init)
        assert _run_strun("dq_init", path, stage1_refdir) == 0
        path = in_tmp / f"{base}_dq_init.fits"
    assert _run_strun(alias, path, stage1_refdir) == 0
    suffix = "rate" if alias == "ramp_fit" else alias
    product = in_tmp / f"{base}_{suffix}.fits"
    assert product.is_file(), sorted(os.listdir(in_tmp))
    header = fits.getheader(product)
    assert header[status] == "COMPLETE"
    for reftype in reftypes:
        recorded = header[REF_KEYWORD[reftype]]
        assert os.path.dirname(recorded) == os.fspath(stage1_refdir)
        assert reftype in os.path.basename(recorded)


def test_ramp_fit_alone_writes_rate_and_rateints(miri_uncal, stage1_refdir, in_tmp):
    path = miri_uncal[0]
    assert _run_strun("ramp_fit", path, stage1_refdir, "--save_opt=True") == 0
    base = _base(path)
    with fits.open(in_tmp / f"{base}_rate.fits") as rate, fits.open(in_tmp / f"{base}_rateints.fits") as ints:
        assert rate["SCI"].data.shape == (64, 72)
        assert ints["SCI"].data.shape == (2, 64, 72)
        assert ints[0].header["S_RAMP"] == "COMPLETE"
        assert ints[0].header["R_GAIN"].endswith("gain_sub64.fits")
        assert rate["SCI"].header["BUNIT"] == "DN/s"
    with fits.open(in_tmp / f"{base}_fitopt.fits") as opt:
        assert opt["SLOPE"].data.shape[0] == 2 and opt["SLOPE"].data.shape[2:] == (64, 72)
        assert opt["PEDESTAL"].data.shape == (2, 64, 72)


@pytest.mark.parametrize(
    "alias, reftype",
    [("dq_init", "mask"), ("saturation", "saturation"), ("ipc", "ipc"), ("superbias", "superbias"),
     ("linearity", "linearity"), ("dark_current", "dark"), ("jump", "gain"), ("ramp_fit", "readnoise"),
     ("persistence", "persat")],
)
def test_na_override_skips_the_step(alias, reftype, nircam_uncal, stage1_refdir, in_tmp):
    step_class = registry.resolve(alias)
    model = step_class.call(nircam_uncal[0], reference_dir=os.fspath(stage1_refdir), **{f"override_{reftype}": "N/A"})
    status = step_class.status_name()
    assert model[f"meta.cal_step.{status}"] == "SKIPPED"
    assert not os.listdir(in_tmp)  # nothing saved


def test_saturation_superbias_na_still_runs(nircam_uncal, stage1_refdir):
    from photoncal.steps.saturation import SaturationStep

    model = SaturationStep.call(nircam_uncal[0], reference_dir=os.fspath(stage1_refdir), override_superbias="N/A")
    assert model.meta.cal_step.saturation == "COMPLETE"
    assert model.meta.ref_file.superbias.name == "N/A"


def test_group_scale_skips_when_frmdivsr_equals_nframes(nircam_uncal, in_tmp):
    from photoncal.steps.group_scale import GroupScaleStep

    model = GroupScaleStep.call(nircam_uncal[0])
    assert model.meta.exposure.nframes == model.meta.exposure.frame_divisor == 8
    assert model.meta.cal_step.group_scale == "SKIPPED"


def test_group_scale_rescales_by_frmdivsr_over_nframes(nircam_uncal):
    from photoncal import datamodels
    from photoncal.steps.group_scale import GroupScaleStep

    raw = datamodels.open(nircam_uncal[0])
    raw.meta.exposure.nframes = 5
    raw.meta.exposure.frame_divisor = 8
    before = raw.data.copy()
    model = GroupScaleStep.call(raw)
    assert model.meta.cal_step.group_scale == "COMPLETE"
    np.testing.assert_allclose(model.data, before * np.float32(8 / 5), rtol=1e-6)
    np.testing.assert_array_equal(raw.data, before)  # the caller's model is left alone


def test_nir_only_and_miri_only_steps_skip_on_the_other_instrument(nircam_uncal, miri_uncal, stage1_refdir):
    from photoncal.steps.lastframe import LastFrameStep
    from photoncal.steps.persistence import PersistenceStep
    from photoncal.steps.reset import ResetStep
    from photoncal.steps.rscd import RscdStep

    refdir = os.fspath(stage1_refdir)
    for step_class in (LastFrameStep, ResetStep, RscdStep):
        model = step_class.call(nircam_uncal[0], reference_dir=refdir)
        assert model[f"meta.cal_step.{step_class.status_name()}"] == "SKIPPED"
    # MIRI has no persistence reference files: skipped, as in the established pipeline
    model = PersistenceStep.call(miri_uncal[0], reference_dir=refdir)
    assert model.meta.cal_step.persistence == "SKIPPED"


def test_firstframe_is_skipped_by_default_and_flags_when_asked(miri_uncal):
    from photoncal import dqflags
    from photoncal.steps.firstframe import FirstFrameStep

    assert FirstFrameStep.call(miri_uncal[0]).meta.cal_step.firstframe == "SKIPPED"
    model = FirstFrameStep.call(miri_uncal[0], skip=False)
    assert model.meta.cal_step.firstframe == "COMPLETE"
    dnu = dqflags.group["DO_NOT_USE"]
    assert np.all(model.groupdq[:, 0] & dnu)
    assert not np.any(model.groupdq[:, 1:] & dnu)  # only the first group


def test_full_frame_reference_is_cut_to_the_subarray(nircam_uncal, tmp_path):
    """A full-frame MASK serves a SUB160 exposure: the step cuts it."""
    from photoncal import datamodels, dqflags
    from photoncal.steps.dq_init import DQInitStep

    raw = datamodels.open(nircam_uncal[0])
    xstart, ystart = raw.meta.subarray.xstart, raw.meta.subarray.ystart
    mask = datamodels.MaskModel(dq=np.zeros((2048, 2048), dtype=np.uint32))
    mask.meta.instrument.name = "NIRCAM"
    mask.meta.instrument.detector = "NRCA1"
    mask.meta.subarray.name = "FULL"
    mask.meta.subarray.xstart = mask.meta.subarray.ystart = 1
    mask.meta.subarray.xsize = mask.meta.subarray.ysize = 2048
    hot = dqflags.pixel["HOT"] | dqflags.pixel["DO_NOT_USE"]
    mask.dq[ystart - 1 + 7, xstart - 1 + 9] = hot  # science pixel (7, 9)
    mask.dq[ystart - 1 + 500, xstart - 1 + 9] = hot  # outside the subarray
    path = mask.save(os.fspath(tmp_path / "full_mask.fits"))
    model = DQInitStep.call(raw, override_mask=path)
    assert model.pixeldq.shape == (160, 160)
    assert model.pixeldq[7, 9] == hot
    assert np.count_nonzero(model.pixeldq & dqflags.pixel["HOT"]) == 1
    assert np.all(model.groupdq[:, :, 7, 9] & dqflags.group["DO_NOT_USE"])
    assert model.meta.ref_file.mask.name == path


def test_reference_that_does_not_cover_the_subarray_is_a_clear_error(nircam_uncal, tmp_path):
    from photoncal import datamodels
    from photoncal.datamodels.errors import SubarrayError
    from photoncal.steps.dq_init import DQInitStep

    mask = datamodels.MaskModel(dq=np.zeros((100, 100), dtype=np.uint32))
    mask.meta.instrument.name = "NIRCAM"
    mask.meta.subarray.name = "SUB100"
    mask.meta.subarray.xstart = mask.meta.subarray.ystart = 1
    mask.meta.subarray.xsize = mask.meta.subarray.ysize = 100
    path = mask.save(os.fspath(tmp_path / "small_mask.fits"))
    with pytest.raises(SubarrayError, match="science .* needs columns 1-160"):
        DQInitStep.call(nircam_uncal[0], override_mask=path)


def test_wrong_input_type_is_a_clear_error(tmp_path):
    from photoncal import datamodels
    from photoncal.steps.jump import JumpStep

    image = datamodels.ImageModel(data=np.zeros((10, 10), dtype=np.float32))
    image.meta.filename = "x_rate.fits"
    with pytest.raises(TypeError, match="x_rate.fits is a ImageModel; expected a ramp"):
        JumpStep.call(image)
