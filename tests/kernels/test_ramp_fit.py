"""JWST ramp fitting: analytic per-pixel cases and statistics on simulated ramps."""

import numpy as np
import pytest

from photoncal import dqflags
from photoncal.kernels.ramp_fit import fit_ramps
from photoncal.sim.ramps import jwst_read_pattern, simulate_ramps

DNU = dqflags.pixel["DO_NOT_USE"]
SAT = dqflags.pixel["SATURATED"]
JUMP = dqflags.pixel["JUMP_DET"]
NO_GAIN = dqflags.pixel["NO_GAIN_VALUE"]

TFRAME = 10.0
GAIN = 2.0
CDS = 12.0  # READNOISE (CDS, DN)


def fit(data, gdq=None, *, nframes=1, groupgap=0, gain=GAIN, cds=CDS, pixeldq=None, **kwargs):
    """Run fit_ramps on (nints, ngroups, ny, nx) float32 data with scalar references."""
    data = np.ascontiguousarray(data, dtype=np.float32)
    ny, nx = data.shape[2:]
    if gdq is None:
        gdq = np.zeros(data.shape, dtype=np.uint8)
    if pixeldq is None:
        pixeldq = np.zeros((ny, nx), dtype=np.uint32)
    return fit_ramps(
        data, np.ascontiguousarray(gdq, dtype=np.uint8), pixeldq,
        np.broadcast_to(np.float32(gain), (ny, nx)), np.full((ny, nx), cds, dtype=np.float32),
        frame_time=TFRAME, group_time=TFRAME * (nframes + groupgap), nframes=nframes,
        groupgap=groupgap, **kwargs,
    )


def ramp(rate_dn, ngroups, nints=1, tgroup=TFRAME, offset=100.0):
    """Noiseless single-pixel ramp: (nints, ngroups, 1, 1)."""
    values = offset + rate_dn * tgroup * np.arange(1, ngroups + 1)
    return np.broadcast_to(values[None, :, None, None], (nints, ngroups, 1, 1)).astype(np.float32)


def read_var(n, tgroup=TFRAME, cds=CDS):
    """Segment read-noise variance (DN/s)^2: 12 R^2 / ((n^3 - n) tg^2), R = CDS / sqrt(2) in DN."""
    return 12.0 * (cds**2 / 2.0) / ((n**3 - n) * tgroup**2)


def poisson_var(rate_dn, n, tgroup=TFRAME, gain=GAIN):
    return rate_dn / (tgroup * gain * (n - 1))


def fixsen_slope(values, gain=GAIN, cds=CDS):
    """Independent reference: optimally weighted slope (DN/group) of one segment."""
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    signal = (values[-1] - values[0]) * gain
    noise = cds * gain / np.sqrt(2.0)
    snr = signal / np.sqrt(noise**2 + signal) if signal > 0 else 0.0
    power = [0.0, 0.4, 1.0, 3.0, 6.0, 10.0][int(np.searchsorted([5, 10, 20, 50, 100], snr, side="right"))]
    x = np.arange(n, dtype=np.float64)
    mid = (n - 1) / 2.0
    w = np.abs((x - mid) / mid) ** power
    xbar = np.sum(w * x) / np.sum(w)
    return np.sum(w * (x - xbar) * values) / np.sum(w * (x - xbar) ** 2), power


# ---------------------------------------------------------------------------
# Segment cases
# ---------------------------------------------------------------------------
def test_clean_ramp_slope_and_variances():
    rate = 7.5
    res = fit(ramp(rate, 10))
    n = 10
    assert res.rate.data[0, 0] == pytest.approx(rate, rel=1e-6)
    assert res.rate.var_rnoise[0, 0] == pytest.approx(read_var(n), rel=1e-5)
    assert res.rate.var_poisson[0, 0] == pytest.approx(poisson_var(rate, n), rel=1e-5)
    assert res.rate.err[0, 0] == pytest.approx(np.sqrt(read_var(n) + poisson_var(rate, n)), rel=1e-5)
    assert res.rate.dq[0, 0] == 0
    # one integration: rateints equal the rate; its ERR is sqrt(1 / sum 1/(vp + vr))
    assert res.rateints.data.shape == (1, 1, 1)
    assert res.rateints.data[0, 0, 0] == pytest.approx(rate, rel=1e-6)
    assert res.rate.data.dtype == np.float32 and res.rate.dq.dtype == np.uint32


@pytest.mark.parametrize("signal_per_group", [0.3, 40.0, 80.0, 200.0, 2000.0, 20000.0])
def test_optimal_weights_follow_the_snr_classes(signal_per_group):
    # A bump in one group shows how strongly the fit weights it.
    values = 100.0 + signal_per_group * np.arange(1, 9)
    values[2] += 5.0 + 0.01 * signal_per_group
    res = fit(values[None, :, None, None])
    expected, _ = fixsen_slope(values)
    assert res.rate.data[0, 0] == pytest.approx(expected / TFRAME, rel=1e-5)


