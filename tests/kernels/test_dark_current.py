import numpy as np
import pytest

from photoncal.dqflags import pixel as F
from photoncal.kernels.dark_current import average_dark_frames, subtract_dark, total_frames


def _dark_by_frame(nframes, ny=2, nx=3, nints=None):
    """Dark frame f (0-based) holds the value f (+1000*dark integration)."""
    f = np.arange(nframes, dtype=np.float32)[:, None, None] * np.ones((1, ny, nx), np.float32)
    if nints is None:
        return f
    return np.stack([f + 1000 * d for d in range(nints)])


def test_total_frames():
    assert total_frames(5, 4, 1) == 24


def test_frame_averaging_nframes4_groupgap1():
    dark = _dark_by_frame(30)
    avg = average_dark_frames(dark, ngroups=5, nframes=4, groupgap=1)
    # group g averages frames 5g..5g+3 -> 5g + 1.5
    np.testing.assert_allclose(avg[:, 0, 0], [1.5, 6.5, 11.5, 16.5, 21.5])
    data = np.zeros((2, 5, 2, 3), np.float32)
    pdq = np.zeros((2, 3), np.uint32)
    dq = np.zeros((2, 3), np.uint32)
    dq[1, 2] = F["HOT"]
    res = subtract_dark(data, pdq, dark, dq, nframes=4, groupgap=1)
    assert res.applied
    np.testing.assert_allclose(data[1, :, 1, 1], -np.array([1.5, 6.5, 11.5, 16.5, 21.5]))
    assert pdq[1, 2] == F["HOT"]


def test_direct_subtraction_and_nan_counts_as_zero():
    dark = _dark_by_frame(8)
    dark[:, 0, 0] = np.nan
    data = np.full((1, 4, 2, 3), 100.0, np.float32)
    res = subtract_dark(data, np.zeros((2, 3), np.uint32), dark, np.zeros((2, 3), np.uint32), nframes=1, groupgap=0,
                        return_averaged=True)
    assert data[0, :, 1, 1].tolist() == [100, 99, 98, 97]
    assert np.all(data[0, :, 0, 0] == 100.0)
    assert res.averaged_dark.shape == (4, 2, 3) and res.averaged_dark[3, 1, 1] == 3.0


def test_short_dark_is_extrapolated_linearly():
    dark = _dark_by_frame(10) * 2.0  # 2 DN per frame
    data = np.zeros((1, 4, 2, 3), np.float32)
    res = subtract_dark(data, np.zeros((2, 3), np.uint32), dark, np.zeros((2, 3), np.uint32), nframes=2, groupgap=2)
    assert res.applied and "extrapolated" in res.message
    # group g averages frames 4g, 4g+1 -> 2*(4g + 0.5); frames beyond 9 are extrapolated
    np.testing.assert_allclose(data[0, :, 0, 0], -2.0 * (4 * np.arange(4) + 0.5), rtol=1e-6)


def test_dark_readout_coarser_than_science_is_skipped():
    data = np.ones((1, 2, 2, 3), np.float32)
    pdq = np.zeros((2, 3), np.uint32)
    res = subtract_dark(data, pdq, _dark_by_frame(10), np.full((2, 3), F["HOT"], np.uint32), nframes=1, groupgap=0,
                        dark_nframes=2)
    assert not res.applied and "exceed" in res.message
    assert np.all(data == 1.0) and not pdq.any()


def test_miri_per_integration_dark():
    dark = _dark_by_frame(6, nints=2)
    dq = np.zeros((2, 1, 2, 3), np.uint32)
    dq[0, 0, 0, 0] = F["HOT"]
    dq[1, 0, 1, 1] = F["WARM"]
    data = np.zeros((3, 3, 2, 3), np.float32)
    pdq = np.zeros((2, 3), np.uint32)
    subtract_dark(data, pdq, dark, dq, nframes=1, groupgap=0)
    assert data[0, :, 0, 0].tolist() == [0, -1, -2]
    assert data[1, :, 0, 0].tolist() == [-1000, -1001, -1002]
    assert data[2, :, 0, 0].tolist() == [-1000, -1001, -1002]  # last dark integration
    assert pdq[0, 0] == F["HOT"] and pdq[1, 1] == F["WARM"]


def test_miri_averaged_and_segmented():
    dark = _dark_by_frame(12, nints=2)
    data = np.zeros((2, 3, 2, 3), np.float32)
    subtract_dark(data, np.zeros((2, 3), np.uint32), dark, np.zeros((2, 1, 2, 3), np.uint32), nframes=2, groupgap=1)
    assert data[0, :, 0, 0].tolist() == [-0.5, -3.5, -6.5]
    assert data[1, :, 0, 0].tolist() == [-1000.5, -1003.5, -1006.5]
    seg = np.zeros((2, 2, 2, 3), np.float32)
    subtract_dark(seg, np.zeros((2, 3), np.uint32), dark, np.zeros((2, 1, 2, 3), np.uint32), nframes=1, groupgap=0,
                  integration_start=4)
    assert seg[0, :, 0, 0].tolist() == [-1000, -1001] and seg[1, :, 0, 0].tolist() == [-1000, -1001]


def test_dark_must_match_subarray():
    with pytest.raises(ValueError, match="must match the science subarray"):
        subtract_dark(np.zeros((1, 1, 2, 3), np.float32), np.zeros((2, 3), np.uint32), np.zeros((4, 3, 2)),
                      np.zeros((3, 2)), nframes=1, groupgap=0)
