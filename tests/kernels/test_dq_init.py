import numpy as np
import pytest

from photoncal.dqflags import pixel as F
from photoncal.kernels.dq_init import merge_guider_mask_dq, merge_mask_dq


def test_mask_or_into_pixeldq_and_do_not_use_into_every_group():
    pdq = np.zeros((4, 5), np.uint32)
    pdq[0, 0] = F["SATURATED"]
    gdq = np.zeros((2, 3, 4, 5), np.uint8)
    gdq[1, 2, 3, 4] = F["JUMP_DET"]
    mask = np.zeros((4, 5), np.uint16)
    mask[0, 0] = F["HOT"]
    mask[1, 2] = F["DO_NOT_USE"] | F["DEAD"]
    mask[3, 4] = F["DO_NOT_USE"]
    merge_mask_dq(pdq, gdq, mask)
    assert pdq[0, 0] == F["SATURATED"] | F["HOT"]
    assert pdq[1, 2] == F["DO_NOT_USE"] | F["DEAD"]
    assert np.all(gdq[:, :, 1, 2] == F["DO_NOT_USE"])
    assert gdq[1, 2, 3, 4] == F["JUMP_DET"] | F["DO_NOT_USE"]
    assert np.all(gdq[:, :, 0, 0] == 0)  # HOT does not reach GROUPDQ
    assert np.count_nonzero(gdq) == 2 * 3 * 2


def test_user_dq_is_added_to_the_mask():
    pdq = np.zeros((2, 2), np.uint32)
    gdq = np.zeros((1, 1, 2, 2), np.uint8)
    user = np.array([[0, F["DO_NOT_USE"]], [F["WARM"], 0]])
    merge_mask_dq(pdq, gdq, np.zeros((2, 2), np.uint32), user_dq=user)
    assert pdq.tolist() == [[0, F["DO_NOT_USE"]], [F["WARM"], 0]]
    assert gdq[0, 0].tolist() == [[0, 1], [0, 0]]


def test_shape_mismatch_names_the_mask():
    with pytest.raises(ValueError, match="MASK reference DQ has shape"):
        merge_mask_dq(np.zeros((4, 5), np.uint32), np.zeros((1, 1, 4, 5), np.uint8), np.zeros((5, 4)))


def test_guider_variant_writes_dq():
    dq = np.full((2, 3), F["WARM"], np.uint32)
    mask = np.zeros((2, 3), np.uint32)
    mask[1, 1] = F["DEAD"]
    merge_guider_mask_dq(dq, mask)
    assert dq[1, 1] == F["WARM"] | F["DEAD"]
    assert dq[0, 0] == F["WARM"]
