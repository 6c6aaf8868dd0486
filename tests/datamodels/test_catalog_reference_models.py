"""APCORR, ABVEGAOFFSET and segmentation-map models (used by source_catalog)."""

import numpy as np
import pytest
from astropy.table import Table

from photoncal import datamodels
from photoncal.datamodels.models import SegmentationMapModel
from photoncal.datamodels.reference import (
    ABVegaOffsetModel,
    FgsImgApcorrModel,
    MirImgApcorrModel,
    NrcImgApcorrModel,
)

APCORR_DTYPE = [("filter", "S12"), ("pupil", "S15"), ("eefraction", "f4"), ("radius", "f4"),
                ("apcorr", "f4"), ("skyin", "f4"), ("skyout", "f4")]


def test_apcorr_round_trip_and_class_by_instrument(tmp_path):
    model = NrcImgApcorrModel()
    model.apcorr_table = np.array([("F200W", "CLEAR", 0.3, 1.25, 3.3, 20.0, 30.0),
                                   ("F200W", "CLEAR", 0.7, 2.5, 1.4, 20.0, 30.0)], dtype=APCORR_DTYPE)
    model.meta.instrument.name = "NIRCAM"
    path = model.save(tmp_path / "apcorr.fits")
    with datamodels.open(path) as back:
        assert type(back) is NrcImgApcorrModel
        assert back.meta.reftype == "APCORR"
        assert list(back.apcorr_table["filter"]) == ["F200W", "F200W"]
        np.testing.assert_allclose(back.apcorr_table["radius"], [1.25, 2.5])
    miri = MirImgApcorrModel()
    miri.meta.instrument.name = "MIRI"
    miri.apcorr_table = np.array([("F770W", "FULL", 0.5, 2.0, 2.0, 8.0, 12.0)],
                                 dtype=[("filter", "S12"), ("subarray", "S15")] + APCORR_DTYPE[2:])
    with datamodels.open(miri.save(tmp_path / "m.fits")) as back:
        assert type(back) is MirImgApcorrModel
    fgs = FgsImgApcorrModel()
    fgs.meta.instrument.name = "FGS"
    fgs.apcorr_table = np.array([(0.5, 2.0, 2.0, 8.0, 12.0)], dtype=APCORR_DTYPE[2:])
    with datamodels.open(fgs.save(tmp_path / "f.fits")) as back:
        assert type(back) is FgsImgApcorrModel


def test_abvegaoffset_is_an_asdf_table(tmp_path):
    table = Table({"filter": ["F200W", "F444W"], "pupil": ["CLEAR", "CLEAR"],
                   "abvega_offset": [1.7, 3.2]})
    model = ABVegaOffsetModel(abvega_offset=table)
    model.meta.instrument.name = "NIRCAM"
    path = model.save(tmp_path / "abvega.asdf")
    assert str(path).endswith(".asdf")
    with datamodels.open(path) as back:
        assert type(back) is ABVegaOffsetModel
        assert back.meta.reftype == "ABVEGAOFFSET"
        np.testing.assert_allclose(back.abvega_offset["abvega_offset"], [1.7, 3.2])


def test_segmentation_map_keeps_uint32_labels(tmp_path):
    labels = np.zeros((5, 6), dtype=np.uint32)
    labels[1:3, 2:4] = 70000
    path = SegmentationMapModel(labels).save(tmp_path / "x_segm.fits")
    with datamodels.open(path) as back:
        assert type(back) is SegmentationMapModel
        assert back.data.dtype == np.uint32
        assert back.data.max() == 70000


def test_established_pipeline_reads_them(tmp_path):
    sdm = pytest.importorskip("stdatamodels.jwst.datamodels")
    model = NrcImgApcorrModel()
    model.meta.instrument.name = "NIRCAM"
    model.apcorr_table = np.array([("F200W", "CLEAR", 0.3, 1.25, 3.3, 20.0, 30.0)], dtype=APCORR_DTYPE)
    with sdm.open(model.save(tmp_path / "apcorr.fits")) as back:
        assert type(back).__name__ == "NrcImgApcorrModel"
    with sdm.open(SegmentationMapModel(np.ones((3, 3), np.uint32)).save(tmp_path / "s_segm.fits")) as back:
        assert type(back).__name__ == "SegmentationMapModel"