def test_high_snr_fit_ignores_the_middle_groups():
    values = 100.0 + 3000.0 * np.arange(1, 11)
    perturbed = values.copy()
    perturbed[4] += 500.0  # weight (0.5/4.5)**10 ~ 3e-10
    _, power = fixsen_slope(values)
    assert power == 10.0
    a = fit(values[None, :, None, None]).rate.data[0, 0]
    b = fit(perturbed[None, :, None, None]).rate.data[0, 0]
    assert a == pytest.approx(300.0, rel=1e-6)
    assert b == pytest.approx(a, rel=1e-6)


def test_two_groups():
    data = np.array([100.0, 160.0], dtype=np.float32)[None, :, None, None]
    res = fit(data)
    rate = 6.0
    assert res.rate.data[0, 0] == pytest.approx(rate, rel=1e-6)
    # 2-group segment: var_r = 2 R^2 / tg^2 = CDS^2 / tg^2
    assert res.rate.var_rnoise[0, 0] == pytest.approx(CDS**2 / TFRAME**2, rel=1e-5)
    assert res.rate.var_poisson[0, 0] == pytest.approx(rate / (TFRAME * GAIN), rel=1e-5)


def test_one_group_exposure_uses_the_first_group_time():
    nframes = 4
    data = np.full((1, 1, 1, 1), 500.0, dtype=np.float32)
    res = fit(data, nframes=nframes)
    t1 = (nframes + 1) / 2.0 * TFRAME
    rate = 500.0 / t1
    assert res.rate.data[0, 0] == pytest.approx(rate, rel=1e-6)
    # R = CDS * g / sqrt(2 nframes) e-; var_r = 2 R^2 / (t1^2 g^2)
    assert res.rate.var_rnoise[0, 0] == pytest.approx(CDS**2 / nframes / t1**2, rel=1e-5)
    assert res.rate.var_poisson[0, 0] == pytest.approx(rate / (t1 * GAIN), rel=1e-5)


def test_saturated_from_the_second_group():
    data = ramp(20.0, 6)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[:, 1:] = SAT
    t1 = TFRAME  # nframes = 1: (1 + 1) / 2 frame times
    kept = fit(data, gdq, suppress_one_group=False)
    assert kept.rate.data[0, 0] == pytest.approx(data[0, 0, 0, 0] / t1, rel=1e-6)
    assert kept.rate.dq[0, 0] == SAT
    assert np.isfinite(kept.rate.err[0, 0])
    # the established default discards ramps with a single usable group
    dropped = fit(data, gdq)
    assert np.isnan(dropped.rate.data[0, 0]) and np.isnan(dropped.rate.err[0, 0])
    assert dropped.rate.dq[0, 0] == DNU | SAT


def test_saturated_in_the_first_group():
    data = np.concatenate([ramp(20.0, 6, offset=100.0), ramp(20.0, 6, offset=100.0)], axis=3)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[:, :, 0, 0] = SAT  # pixel 0 saturated everywhere, pixel 1 clean
    res = fit(data, gdq, save_opt=True)
    assert np.isnan(res.rate.data[0, 0]) and res.rate.dq[0, 0] == DNU | SAT
    assert res.fitopt.pedestal[0, 0, 0] == 0.0
    assert res.rate.data[0, 1] == pytest.approx(20.0, rel=1e-6)
    assert not res.nothing_to_fit
    everything = fit(data, np.full(data.shape, SAT, np.uint8))
    assert everything.nothing_to_fit
    assert np.all(np.isnan(everything.rate.data)) and np.all(everything.rate.dq & (DNU | SAT) == DNU | SAT)


def test_jump_splits_the_ramp_into_segments():
    rate = 10.0
    data = ramp(rate, 10).copy()
    data[0, 5:] += 800.0  # cosmic ray before group 5
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, 5] = JUMP
    res = fit(data, gdq, save_opt=True)
    assert res.rate.data[0, 0] == pytest.approx(rate, rel=1e-6)
    v_r = read_var(5)
    assert res.rate.var_rnoise[0, 0] == pytest.approx(v_r / 2, rel=1e-5)
    assert res.rate.var_poisson[0, 0] == pytest.approx(poisson_var(rate, 5) / 2, rel=1e-5)
    assert res.rate.dq[0, 0] == JUMP
    # fitopt: two segments of 5 groups, the CR magnitude, the pedestal
    opt = res.fitopt
    assert opt.slope.shape == (1, 2, 1, 1)
    np.testing.assert_allclose(opt.slope[0, :, 0, 0], [rate, rate], rtol=1e-6)
    np.testing.assert_allclose(opt.var_rnoise[0, :, 0, 0], [v_r, v_r], rtol=1e-5)
    np.testing.assert_allclose(opt.weights[0, :, 0, 0], [1 / v_r, 1 / v_r], rtol=1e-5)
    np.testing.assert_allclose(opt.crmag[0, :, 0, 0], [800.0 + rate * TFRAME], rtol=1e-6)
    # pedestal: first group extrapolated to t = 0 (the first group is read at 1 frame time)
    assert opt.pedestal[0, 0, 0] == pytest.approx(100.0, abs=1e-3)
    # intercepts (at group index 0) of both segments
    np.testing.assert_allclose(opt.yint[0, :, 0, 0], [100.0 + rate * TFRAME, 900.0 + rate * TFRAME], rtol=1e-6)


