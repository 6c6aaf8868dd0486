import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from photoncal.dqflags import pixel as F
from photoncal.kernels.saturation import ATOD_LIMIT, flag_saturation, frame_read_pattern

SAT, DNU, FLOOR, NOCHECK = F["SATURATED"], F["DO_NOT_USE"], F["AD_FLOOR"], F["NO_SAT_CHECK"]


def _setup(nints=1, ngroups=5, ny=9, nx=11, value=1000.0, thresh=50000.0):
    data = np.full((nints, ngroups, ny, nx), value, np.float32)
    gdq = np.zeros(data.shape, np.uint8)
    pdq = np.zeros((ny, nx), np.uint32)
    th = np.full((ny, nx), thresh, np.float32)
    sdq = np.zeros((ny, nx), np.uint32)
    return data, gdq, pdq, th, sdq


def test_flag_from_first_group_at_threshold_and_grow_one_ring():
    data, gdq, pdq, th, sdq = _setup()
    data[0, 2:, 4, 5] = 50000.0  # exactly at the threshold counts
    res = flag_saturation(data, gdq, pdq, th, sdq)
    sat = (gdq[0] & SAT) != 0
    assert not sat[:2].any()
    box = np.zeros((9, 11), bool)
    box[3:6, 4:7] = True
    for g in range(2, 5):
        np.testing.assert_array_equal(sat[g], box)
    assert res.n_saturated == 9 and not res.all_saturated
    assert not (gdq & DNU).any()


@pytest.mark.parametrize("grow, side", [(0, 1), (2, 5)])
def test_growth_radius(grow, side):
    data, gdq, pdq, th, sdq = _setup()
    data[0, 1:, 4, 5] = 60000.0
    flag_saturation(data, gdq, pdq, th, sdq, n_pix_grow_sat=grow)
    assert np.count_nonzero(gdq[0, 1] & SAT) == side * side
    assert np.count_nonzero(gdq[0, 0]) == 0


def test_growth_is_clipped_at_the_corner():
    data, gdq, pdq, th, sdq = _setup()
    data[0, :, 0, 0] = 60000.0
    flag_saturation(data, gdq, pdq, th, sdq)
    assert np.count_nonzero(gdq[0, 0] & SAT) == 4


def test_saturated_in_group_one_everywhere():
    data, gdq, pdq, th, sdq = _setup(nints=2, value=60000.0)
    res = flag_saturation(data, gdq, pdq, th, sdq)
    assert res.all_saturated and res.n_saturated == 99
    assert np.all(gdq & SAT)


def test_nan_threshold_and_no_sat_check_are_never_flagged():
    data, gdq, pdq, th, sdq = _setup(value=65535.0)
    data[...] = 100.0
    data[0, :, 1, 1] = 65535.0  # the A-to-D maximum; unchecked pixels need more than that
    data[0, :, 7, 8] = 65535.0
    th[1, 1] = np.nan
    sdq[7, 8] = NOCHECK
    sdq[0, 0] = F["DEAD"]
    th_copy = th.copy()
    flag_saturation(data, gdq, pdq, th, sdq, n_pix_grow_sat=0)
    assert not gdq.any()
    assert pdq[1, 1] == NOCHECK and pdq[7, 8] == NOCHECK and pdq[0, 0] == F["DEAD"]
    np.testing.assert_array_equal(th, th_copy)  # reference not modified


def test_ad_floor_flags_that_group_only():
    data, gdq, pdq, th, sdq = _setup()
    data[0, 3, 2, 2] = 0.0
    data[0, 1, 5, 5] = -4.0
    res = flag_saturation(data, gdq, pdq, th, sdq)
    assert gdq[0, 3, 2, 2] == FLOOR | DNU and gdq[0, 1, 5, 5] == FLOOR | DNU
    assert np.count_nonzero(gdq) == 2 and res.n_ad_floor == 2


