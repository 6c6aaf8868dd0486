import numpy as np
import pytest

from photoncal.dqflags import pixel as F
from photoncal.kernels.superbias import subtract_superbias


def test_subtract_bias_from_every_group_nan_is_no_correction():
    data = np.full((2, 3, 4, 5), 1000.0, np.float32)
    bias = np.arange(20, dtype=np.float32).reshape(4, 5)
    bias[2, 3] = np.nan
    bias_dq = np.zeros((4, 5), np.uint32)
    bias_dq[2, 3] = F["UNRELIABLE_BIAS"]
    pdq = np.full((4, 5), F["HOT"], np.uint32)
    subtract_superbias(data, pdq, bias, bias_dq)
    expected = 1000.0 - np.nan_to_num(bias)
    for i in range(2):
        for g in range(3):
            np.testing.assert_array_equal(data[i, g], expected)
    assert data[1, 2, 2, 3] == 1000.0
    assert pdq[2, 3] == F["HOT"] | F["UNRELIABLE_BIAS"]
    assert pdq[0, 0] == F["HOT"]


def test_zeroframe_zeros_stay_zero():
    data = np.ones((1, 1, 2, 2), np.float32)
    zf = np.array([[[0.0, 500.0], [600.0, 0.0]]], np.float32)
    subtract_superbias(data, np.zeros((2, 2), np.uint32), np.full((2, 2), 100.0, np.float32),
                       np.zeros((2, 2), np.uint32), zeroframe=zf)
    assert zf[0].tolist() == [[0.0, 400.0], [500.0, 0.0]]


def test_shape_checks():
    with pytest.raises(ValueError, match="SUPERBIAS SCI has shape"):
        subtract_superbias(np.zeros((1, 1, 2, 2), np.float32), np.zeros((2, 2), np.uint32),
                           np.zeros((3, 2), np.float32), np.zeros((2, 2), np.uint32))


def test_big_endian_reference_and_clear_error_for_big_endian_science():
    data = np.full((1, 1, 2, 2), 10.0, np.float32)
    bias = np.full((2, 2), 4.0, ">f4")
    subtract_superbias(data, np.zeros((2, 2), np.uint32), bias, np.zeros((2, 2), ">u4"))
    assert np.all(data == 6.0)
    with pytest.raises(ValueError, match="non-native byte order"):
        subtract_superbias(data.astype(">f4"), np.zeros((2, 2), np.uint32), bias, np.zeros((2, 2), np.uint32))