def test_jump_in_first_and_last_group():
    rate = 10.0
    data = ramp(rate, 10)
    first = np.zeros(data.shape, np.uint8)
    first[0, 0] = JUMP  # the first group still starts the (only) segment
    res = fit(data, first)
    assert res.rate.var_rnoise[0, 0] == pytest.approx(read_var(10), rel=1e-5)
    last = np.zeros(data.shape, np.uint8)
    last[0, 9] = JUMP  # nothing follows the jump: the last group is not used
    res = fit(data, last)
    assert res.rate.var_rnoise[0, 0] == pytest.approx(read_var(9), rel=1e-5)
    assert res.rate.data[0, 0] == pytest.approx(rate, rel=1e-6)


def test_several_segments_and_weighting_choices():
    # segments [0, 4) and [7, 10) with different slopes; the lone group 5 is dropped
    tg = TFRAME
    slopes = (10.0, 4.0)
    values = np.zeros(10)
    values[:4] = 100.0 + slopes[0] * tg * np.arange(4)
    values[4:] = 5000.0 + slopes[1] * tg * np.arange(6)
    gdq = np.zeros((1, 10, 1, 1), np.uint8)
    gdq[0, 4] = DNU
    gdq[0, 6] = DNU
    data = values[None, :, None, None]
    res = fit(data, gdq, save_opt=True)
    assert res.fitopt.slope.shape[1] == 2
    np.testing.assert_allclose(res.fitopt.slope[0, :, 0, 0], slopes, rtol=1e-6)
    w = np.array([4**3 - 4, 3**3 - 3], dtype=float)  # 1 / var_r
    assert res.rate.data[0, 0] == pytest.approx(np.sum(w * slopes) / np.sum(w), rel=1e-6)
    # the median rate (Poisson variances) uses the usable first differences
    diffs = np.diff(np.where(gdq[0, :, 0, 0] & DNU, np.nan, values) / tg)
    median = np.nanmedian(diffs)
    v_r = np.array([read_var(4), read_var(3)])
    v_p = np.array([poisson_var(median, 4), poisson_var(median, 3)])
    assert res.rate.var_rnoise[0, 0] == pytest.approx(1 / np.sum(1 / v_r), rel=1e-5)
    assert res.rate.var_poisson[0, 0] == pytest.approx(1 / np.sum(1 / v_p), rel=1e-5)
    # the spec's formula: weights 1 / (var_p + var_r)
    total = fit(data, gdq, weighting="total")
    wt = 1 / (v_p + v_r)
    assert total.rate.data[0, 0] == pytest.approx(np.sum(wt * slopes) / np.sum(wt), rel=1e-6)


def test_integrations_combine_by_inverse_variance():
    rate = 6.0
    data = np.concatenate([ramp(rate, 8), ramp(rate, 8)], axis=0).copy()
    gdq = np.zeros(data.shape, np.uint8)
    gdq[1, 5:] = SAT  # second integration: 5 usable groups
    data[1, 5:] = 60000.0
    res = fit(data, gdq)
    v_r = np.array([read_var(8), read_var(5)])
    v_p = np.array([poisson_var(rate, 8), poisson_var(rate, 5)])
    np.testing.assert_allclose(res.rateints.var_rnoise[:, 0, 0], v_r, rtol=1e-5)
    np.testing.assert_allclose(res.rateints.var_poisson[:, 0, 0], v_p, rtol=1e-5)
    np.testing.assert_allclose(res.rateints.err[:, 0, 0], np.sqrt(v_r + v_p), rtol=1e-5)
    assert res.rate.var_rnoise[0, 0] == pytest.approx(1 / np.sum(1 / v_r), rel=1e-5)
    assert res.rate.var_poisson[0, 0] == pytest.approx(1 / np.sum(1 / v_p), rel=1e-5)
    expected_err = np.sqrt(1 / np.sum(1 / v_r) + 1 / np.sum(1 / v_p))
    assert res.rate.err[0, 0] == pytest.approx(expected_err, rel=1e-5)
    assert res.rate.data[0, 0] == pytest.approx(rate, rel=1e-6)
    # partial saturation flags the integration and the rate, the slope stays
    assert res.rateints.dq[1, 0, 0] == SAT and res.rateints.dq[0, 0, 0] == 0
    assert res.rate.dq[0, 0] == SAT


