"""Two-point difference jump detection: analytic cases and detection statistics."""

import numpy as np
import pytest

from photoncal import dqflags
from photoncal.kernels.jump import JUMP_STEP_DEFAULTS, cosmic_ray_rates, detect_jumps
from photoncal.sim.ramps import jwst_read_pattern, random_cosmic_rays, simulate_ramps

DNU = dqflags.pixel["DO_NOT_USE"]
SAT = dqflags.pixel["SATURATED"]
JUMP = dqflags.pixel["JUMP_DET"]
NO_GAIN = dqflags.pixel["NO_GAIN_VALUE"]

GAIN = 2.0
CDS = 10.0  # DN -> 20 e-
STEP = 50.0  # DN per group -> 100 e-
SIGMA_E = np.sqrt(STEP * GAIN + (CDS * GAIN) ** 2)  # noise of one difference, electrons


def cube(ngroups, ny=1, nx=1, nints=1):
    values = 1000.0 + STEP * np.arange(ngroups)
    return np.broadcast_to(values[None, :, None, None], (nints, ngroups, ny, nx)).astype(np.float32).copy()


def jump_dn(ratio):
    """Jump amplitude (DN) whose two-point ratio is ``ratio``."""
    return ratio * SIGMA_E / GAIN


def detect(data, gdq=None, **kwargs):
    ny, nx = data.shape[2:]
    if gdq is None:
        gdq = np.zeros(data.shape, np.uint8)
    return detect_jumps(data, gdq, np.zeros((ny, nx), np.uint32), np.full((ny, nx), GAIN, np.float32),
                        np.full((ny, nx), CDS, np.float32), nframes=1, group_time=10.0, **kwargs)


def test_jump_flags_the_later_group_and_iterates():
    data = cube(10)
    data[0, 4:] += jump_dn(30)
    data[0, 7:] += jump_dn(12)
    res = detect(data)
    flagged = np.flatnonzero(res.groupdq[0, :, 0, 0] & JUMP)
    np.testing.assert_array_equal(flagged, [4, 7])
    assert res.number_crs == 2
    assert res.skipped is None


@pytest.mark.parametrize("ngroups, flagged", [(3, False), (4, True), (6, True)])
def test_thresholds_depend_on_usable_differences(ngroups, flagged):
    # ratio 5.5: above rejection_threshold (4) and the 3-difference threshold (5),
    # below the 2-difference threshold (6)
    data = cube(ngroups)
    data[0, ngroups - 1:] += jump_dn(5.5)
    res = detect(data)
    assert bool(res.groupdq[0, ngroups - 1, 0, 0] & JUMP) == flagged
    assert np.count_nonzero(res.groupdq & JUMP) == int(flagged)


def test_four_neighbours_between_min_and_max_ratio():
    for ratio, neighbours in ((50.0, True), (7.0, False), (2000.0, False)):
        data = cube(8, 5, 5)
        data[0, 3:, 2, 2] += jump_dn(ratio)
        gdq = np.zeros(data.shape, np.uint8)
        gdq[0, 3:, 1, 2] = SAT  # a saturated neighbour is not flagged
        res = detect(data, gdq)
        plane = res.groupdq[0, 3] & JUMP
        assert plane[2, 2]
        expected = {(2, 1), (2, 3), (3, 2)} if neighbours else set()
        found = {tuple(p) for p in np.argwhere(plane)} - {(2, 2)}
        assert found == expected
        assert not np.any(res.groupdq[0, [0, 1, 2, 4, 5, 6, 7]] & JUMP)
    off = detect(data, flag_4_neighbors=False)
    assert np.count_nonzero(off.groupdq & JUMP) == 1


def test_after_jump_flagging():
    data = cube(10)
    data[0, 3:] += jump_dn(50.0)  # 50 sigma = ~559 DN
    res = detect(data, after_jump_flag_dn1=500.0, after_jump_flag_time1=20.0)
    np.testing.assert_array_equal(np.flatnonzero(res.groupdq[0, :, 0, 0] & JUMP), [3, 4, 5])
    res = detect(data, after_jump_flag_dn1=600.0, after_jump_flag_time1=20.0,
                 after_jump_flag_dn2=100.0, after_jump_flag_time2=40.0)
    np.testing.assert_array_equal(np.flatnonzero(res.groupdq[0, :, 0, 0] & JUMP), [3, 4, 5, 6, 7])
    with pytest.raises(ValueError, match="group_time"):
        detect_jumps(data, np.zeros(data.shape, np.uint8), np.zeros((1, 1), np.uint32), GAIN, CDS,
                     nframes=1, after_jump_flag_time1=20.0, after_jump_flag_dn1=1.0)


def test_flagged_groups_bad_gain_and_skips():
    data = cube(6, 1, 3)
    data[0, 3:, 0, :] += jump_dn(40.0)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, 3:, 0, 1] = SAT      # the jump group is saturated: no jump
    gdq[0, 3, 0, 2] = DNU       # a DO_NOT_USE group is not a jump either
    gain = np.array([[GAIN, GAIN, np.nan]], dtype=np.float32)
    res = detect_jumps(data, gdq, np.zeros((1, 3), np.uint32), gain, np.full((1, 3), CDS, np.float32),
                       nframes=1, flag_4_neighbors=False)
    assert res.groupdq[0, 3, 0, 0] == JUMP
    assert not np.any(res.groupdq[..., 1:] & JUMP)
    assert res.pixeldq[0, 2] == NO_GAIN | DNU and res.pixeldq[0, 0] == 0
    assert res.groupdq[0, 3, 0, 2] == DNU  # unchanged input flags are kept
    # fewer than 3 usable groups anywhere: skipped, as the established step
    two = detect(cube(2))
    assert two.skipped and two.number_crs == -99 and not np.any(two.groupdq & JUMP)
    gdq = np.zeros((1, 4, 1, 1), np.uint8)
    gdq[:, :2] = DNU
    assert detect(cube(4), gdq).skipped


