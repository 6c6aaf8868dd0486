"""Every model class saves to FITS and ASDF and reads back identically."""

import numpy as np
import pytest

from photoncal import datamodels as dm

_SET_ON_SAVE = {"meta.date", "meta.filename", "meta.model_type"}


def _meta(model):
    return {k: v for k, v in model.to_flat_dict(include_arrays=False).items()
            if k.startswith("meta.") and k not in _SET_ON_SAVE and not k.startswith("meta.wcs")}


def _arrays(model):
    out = {}
    for key in list(model._instance):
        value = getattr(model, key) if not key.startswith("_") and key not in ("history", "extra_fits", "meta") else None
        if isinstance(value, np.ndarray):
            out[key] = value
    return out


def _assert_same(original, loaded):
    assert type(loaded) is type(original)
    a, b = _arrays(original), _arrays(loaded)
    assert sorted(a) == sorted(b)
    for key in a:
        assert b[key].dtype.newbyteorder("=") == a[key].dtype.newbyteorder("="), key
        if a[key].dtype.names:
            assert a[key].dtype.names == b[key].dtype.names, key
            for col in a[key].dtype.names:
                np.testing.assert_array_equal(b[key][col], a[key][col], err_msg=f"{key}.{col}")
        else:
            np.testing.assert_array_equal(b[key], a[key], err_msg=key)
    assert _meta(loaded) == _meta(original)
    assert list(loaded.history) == list(original.history)


@pytest.mark.parametrize("ext", ["fits", "asdf"])
def test_round_trip(model_class_name, model_factory, tmp_path, ext):
    model = model_factory(model_class_name)
    path = model.save(tmp_path / f"model.{ext}")
    assert path == str(tmp_path / f"model.{ext}")
    if model_class_name == "Level1bModel":
        # open() reads a raw exposure as a float32 ramp ready for calibration
        with dm.open(path) as ramp:
            assert type(ramp) is dm.RampModel and ramp.data.dtype == np.float32
            np.testing.assert_array_equal(ramp.data, model.data.astype(np.float32))
    else:
        with dm.open(path) as loaded:
            _assert_same(model, loaded)
            assert loaded.meta.model_type == model_class_name
            assert loaded.meta.filename == f"model.{ext}"
    # opening through the class itself gives the same
    with getattr(dm, model_class_name)(path) as again:
        _assert_same(model, again)


def test_round_trip_multiexposure_items(model_factory, tmp_path):
    model = model_factory("MultiExposureModel")
    path = model.save(tmp_path / "multi.fits")
    from astropy.io import fits

    with fits.open(path) as hdul:
        names = [(h.name, h.ver) for h in hdul]
    assert ("SCI", 1) in names and ("SCI", 2) in names and ("DQ", 2) in names
    loaded = dm.open(path)
    assert len(loaded.exposures) == 2
    np.testing.assert_array_equal(loaded.exposures[1].data, model.exposures[1].data)
    assert loaded.exposures[1].meta.exposure.exposure_time == 20.0


def test_distortion_model_transform_round_trip(model_factory, tmp_path):
    model = model_factory("DistortionModel")
    path = model.save(tmp_path / "dist.asdf")
    loaded = dm.open(path)
    assert isinstance(loaded, dm.DistortionModel)
    assert loaded.model(1.0, 2.0) == (2.5, 0.0)
    assert loaded.meta.output_units == "arcsec"
