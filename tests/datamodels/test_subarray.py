"""Reference files cut to the science subarray."""

import numpy as np
import pytest

from photoncal import datamodels as dm
from photoncal.datamodels.errors import SubarrayError
from photoncal.datamodels.subarray import is_full_frame, ref_to_science_subarray, subarray_slices


def _science(xstart, ystart, nx, ny, name="SUB"):
    m = dm.RampModel((1, 2, ny, nx))
    m.meta.subarray.name = name
    m.meta.subarray.xstart, m.meta.subarray.ystart = xstart, ystart
    m.meta.subarray.xsize, m.meta.subarray.ysize = nx, ny
    m.meta.instrument.name = "NIRCAM"
    return m


def _full_reference(ny=40, nx=50):
    ref = dm.SaturationModel(np.arange(ny * nx, dtype=np.float32).reshape(ny, nx))
    ref.dq = (np.arange(ny * nx) % 7).astype(np.uint32).reshape(ny, nx)
    ref.meta.subarray.xstart, ref.meta.subarray.ystart = 1, 1
    ref.meta.subarray.xsize, ref.meta.subarray.ysize = nx, ny
    ref.meta.filename = "sat_ref.fits"
    return ref


def test_is_full_frame():
    assert is_full_frame({"subarray": {"name": "FULL"}})
    meta = dm.ImageModel().meta
    meta.instrument.name = "NIRCAM"
    meta.subarray.xstart, meta.subarray.ystart, meta.subarray.xsize, meta.subarray.ysize = 1, 1, 2048, 2048
    assert is_full_frame(meta)
    meta.subarray.xsize = 64
    assert not is_full_frame(meta)
    meta.instrument.name = "MIRI"
    meta.subarray.xsize, meta.subarray.ysize = 1032, 1024
    assert is_full_frame(meta)
    assert not is_full_frame(dm.ImageModel().meta)


def test_cut_full_frame_reference_to_subarray():
    ref = _full_reference()
    sci = _science(xstart=11, ystart=21, nx=8, ny=5)
    cut = ref_to_science_subarray(ref, sci)
    assert type(cut) is dm.SaturationModel and cut is not ref
    # 1-based corner (11, 21) -> 0-based rows 20..24, columns 10..17
    np.testing.assert_array_equal(cut.data, ref.data[20:25, 10:18])
    np.testing.assert_array_equal(cut.dq, ref.dq[20:25, 10:18])
    assert cut.data.base is not None  # a view, no copy
    assert (cut.meta.subarray.xstart, cut.meta.subarray.ystart) == (11, 21)
    assert (cut.meta.subarray.xsize, cut.meta.subarray.ysize) == (8, 5)
    assert cut.meta.subarray.name == "SUB"
    assert ref.meta.subarray.xsize == 50  # the reference is untouched
    assert subarray_slices(ref, sci) == (slice(20, 25), slice(10, 18))


def test_matching_reference_is_returned_as_is():
    ref = _full_reference(5, 8)
    ref.meta.subarray.xstart, ref.meta.subarray.ystart = 11, 21
    sci = _science(11, 21, 8, 5)
    assert ref_to_science_subarray(ref, sci) is ref


def test_subarray_reference_inside_another_subarray():
    ref = _full_reference(10, 10)
    ref.meta.subarray.xstart, ref.meta.subarray.ystart = 5, 7
    sci = _science(xstart=6, ystart=9, nx=3, ny=2)
    cut = ref_to_science_subarray(ref, sci)
    np.testing.assert_array_equal(cut.data, ref.data[2:4, 1:4])


def test_reference_that_does_not_cover_raises():
    ref = _full_reference(40, 50)
    sci = _science(xstart=45, ystart=1, nx=10, ny=5)
    with pytest.raises(SubarrayError, match=r"sat_ref\.fits covers columns 1-50.*needs columns 45-54"):
        ref_to_science_subarray(ref, sci)


def test_linearity_coefficients_are_cut_on_the_image_plane():
    lin = dm.LinearityModel(np.arange(3 * 6 * 7, dtype=np.float32).reshape(3, 6, 7))
    sci = _science(2, 3, 4, 2)
    cut = ref_to_science_subarray(lin, sci)
    assert cut.coeffs.shape == (3, 2, 4)
    np.testing.assert_array_equal(cut.coeffs, lin.coeffs[:, 2:4, 1:5])
    assert cut.dq.shape == (2, 4)
