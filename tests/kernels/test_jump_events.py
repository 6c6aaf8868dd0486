"""Snowballs and showers: region geometry and the flagging rules."""

import numpy as np
import pytest

from photoncal import dqflags
from photoncal.kernels import jump_events
from photoncal.kernels.jump import JUMP_STEP_DEFAULTS, JumpFlags, detect_jumps
from photoncal.sim.ramps import jwst_read_pattern, simulate_ramps

DNU = dqflags.pixel["DO_NOT_USE"]
SAT = dqflags.pixel["SATURATED"]
JUMP = dqflags.pixel["JUMP_DET"]


def disk(shape, cy, cx, radius):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2


def test_region_ellipses():
    mask = disk((60, 80), 20, 30, 5)
    [(centre, (minor, major), angle)] = jump_events.find_ellipses(mask, 5)
    assert centre == pytest.approx((30.0, 20.0))
    # a disk of radius r has second moments r^2/4: full axes 2r, reported minus one pixel
    assert minor == pytest.approx(9.0, abs=0.3) and major == pytest.approx(9.0, abs=0.3)
    bar = np.zeros((30, 40), bool)
    bar[10:13, 5:35] = True  # long along the columns
    [(centre, (minor, major), angle)] = jump_events.find_ellipses(bar, 5)
    assert centre == pytest.approx((19.5, 11.0))
    assert abs(angle) == pytest.approx(90.0)
    assert major == pytest.approx(4 * np.sqrt((30**2 - 1) / 12) - 1)
    assert minor == pytest.approx(4 * np.sqrt((3**2 - 1) / 12) - 1)
    # 8-connectivity, and the area that counts is the area with holes filled
    diagonal = np.eye(6, dtype=bool)
    assert len(jump_events.find_ellipses(diagonal, 6)) == 1
    ring = disk((30, 30), 15, 15, 6) & ~disk((30, 30), 15, 15, 4)
    assert len(jump_events.find_ellipses(ring, disk((30, 30), 15, 15, 6).sum())) == 1
    assert jump_events.find_ellipses(ring, disk((30, 30), 15, 15, 6).sum() + 1) == []


def test_ellipse_pixels():
    rr, cc = jump_events.ellipse_pixels(10, 10, 3.5, 3.5, (40, 40), 0.7)
    offsets = np.add.outer(np.arange(-4, 5) ** 2, np.arange(-4, 5) ** 2)
    assert len(rr) == np.count_nonzero(offsets < 3.5**2)
    rr, cc = jump_events.ellipse_pixels(12, 15, 2.2, 5.3, (30, 30), np.radians(30))
    yy, xx = np.mgrid[0:30, 0:30]
    r, c = yy - 12.0, xx - 15.0
    a = np.radians(30)
    inside = ((r * np.cos(a) + c * np.sin(a)) / 2.2) ** 2 + ((r * np.sin(a) - c * np.cos(a)) / 5.3) ** 2 < 1
    assert set(zip(rr.tolist(), cc.tolist())) == set(zip(*np.nonzero(inside)))
    rr, cc = jump_events.ellipse_pixels(0, 0, 4, 4, (10, 10), 0.0)  # clipped at the edge
    assert rr.min() == 0 and cc.min() == 0 and len(rr) == np.count_nonzero(
        np.add.outer(np.arange(4) ** 2, np.arange(4) ** 2) < 16)


def snowball_gdq(saturated_core=True, centre=(32, 32)):
    gdq = np.zeros((2, 6, 64, 64), np.uint8)
    gdq[0, 3][disk((64, 64), *centre, 5)] |= JUMP
    if saturated_core:
        core = disk((64, 64), *centre, 3)
        gdq[0, 3:, core] = SAT
    return gdq


def test_snowball_expansion_and_saturated_core():
    params = dict(JUMP_STEP_DEFAULTS, expand_large_events=True)
    gdq = snowball_gdq()
    count = jump_events.flag_snowballs(gdq, params, group_time=10.0, flags=JumpFlags())
    assert count == 1
    yy, xx = np.mgrid[0:64, 0:64]
    r = np.hypot(yy - 32, xx - 32)
    jumps = (gdq[0, 3] & JUMP) != 0
    assert jumps[r == 8].all()            # the halo is flagged out to ~2x the jump region
    assert not jumps[r > 12].any()
    assert not np.any(gdq[0, [0, 1, 2, 4, 5]] & JUMP)
    sat = (gdq[0, 3:] & SAT) != 0
    assert sat[:, r <= 4].all()           # the core grows by sat_expand
    assert not sat[:, r > 6].any()
    assert not np.any(gdq[0, :3] & SAT)
    # the core is masked in the first groups of the next integration
    nxt = (gdq[1] & JUMP) != 0
    assert nxt[1:, 32, 32].all() and not nxt[0].any()
    assert not nxt[:, r > 4].any()


