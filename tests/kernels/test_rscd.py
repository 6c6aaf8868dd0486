import numpy as np
import pytest

from photoncal.dqflags import pixel as F
from photoncal.kernels.rscd import FLUX_ESTIMATED, flag_rscd_groups, rscd_skip_counts

DNU, SAT = F["DO_NOT_USE"], F["SATURATED"]


@pytest.mark.parametrize(
    "ngroups, nints, s1, s2, expected",
    [(10, 3, 4, 3, (4, 3)), (5, 2, 3, 3, (1, 1)), (6, 2, 4, 5, (3, 3)), (7, 1, 2, 9, (2, 9)), (10, 2, -1, 2, (1, 2))],
)
def test_skip_count_rules(ngroups, nints, s1, s2, expected):
    assert rscd_skip_counts(ngroups, nints, s1, s2) == expected


def test_first_groups_flagged_per_integration():
    gdq = np.zeros((3, 10, 2, 2), np.uint8)
    pdq = np.zeros((2, 2), np.uint32)
    res = flag_rscd_groups(gdq, pdq, skip_int1=2, skip_int2p=4)
    flagged = (gdq[:, :, 0, 0] & DNU) != 0
    assert flagged.sum(axis=1).tolist() == [2, 4, 4]
    assert flagged[0, :2].all() and flagged[1, :4].all() and not flagged[1, 4:].any()
    assert res.applied and res.ngroups_skip_int1 == 2 and res.ngroups_skip_int2p == 4
    assert not pdq.any()


def test_saturation_backs_off_and_marks_the_pixel():
    gdq = np.zeros((2, 10, 1, 3), np.uint8)
    gdq[1, 4:, 0, 1] = SAT  # integration 2: 1-based group 5 saturated; skip 4 needs group 6 free
    gdq[1, :, 0, 2] = SAT   # saturated from group 1: nothing to recover, not lowered
    pdq = np.zeros((1, 3), np.uint32)
    res = flag_rscd_groups(gdq, pdq, skip_int1=1, skip_int2p=4)
    skipped = ((gdq[1, :, 0, :] & DNU) != 0).sum(axis=0)
    # pixel 1: groups 6,5 saturated -> skip 4 -> 2 (groups 1-2 flagged, 3-4 usable)
    assert skipped.tolist() == [4, 2, 4]
    assert pdq[0].tolist() == [0, FLUX_ESTIMATED, 0]
    assert res.keep_groups_saturation_int2p == 1 and res.keep_groups_saturation_int1 == 0


def test_too_few_groups_and_segments():
    gdq = np.zeros((2, 2, 1, 1), np.uint8)
    assert not flag_rscd_groups(gdq, np.zeros((1, 1), np.uint32), skip_int1=1, skip_int2p=1).applied
    assert not gdq.any()
    seg = np.zeros((2, 9, 1, 1), np.uint8)  # integrations 3 and 4 of the exposure
    res = flag_rscd_groups(seg, np.zeros((1, 1), np.uint32), skip_int1=5, skip_int2p=2, exposure_nints=4,
                           integration_start=3)
    assert ((seg[:, :, 0, 0] & DNU) != 0).sum(axis=1).tolist() == [2, 2]
    assert res.ngroups_skip_int1 is None
