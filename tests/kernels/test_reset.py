import numpy as np
import pytest

from photoncal.dqflags import pixel as F
from photoncal.kernels.reset import subtract_reset


def _ref(nints, ngroups):
    # value = 100*int + group + 1, so every subtraction is identifiable
    ref = np.zeros((nints, ngroups, 2, 3), np.float32)
    for i in range(nints):
        for g in range(ngroups):
            ref[i, g] = 100 * i + g + 1
    return ref


def test_groups_beyond_reference_and_integrations_beyond_reference():
    data = np.zeros((4, 5, 2, 3), np.float32)
    ref = _ref(2, 3)
    ref[0, 0, 1, 2] = np.nan
    ref_dq = np.zeros((2, 3), np.uint32)
    ref_dq[0, 1] = F["UNRELIABLE_RESET"]
    pdq = np.zeros((2, 3), np.uint32)
    subtract_reset(data, pdq, ref, ref_dq)
    assert data[0, :, 0, 0].tolist() == [-1, -2, -3, 0, 0]
    assert data[1, :, 0, 0].tolist() == [-101, -102, -103, 0, 0]
    assert data[3, :, 0, 0].tolist() == [-101, -102, -103, 0, 0]  # last reference integration
    assert data[0, 0, 1, 2] == 0.0  # NaN counts as 0
    assert pdq[0, 1] == F["UNRELIABLE_RESET"]


def test_segment_counts_integrations_of_the_exposure():
    data = np.zeros((1, 2, 2, 3), np.float32)
    subtract_reset(data, np.zeros((2, 3), np.uint32), _ref(3, 2), np.zeros((2, 3), np.uint32), integration_start=2)
    assert data[0, :, 0, 0].tolist() == [-101, -102]


def test_reference_must_be_4d():
    with pytest.raises(ValueError, match="RESET SCI must be 4-D"):
        subtract_reset(np.zeros((1, 1, 2, 3), np.float32), np.zeros((2, 3), np.uint32),
                       np.zeros((1, 2, 3), np.float32), np.zeros((2, 3), np.uint32))