def test_frame_averaged_group_that_saturated_inside():
    # Group 2 (frames 5-8) averages 0.8125 of its last frame; a value above
    # 0.8125*threshold with group 3 saturated gets DO_NOT_USE, grown.
    data, gdq, pdq, th, sdq = _setup(ngroups=4, thresh=40000.0)
    data[0, :, 4, 5] = [10000.0, 33000.0, 41000.0, 41000.0]
    data[0, :, 1, 1] = [10000.0, 31000.0, 41000.0, 41000.0]  # below 0.8125*40000=32500
    flag_saturation(data, gdq, pdq, th, sdq, read_pattern=frame_read_pattern(4, 4))
    g1 = gdq[0, 1]
    assert g1[4, 5] == DNU and g1[3, 4] == DNU and g1[5, 6] == DNU
    assert g1[1, 1] & DNU == 0
    assert (gdq[0, 2, 4, 5] & SAT) and (gdq[0, 2, 1, 1] & SAT)
    assert not (gdq[0, 0] & DNU).any()


def test_second_group_check():
    # nframes=1: group 1 = 100, group 2 jumps past (thresh - g1)/1 is impossible
    # without saturating group 2; with nframes=2, g2 - g1 > (thresh-g1)/2 flags.
    data, gdq, pdq, th, sdq = _setup(ngroups=3, thresh=40000.0)
    data[0, :, 2, 3] = [100.0, 25000.0, 41000.0]
    flag_saturation(data, gdq, pdq, th, sdq, n_pix_grow_sat=0, read_pattern=frame_read_pattern(2, 3))
    assert gdq[0, 1, 2, 3] == DNU
    # with a bias that makes the first group extrapolate past the threshold, no flag
    data2, gdq2, pdq2, th2, sdq2 = _setup(ngroups=3, thresh=40000.0)
    data2[0, :, 2, 3] = [20000.0, 32000.0, 41000.0]
    flag_saturation(data2, gdq2, pdq2, th2, sdq2, n_pix_grow_sat=0, read_pattern=frame_read_pattern(2, 3),
                    bias=np.zeros((9, 11), np.float32))
    assert gdq2[0, 1, 2, 3] == 0


def test_zeroframe_zeroed_where_saturated_or_floor():
    data, gdq, pdq, th, sdq = _setup()
    zf = np.full((1, 9, 11), 500.0, np.float32)
    zf[0, 4, 4] = 60000.0
    zf[0, 0, 10] = 0.0
    zf[0, 8, 0] = -1.0
    flag_saturation(data, gdq, pdq, th, sdq, zeroframe=zf)
    assert np.count_nonzero(zf[0] == 0.0) == 9 + 2
    assert np.all(zf[0, 3:6, 3:6] == 0.0)


def test_existing_saturated_flags_grow_like_the_reference():
    # Input GROUPDQ already carries SATURATED before the threshold crossing:
    # every group's flags are grown from that group's own flags.
    rng = np.random.default_rng(5)
    data, gdq, pdq, th, sdq = _setup(nints=2, ngroups=4, ny=20, nx=24)
    data[...] = rng.uniform(20000, 60000, data.shape).astype(np.float32)
    data.sort(axis=1)
    gdq[0, 1, 3, 3] = SAT
    gdq[1, 0, 10:12, 20] = SAT
    before = gdq.copy()
    flag_saturation(data, gdq, pdq, th, sdq, n_pix_grow_sat=1)
    for i in range(2):
        first = np.argmax(np.concatenate([data[i] >= 50000.0, np.ones((1, 20, 24), bool)]), axis=0)
        for g in range(4):
            own = ((before[i, g] & SAT) != 0) | (first <= g)
            expected = binary_dilation(own, structure=np.ones((3, 3), bool))
            np.testing.assert_array_equal((gdq[i, g] & SAT) != 0, expected)


def test_read_pattern_helper_and_errors():
    assert frame_read_pattern(2, 3) == [[1, 2], [3, 4], [5, 6]]
    data, gdq, pdq, th, sdq = _setup()
    with pytest.raises(ValueError, match="saturation threshold has shape"):
        flag_saturation(data, gdq, pdq, th[:, :5], sdq)
    with pytest.raises(ValueError, match="read_pattern has 2 groups"):
        flag_saturation(data, gdq, pdq, th, sdq, read_pattern=frame_read_pattern(1, 2))
    assert ATOD_LIMIT == 65535.0


def test_big_endian_reference_arrays():
    data, gdq, pdq, th, sdq = _setup()
    data[0, 2:, 4, 5] = 60000.0
    flag_saturation(data.astype(">f4"), gdq, pdq, th.astype(">f4"), sdq.astype(">u4"), n_pix_grow_sat=0)
    assert np.count_nonzero(gdq[0, 2] & SAT) == 1
