import numpy as np
import pytest

from photoncal.kernels.group_scale import group_scale_factor, rescale_groups


@pytest.mark.parametrize(
    "nframes, divisor, expected",
    [(5, 8, 8 / 5), (3, 4, 4 / 3), (4, 4, None), (None, 8, None), (5, None, None), (4, None, None)],
)
def test_factor_rules(nframes, divisor, expected):
    assert group_scale_factor(nframes, divisor) == expected


def test_factor_rejects_zero_nframes():
    with pytest.raises(ValueError, match="NFRAMES"):
        group_scale_factor(0, 8)


def test_rescale_multiplies_every_group_in_float32():
    data = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5) + 0.25
    expected = data * np.float32(8 / 5)
    rescale_groups(data, 8 / 5)
    np.testing.assert_array_equal(data, expected)


def test_rescale_wants_a_ramp():
    with pytest.raises(ValueError, match="4-D"):
        rescale_groups(np.zeros((3, 4, 5), np.float32), 2.0)
