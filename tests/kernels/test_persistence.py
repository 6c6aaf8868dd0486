import numpy as np
import pytest

from photoncal.dqflags import pixel as F
from photoncal.kernels.persistence import (
    SCALEFACTOR,
    TrapParameters,
    decay_traps,
    estimate_slopes,
    flag_persistence_windows,
    mjd_to_epoch,
    trap_persistence,
)

SAT, JUMP, PERS, DNU = F["SATURATED"], F["JUMP_DET"], F["PERSISTENCE"], F["DO_NOT_USE"]


def _params(c0=0.0, c1=-0.01, c2=0.0, decay=-0.01):
    return TrapParameters(np.array([c0]), np.array([c1]), np.array([c2]), np.array([decay]))


def test_decay_traps():
    tf = np.full((2, 2, 2), 100.0)
    decay_traps(tf, np.array([-0.1, 0.0]), 10.0)
    np.testing.assert_allclose(tf[0], 100.0 * np.exp(-1.0))
    assert np.all(tf[1] == 100.0)


def test_known_trap_state_decays_into_the_ramp():
    # One family, no capture: persistence in group g is T0 (1 - exp(-(g+1) tg / tau)).
    ngroups, tg, tau, t0 = 4, 10.0, 50.0, 200.0
    data = np.zeros((2, ngroups, 3, 4), np.float32)
    gdq = np.zeros(data.shape, np.uint8)
    pdq = np.zeros((3, 4), np.uint32)
    tf = np.full((1, 3, 4), t0)
    tf[0, 0, 0] = 10.0
    pers = trap_persistence(data, gdq, pdq, tf, np.ones((3, 4)), np.full((3, 4), 5e4), _params(decay=-1 / tau),
                            frame_time=tg, group_time=tg, nresets_between_ints=1, flag_pers_cutoff=40.0,
                            return_persistence=True)
    g = np.arange(1, ngroups + 1)
    expected0 = t0 * (1 - np.exp(-g * tg / tau))
    np.testing.assert_allclose(pers[0, :, 1, 1], expected0, rtol=1e-6)
    np.testing.assert_allclose(data[0, :, 1, 1], -expected0, rtol=1e-5)
    # second integration: a reset frame of decay first, then the same per-group law
    t1 = t0 * np.exp(-ngroups * tg / tau) * np.exp(-tg / tau)
    np.testing.assert_allclose(pers[1, :, 1, 1], t1 * (1 - np.exp(-g * tg / tau)), rtol=1e-6)
    np.testing.assert_allclose(tf[0, 1, 1], t1 * np.exp(-ngroups * tg / tau), rtol=1e-6)
    # flag where the persistence reached 40 DN; pixel (0, 0) never does
    assert pdq[1, 1] == PERS and pdq[0, 0] == 0


def test_time_since_previous_exposure_decays_first():
    data = np.zeros((1, 1, 1, 1), np.float32)
    tf = np.full((1, 1, 1), 100.0)
    trap_persistence(data, np.zeros(data.shape, np.uint8), np.zeros((1, 1), np.uint32), tf, np.ones((1, 1)),
                     np.full((1, 1), 5e4), _params(decay=-0.01), frame_time=1.0, group_time=1.0,
                     time_since_traps_filled=100.0, flag_pers_cutoff=None)
    np.testing.assert_allclose(tf[0, 0, 0], 100.0 * np.exp(-1.0) * np.exp(-0.01))


def test_ramp_capture_formula():
    ngroups, tg, tf_ = 5, 10.0, 10.0
    rate = 200.0  # DN per group
    persat = 1.0e5
    c0, c1, c2 = 0.02, -0.05, 0.001
    data = (np.arange(ngroups, dtype=np.float32) * rate).reshape(1, ngroups, 1, 1)
    tf = np.zeros((1, 1, 1))
    trap_persistence(data, np.zeros(data.shape, np.uint8), np.zeros((1, 1), np.uint32), tf, np.full((1, 1), 1.5),
                     np.full((1, 1), persat), _params(c0, c1, c2, decay=0.0), frame_time=tf_, group_time=tg,
                     nresets_at_start=1, flag_pers_cutoff=None)
    slope = rate / (persat * tg)
    tau = 1 / abs(c1)
    dt = ngroups * tg + tf_
    expected = SCALEFACTOR * 1.5 * slope**2 * (dt**2 * (c0 + c2) / 2 + c0 * (dt * tau + tau**2) * np.exp(-dt / tau)
                                              - c0 * tau**2)
    np.testing.assert_allclose(tf[0, 0, 0], expected, rtol=1e-6)


def test_saturated_ramp_capture():
    # Every group above PERSAT: instantaneous traps, plus the exponential ones over the saturated time.
    ngroups, tg = 3, 5.0
    c0, c1, c2 = 0.3, -0.02, 0.1
    data = np.full((1, ngroups, 1, 1), 7.0e4, np.float32)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, 1:] = SAT
    tf = np.zeros((1, 1, 1))
    trap_persistence(data, gdq, np.zeros((1, 1), np.uint32), tf, np.full((1, 1), 2.0), np.full((1, 1), 5.0e4),
                     _params(c0, c1, c2, decay=0.0), frame_time=tg, group_time=tg, flag_pers_cutoff=None)
    expected = 2.0 * c2 + 2.0 * c0 * (1 - np.exp(-abs(c1) * ngroups * tg))
    np.testing.assert_allclose(tf[0, 0, 0], expected, rtol=1e-6)


