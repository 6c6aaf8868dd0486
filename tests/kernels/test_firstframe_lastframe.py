import numpy as np
import pytest

from photoncal.dqflags import pixel as F
from photoncal.kernels.firstframe import FLUX_ESTIMATED, flag_first_group
from photoncal.kernels.lastframe import flag_last_group

DNU = F["DO_NOT_USE"]
SAT = F["SATURATED"]


def test_last_group_flagged_when_more_than_two_groups():
    gdq = np.zeros((2, 3, 2, 2), np.uint8)
    gdq[0, 2, 0, 0] = F["JUMP_DET"]
    assert flag_last_group(gdq)
    assert np.all(gdq[:, 2] & DNU)
    assert gdq[0, 2, 0, 0] == F["JUMP_DET"] | DNU
    assert not np.any(gdq[:, :2])


@pytest.mark.parametrize("ngroups", [1, 2])
def test_last_group_too_few_groups(ngroups):
    gdq = np.zeros((1, ngroups, 2, 2), np.uint8)
    assert not flag_last_group(gdq)
    assert not gdq.any()


def test_first_group_flagged_when_more_than_three_groups():
    gdq = np.zeros((2, 4, 2, 2), np.uint8)
    pdq = np.zeros((2, 2), np.uint32)
    assert flag_first_group(gdq, pdq, bright_use_group1=False) == 0
    assert np.all(gdq[:, 0] == DNU) and not gdq[:, 1:].any()


def test_first_group_too_few_groups():
    gdq = np.zeros((1, 3, 2, 2), np.uint8)
    assert flag_first_group(gdq, np.zeros((2, 2), np.uint32)) is None
    assert not gdq.any()


def test_bright_pixels_keep_group1():
    gdq = np.zeros((2, 5, 2, 2), np.uint8)
    gdq[1, 2:, 0, 1] = SAT  # third group saturated in integration 2
    pdq = np.zeros((2, 2), np.uint32)
    kept = flag_first_group(gdq, pdq, bright_use_group1=True)
    assert kept == 1
    assert gdq[1, 0, 0, 1] == 0 and gdq[0, 0, 0, 1] == DNU
    assert gdq[0, 0, 0, 0] == DNU and gdq[1, 0, 1, 1] == DNU
    assert pdq[0, 1] == FLUX_ESTIMATED and pdq.sum() == FLUX_ESTIMATED