def test_dq_compression_and_bad_pixels():
    data = np.concatenate([ramp(5.0, 6)] * 4, axis=3)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, 2, 0, 0] = JUMP
    gdq[0, 0, 0, 1] = DNU  # a DO_NOT_USE group is not propagated
    data = np.concatenate([data, ramp(5.0, 6)], axis=3)
    gdq = np.concatenate([gdq, np.zeros((1, 6, 1, 1), np.uint8)], axis=3)
    pixeldq = np.array([[dqflags.pixel["HOT"], 0, 0, DNU, 0]], dtype=np.uint32)
    gain = np.array([[GAIN, GAIN, np.nan, GAIN, GAIN]], dtype=np.float32)
    readnoise = np.array([[CDS, CDS, CDS, CDS, np.nan]], np.float32)
    res = fit_ramps(data, gdq, pixeldq, gain, readnoise, frame_time=TFRAME, group_time=TFRAME, nframes=1)
    assert res.rate.dq[0, 4] == DNU and np.isnan(res.rate.data[0, 4])  # no READNOISE, no uncertainty
    assert res.rate.dq[0, 0] == dqflags.pixel["HOT"] | JUMP
    assert res.rate.dq[0, 1] == 0
    assert res.rate.dq[0, 2] == NO_GAIN | DNU
    assert res.rate.dq[0, 3] == DNU
    for x in (2, 3):
        assert np.isnan(res.rate.data[0, x]) and np.isnan(res.rate.err[0, x])
        assert np.isnan(res.rate.var_poisson[0, x]) and np.isnan(res.rate.var_rnoise[0, x])
    assert np.all(np.isfinite(res.rate.data[0, :2]))


def test_group_range_and_miri_edge_groups():
    rate = 3.0
    data = ramp(rate, 8)
    res = fit(data, firstgroup=2, lastgroup=6)
    assert res.rate.var_rnoise[0, 0] == pytest.approx(read_var(5), rel=1e-5)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[:, 0] = DNU
    gdq[:, -1] = DNU
    gdq[0, 1] = JUMP  # cleared when the flagged first group is dropped
    res = fit(data, gdq, discard_flagged_edge_groups=True)
    assert res.groups_used == slice(1, 7)
    assert res.rate.var_rnoise[0, 0] == pytest.approx(read_var(6), rel=1e-5)
    assert res.rate.dq[0, 0] == 0


def test_non_native_input_and_errors():
    data = ramp(4.0, 5).astype(">f4")
    res = fit_ramps(data, np.zeros(data.shape, np.uint8), np.zeros((1, 1), np.uint32),
                    np.full((1, 1), GAIN, ">f4"), np.full((1, 1), CDS, ">f4"),
                    frame_time=TFRAME, group_time=TFRAME, nframes=1)
    assert res.rate.data[0, 0] == pytest.approx(4.0, rel=1e-6)
    with pytest.raises(ValueError, match="4-D"):
        fit_ramps(data[0], data[0], np.zeros((1, 1)), 1.0, 1.0, frame_time=1, group_time=1, nframes=1)
    with pytest.raises(ValueError, match="gain must have shape"):
        fit_ramps(data, np.zeros(data.shape, np.uint8), np.zeros((1, 1)), np.ones((2, 2)), 1.0,
                  frame_time=1, group_time=1, nframes=1)
    with pytest.raises(ValueError, match="group_time"):
        fit_ramps(data, np.zeros(data.shape, np.uint8), np.zeros((1, 1)), 1.0, 1.0,
                  frame_time=1, group_time=0, nframes=1)


# ---------------------------------------------------------------------------
# Statistics on simulated ramps
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("rate_e", [3.0, 30.0, 300.0, 3000.0, 30000.0])
def test_simulated_rates_and_errors(rate_e):
    ngroups = 10
    # 128 x 128 pixels: the robust scatter is then known to about 1 %; stcal's variance
    # formulas assume uniform weights and run ~3 % low at intermediate SNR.
    sim = simulate_ramps(np.full((128, 128), rate_e), frame_time=TFRAME,
                         read_pattern=jwst_read_pattern(1, 0, ngroups), gain=GAIN,
                         read_noise=CDS / np.sqrt(2.0), seed=int(rate_e))
    res = fit(sim.data)
    true = rate_e / GAIN
    z = (res.rate.data - true) / res.rate.err
    robust_sigma = 1.4826 * np.median(np.abs(z - np.median(z)))
    assert 0.95 <= robust_sigma <= 1.05
    if rate_e >= 30.0:
        assert abs(np.median(res.rate.data) / true - 1.0) < 1e-3