def test_cosmic_ray_capture():
    ngroups, tg = 4, 10.0
    c0, c1, c2 = 0.01, -0.1, 0.002
    data = np.zeros((1, ngroups, 1, 1), np.float32)
    data[0, 2:, 0, 0] = 1000.0  # a 1000 DN jump in group 3 (index 2), no ramp otherwise
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, 2] = JUMP
    tf = np.zeros((1, 1, 1))
    trap_persistence(data, gdq, np.zeros((1, 1), np.uint32), tf, np.ones((1, 1)), np.full((1, 1), 1e5),
                     _params(c0, c1, c2, decay=0.0), frame_time=tg, group_time=tg, flag_pers_cutoff=None)
    # slope 0 (the jump difference is dropped), so only the impulse term
    dt = (ngroups - 2 - 0.5) * tg
    expected = SCALEFACTOR * 1000.0 * (c0 * (1 - np.exp(c1 * dt)) + c2)
    np.testing.assert_allclose(tf[0, 0, 0], expected, rtol=1e-6)


def test_slope_estimate_drops_saturated_and_jump_differences():
    d = np.array([0, 10, 20, 530, 540, 60000, 60000], np.float32).reshape(7, 1, 1)
    gdq = np.zeros(d.shape, np.uint8)
    gdq[3] = JUMP
    gdq[5:] = SAT
    np.testing.assert_allclose(estimate_slopes(d, gdq)[0, 0], 10.0)
    gdq[:] = SAT
    assert estimate_slopes(d, gdq)[0, 0] == 0.0


def test_subarray_origin_and_shape_checks():
    data = np.zeros((1, 1, 2, 2), np.float32)
    tf = np.zeros((1, 5, 5))
    tf[0, 1:3, 2:4] = 100.0
    trap_persistence(data, np.zeros(data.shape, np.uint8), np.zeros((2, 2), np.uint32), tf, np.ones((2, 2)),
                     np.full((2, 2), 1e5), _params(decay=-0.1), frame_time=1.0, group_time=1.0,
                     subarray_origin=(1, 2), flag_pers_cutoff=None)
    np.testing.assert_allclose(data[0, 0], -100.0 * (1 - np.exp(-0.1)), rtol=1e-6)
    assert tf[0, 0, 0] == 0.0
    with pytest.raises(ValueError, match="does not fit"):
        trap_persistence(data, np.zeros(data.shape, np.uint8), np.zeros((2, 2), np.uint32), tf, np.ones((2, 2)),
                         np.ones((2, 2)), _params(), frame_time=1.0, group_time=1.0, subarray_origin=(4, 4))


def test_trap_parameters_from_table():
    table = np.array([(1.0, -2.0, 3.0, -4.0)],
                     dtype=[("CAPTURE0", "f8"), ("capture1", "f8"), ("capture2", "f8"), ("decay_param", "f8")])
    p = TrapParameters.from_table(table)
    assert p.nfamilies == 1 and p.decay_param[0] == -4.0
    with pytest.raises(ValueError, match="decay_param"):
        TrapParameters.from_table(np.zeros(1, dtype=[("capture0", "f8")]))


# --------------------------------------------------------- persistence windows


def test_saturation_opens_a_window():
    nints, ngroups, tg, tint, ptime = 2, 4, 10.0, 40.0, 25.0
    gdq = np.zeros((nints, ngroups, 2, 2), np.uint8)
    gdq[0, 1:, 0, 0] = SAT  # first saturated at group 2 (t = start + 20 s)
    data = np.zeros(gdq.shape, np.float32)
    pa = np.zeros((2, 2))
    start = mjd_to_epoch(60000.0)
    flag_persistence_windows(gdq, data, pa, integration_start_times=start + tint * np.arange(nints),
                             group_time=tg, persistence_time=ptime)
    flagged = (gdq[..., 0, 0] & PERS) != 0
    # window from t=20 to t=45: groups at 20, 30, 40 of integration 1 and none of integration 2 (t >= 50)
    assert flagged.tolist() == [[False, True, True, True], [False, False, False, False]]
    assert not (gdq[..., 1, 1] & PERS).any()
    assert pa[0, 0] == 0.0  # expired


def test_carried_window_threshold_and_do_not_use():
    start = mjd_to_epoch(60000.0)
    gdq = np.zeros((1, 3, 1, 3), np.uint8)
    data = np.zeros(gdq.shape, np.float32)
    data[0, 1, 0, 2] = 9000.0
    pa = np.array([[start + 15.0, 0.0, 0.0]])
    flag_persistence_windows(gdq, data, pa, integration_start_times=np.array([start]), group_time=10.0,
                             persistence_time=100.0, dn_threshold=5000.0, persistence_dnu=True)
    assert ((gdq[0, :, 0, 0] & PERS) != 0).tolist() == [True, False, False]
    assert gdq[0, 0, 0, 0] == PERS | DNU
    assert ((gdq[0, :, 0, 2] & PERS) != 0).tolist() == [False, True, True]
    assert pa[0, 2] == start + 20.0 + 100.0
    with pytest.raises(ValueError, match="persistence_time"):
        flag_persistence_windows(gdq, data, pa, integration_start_times=np.array([start]), group_time=1.0,
                                 persistence_time=0)