def test_snowballs_need_a_saturated_core_away_from_the_edge():
    params = dict(JUMP_STEP_DEFAULTS, expand_large_events=True)
    plain = snowball_gdq(saturated_core=False)
    before = plain.copy()
    assert jump_events.flag_snowballs(plain, params, group_time=10.0, flags=JumpFlags()) == 0
    np.testing.assert_array_equal(plain, before)
    near_edge = snowball_gdq(saturated_core=False, centre=(32, 10))
    assert jump_events.flag_snowballs(near_edge, params, group_time=10.0, flags=JumpFlags()) == 1
    assert near_edge[0, 3, 32, 18]  # expanded beyond the 5-pixel jump region
    relaxed = snowball_gdq(saturated_core=False)
    assert jump_events.flag_snowballs(relaxed, dict(params, sat_required_snowball=False),
                                      group_time=10.0, flags=JumpFlags()) == 1


def test_detect_jumps_with_snowballs_end_to_end():
    shape = (48, 48)
    charge = 4e5 * np.exp(-(((np.mgrid[0:48, 0:48][0] - 24.0) ** 2 + (np.mgrid[0:48, 0:48][1] - 24.0) ** 2)
                            / (2 * 2.0**2)))
    hit = charge > 300
    crs = np.column_stack([np.zeros(hit.sum()), np.full(hit.sum(), 4), *np.nonzero(hit), charge[hit]])
    sim = simulate_ramps(np.full(shape, 5.0), frame_time=10.0, read_pattern=jwst_read_pattern(1, 0, 8),
                         gain=2.0, read_noise=5.0, cosmic_rays=crs, seed=1)
    gdq = np.zeros(sim.data.shape, np.uint8)
    gdq[sim.data >= 60000.0] = SAT
    sim.data[sim.data > 60000.0] = 60000.0
    args = (sim.data, gdq, np.zeros(shape, np.uint32), 2.0, 10.0)
    off = detect_jumps(*args, nframes=1, group_time=10.0)
    on = detect_jumps(*args, nframes=1, group_time=10.0, expand_large_events=True)
    assert off.number_extended_events == 0 and on.number_extended_events == 1
    assert np.count_nonzero(on.groupdq[0, 3] & JUMP) > np.count_nonzero(off.groupdq[0, 3] & JUMP) + 20


def test_showers_are_found_and_masked_forward():
    shape = (64, 64)
    rng = np.random.default_rng(3)
    ngroups, tgroup = 20, 2.775
    shower = disk(shape, 30, 34, 12)
    crs = np.column_stack([np.zeros(shower.sum()), np.full(shower.sum(), 8), *np.nonzero(shower),
                           np.full(shower.sum(), 40.0)])
    sim = simulate_ramps(rng.uniform(1.0, 3.0, shape), frame_time=tgroup,
                         read_pattern=jwst_read_pattern(1, 0, ngroups), gain=4.0, read_noise=6.0,
                         cosmic_rays=crs, seed=2)
    args = (sim.data, np.zeros(sim.data.shape, np.uint8), np.zeros(shape, np.uint32), 4.0, 6.0 * np.sqrt(2))
    off = detect_jumps(*args, nframes=1, group_time=tgroup)
    on = detect_jumps(*args, nframes=1, group_time=tgroup, find_showers=True)
    assert on.number_extended_events >= 1
    flagged = (on.groupdq[0] & JUMP) != 0
    # the shower's group (frame 8 -> group 7) and the 15 s (5 groups) after it, over the
    # region where the smoothed ratio exceeds the threshold (the inner part of the disk)
    inner = disk(shape, 30, 34, 7)
    for group in range(7, 13):
        assert flagged[group, inner].all()
    assert not flagged[13, inner].any() and not flagged[6, inner].any()
    assert not flagged[7, ~disk(shape, 30, 34, 14)].any()
    assert np.count_nonzero(off.groupdq & JUMP) < 0.2 * shower.sum()
