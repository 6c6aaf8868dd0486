"""Builders of fully populated models for the data-model tests."""

from __future__ import annotations

import numpy as np
import pytest

from photoncal import datamodels as dm
from photoncal import dqflags
from photoncal.datamodels.schema import datatype_to_dtype, is_table_schema

#: Shape of the primary array of each class in the tests.
PRIMARY_SHAPES = {
    "ImageModel": (6, 7),
    "CubeModel": (2, 6, 7),
    "QuadModel": (2, 3, 6, 7),
    "RampModel": (2, 3, 6, 7),
    "MIRIRampModel": (2, 3, 6, 7),
    "Level1bModel": (2, 3, 6, 7),
    "RampFitOutputModel": (2, 2, 6, 7),
    "DrizProductModel": (6, 7),
    "GuiderRawModel": (2, 3, 6, 7),
    "GuiderCalModel": (2, 6, 7),
    "TrapsFilledModel": (3, 6, 7),
    "ReferenceImageModel": (6, 7),
    "ReferenceCubeModel": (3, 6, 7),
    "ReferenceQuadModel": (2, 3, 6, 7),
    "MaskModel": (6, 7),
    "SaturationModel": (6, 7),
    "SuperBiasModel": (6, 7),
    "LinearityModel": (4, 6, 7),
    "DarkModel": (5, 6, 7),
    "DarkMIRIModel": (2, 5, 6, 7),
    "GainModel": (6, 7),
    "ReadnoiseModel": (6, 7),
    "IPCModel": (3, 3),
    "ResetModel": (2, 3, 6, 7),
    "LastFrameModel": (6, 7),
    "FlatModel": (6, 7),
    "PixelAreaModel": (6, 7),
    "TrapDensityModel": (6, 7),
    "PersistenceSatModel": (6, 7),
}

TABLE_ONLY = ["PhotomModel", "NircamPhotomModel", "NirissPhotomModel", "FgsPhotomModel",
              "MiriImgPhotomModel", "DrizParsModel", "RSCDModel", "TrapParsModel"]

ALL_CLASSES = sorted(PRIMARY_SHAPES) + TABLE_ONLY + ["MultiExposureModel", "DistortionModel", "FilteroffsetModel"]

DQ_VALUES = np.array([0, 1, 4, 5, 2048, 2049], dtype=np.uint32)


def _random_array(rng, dtype, shape, name):
    if name in ("dq", "pixeldq", "groupdq"):
        values = DQ_VALUES if dtype.itemsize >= 2 else np.array([0, 1, 4, 5], dtype=dtype)
        return rng.choice(values, size=shape).astype(dtype)
    if dtype.kind == "f":
        return rng.normal(100.0, 10.0, size=shape).astype(dtype)
    if dtype.kind in "iu":
        return rng.integers(0, 1000, size=shape).astype(dtype)
    raise AssertionError(dtype)


def _random_table(rng, node, n=3):
    dtype = datatype_to_dtype(node["datatype"])
    if dtype is None:
        dtype = np.dtype([("name", "U10"), ("value", "f8"), ("count", "i4"), ("vector", "f4", (4,))])
    table = np.zeros(n, dtype=dtype)
    for field in dtype.names:
        base = dtype.fields[field][0].base
        shape = (n,) + dtype.fields[field][0].shape
        if base.kind == "U":
            table[field] = [f"{field[:3]}{i}" for i in range(n)]
        elif base.kind == "f":
            table[field] = rng.normal(size=shape)
        else:
            table[field] = rng.integers(0, 100, size=shape)
    return table


def make_model(name, rng=None):
    """A model of class ``name`` with every array, a table and varied metadata set."""
    rng = np.random.default_rng(1) if rng is None else rng
    cls = getattr(dm, name)
    if name in PRIMARY_SHAPES:
        model = cls(PRIMARY_SHAPES[name])
    else:
        model = cls()
    index = model._index
    primary = model.get_primary_array_name()
    for path, node in index.arrays.items():
        if len(path) != 1 or "fits_hdu" not in node:
            continue
        key = path[0]
        if is_table_schema(node):
            if key == "dq_def":
                continue
            setattr(model, key, _random_table(rng, node))
            continue
        if name not in PRIMARY_SHAPES:
            continue
        dtype = datatype_to_dtype(node["datatype"])
        if key == primary:
            shape = PRIMARY_SHAPES[name]
        elif key == "refout":
            shape = PRIMARY_SHAPES[name][:2] + (6, 2)
        else:
            shape = model._default_shape(key, node)
            if shape is None:  # e.g. a 3-D CON beside a 2-D SCI
                shape = (2,) * (node["ndim"] - 2) + PRIMARY_SHAPES[name][-2:]
        setattr(model, key, _random_array(rng, dtype, shape, key))
    if "dq_def" in (index.schema.get("properties") or {}):
        model.dq_def = dqflags.dqdef_table([1, 4, 2048])
    if name == "MultiExposureModel":
        for i in range(2):
            model.exposures.append({
                "data": rng.normal(size=(4, 5)).astype(np.float32),
                "dq": rng.choice(DQ_VALUES, size=(4, 5)),
                "err": rng.normal(size=(4, 5)).astype(np.float32),
                "meta": {"filename": f"exp{i}.fits", "exposure": {"exposure_time": 10.0 * (i + 1)}},
            })
    if name == "DistortionModel":
        from astropy.modeling import models as am

        model.model = am.Shift(1.5) & am.Shift(-2.0)
        model.meta.input_units = "pixel"
        model.meta.output_units = "arcsec"
    if name == "FilteroffsetModel":
        model.filters = [{"filter": "F200W", "pupil": "CLEAR", "row_offset": 0.5, "column_offset": -0.25}]
    meta = model.meta
    meta.telescope = "JWST"
    meta.instrument.name = "MIRI" if name in ("MIRIRampModel", "DarkMIRIModel", "MiriImgPhotomModel") else "NIRCAM"
    meta.instrument.detector = "MIRIMAGE" if meta.instrument.name == "MIRI" else "NRCA1"
    meta.instrument.filter = "F200W"
    meta.exposure.ngroups = 3
    meta.exposure.nframes = 1
    meta.exposure.frame_time = 10.737
    meta.exposure.gain_factor = 2.0
    meta.exposure.readpatt = "RAPID"
    meta.observation.date = "2023-01-02"
    meta.observation.program_number = "01234"
    meta.visit.tsovisit = False
    meta.subarray.name = "FULL"
    meta.subarray.xstart = 1
    meta.cal_step.jump = "COMPLETE"
    meta.ref_file.gain.name = "jwst_nircam_gain_0001.fits"
    meta.wcsinfo.v2_ref = 120.5
    if isinstance(model, dm.ReferenceFileModel):
        meta.description = "test reference"
        meta.author = "photoncal tests"
        meta.pedigree = "DUMMY"
        meta.useafter = "2022-01-01T00:00:00"
        meta.exposure.p_exptype = "NRC_IMAGE|NRC_TACQ|"
    model.history.append("built by the photoncal test suite")
    return model


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def model_factory():
    """``model_factory(name)`` -> a fully populated model of that class."""
    return make_model


def pytest_generate_tests(metafunc):
    if "model_class_name" in metafunc.fixturenames:
        metafunc.parametrize("model_class_name", ALL_CLASSES)