def test_single_pass_with_many_groups():
    data = cube(15)
    data[0, 5:] += jump_dn(6.0)
    data[0, 9:] += jump_dn(8.0)
    res = detect(data)
    np.testing.assert_array_equal(np.flatnonzero(res.groupdq[0, :, 0, 0] & JUMP), [5, 9])


def test_sigma_clipping_across_integrations():
    rng = np.random.default_rng(1)
    nints, ny, nx = 120, 3, 3
    data = cube(3, ny, nx, nints) + rng.normal(0, 3.0, (nints, 3, ny, nx)).astype(np.float32)
    data[17, 2:, 1, 1] += 500.0
    res = detect(data, flag_4_neighbors=False)
    flagged = np.argwhere(res.groupdq & JUMP)
    assert [17, 2, 1, 1] in flagged.tolist()
    assert len(flagged) <= 3  # a 4-sigma clip over 120 values rarely clips noise


def test_uneven_groups_use_their_own_noise():
    # resultants of 1, 2, 4, 4, 4 reads: differences scaled by their time spans
    pattern = [[1], [2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]]
    sim = simulate_ramps(np.full((1, 1), 50.0), frame_time=1.0, read_pattern=pattern, gain=GAIN,
                         poisson=False, cosmic_rays=[(0, 8, 0, 0, 2000.0)])
    res = detect_jumps(sim.data, np.zeros(sim.data.shape, np.uint8), np.zeros((1, 1), np.uint32),
                       GAIN, CDS, nframes=1, read_pattern=pattern)
    assert res.groupdq[0, 3, 0, 0] == JUMP
    assert np.count_nonzero(res.groupdq & JUMP) == 1


def test_parameters_are_the_step_parameters():
    data = cube(5)
    res = detect(data, **JUMP_STEP_DEFAULTS)
    assert res.number_crs == 0
    with pytest.raises(TypeError, match="unknown parameter"):
        detect(data, rejection_treshold=3.0)
    assert JUMP_STEP_DEFAULTS["rejection_threshold"] == 4.0
    assert JUMP_STEP_DEFAULTS["minimum_sigclip_groups"] == 100


def test_inputs_are_not_modified_unless_inplace():
    data = cube(6)
    data[0, 3:] += jump_dn(40.0)
    gdq = np.zeros(data.shape, np.uint8)
    detect(data, gdq)
    assert not np.any(gdq)
    res = detect_jumps(data, gdq, np.zeros((1, 1), np.uint32), GAIN, CDS, nframes=1, inplace=True)
    assert res.groupdq is gdq and gdq[0, 3, 0, 0] == JUMP


# ---------------------------------------------------------------------------
# Statistics on simulated ramps
# ---------------------------------------------------------------------------
def simulated(rate, ngroups, seed, n=128):
    crs = random_cosmic_rays((n, n), nints=1, last_frame=ngroups, hits_per_pixel=0.05,
                             electrons_min=10.0, electrons_max=1e5, seed=seed)
    sim = simulate_ramps(np.full((n, n), rate), frame_time=10.0, read_pattern=jwst_read_pattern(1, 0, ngroups),
                         gain=GAIN, read_noise=CDS / np.sqrt(2.0), cosmic_rays=crs, seed=seed)
    hits = np.zeros((n, n), dtype=int)
    np.add.at(hits, (sim.cosmic_rays["y"], sim.cosmic_rays["x"]), 1)
    return sim, hits


@pytest.mark.parametrize("rate, ngroups", [(2.0, 10), (30.0, 10), (1000.0, 6)])
def test_detection_and_false_jump_rates(rate, ngroups):
    sim, hits = simulated(rate, ngroups, seed=int(rate) + ngroups)
    gdq = np.zeros(sim.data.shape, np.uint8)
    sigma_e = np.sqrt(rate * 10.0 + (CDS * GAIN) ** 2)
    crs = sim.cosmic_rays
    strong = crs[(crs["electrons"] > 10 * sigma_e) & (crs["group"] > 0) & (hits[crs["y"], crs["x"]] == 1)]
    assert len(strong) > 300
    for threshold, max_false in ((4.0, 1e-3), (5.0, 1e-4)):
        res = detect(sim.data, gdq, rejection_threshold=threshold, flag_4_neighbors=False)
        jumps = (res.groupdq[0] & JUMP) != 0
        found = jumps[strong["group"], strong["y"], strong["x"]]
        assert found.mean() >= 0.995
        clean = hits == 0
        false_rate = jumps[1:, clean].sum() / (clean.sum() * (ngroups - 1))
        assert false_rate < max_false


def test_cosmic_ray_rate_keywords():
    data = cube(6, 2, 5, nints=2)
    data[0, 3:, 1, 1] += jump_dn(40.0)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[:, 0] = DNU  # first group unused everywhere
    res = detect(data, gdq, flag_4_neighbors=False)
    assert res.number_crs == 1
    crs, events = cosmic_ray_rates(res, 10.0)
    usable = 2 * 6 - 2 - 2
    assert crs == pytest.approx(1000.0 / (10.0 * usable * 10))
    assert events == 0.0
    gdq[:] = DNU
    assert cosmic_ray_rates(detect(data, gdq), 10.0) == (None, None)
