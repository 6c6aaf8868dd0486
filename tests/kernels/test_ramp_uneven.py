"""Roman uneven-resultant ramp fitting (Casertano et al. 2022)."""

import numpy as np
import pytest

from photoncal import dqflags
from photoncal.kernels.ramp_fit import fit_ramps
from photoncal.kernels.ramp_uneven import fit_ramps_uneven, read_pattern_times
from photoncal.sim.ramps import random_cosmic_rays, simulate_ramps

DNU = dqflags.pixel["DO_NOT_USE"]
SAT = dqflags.pixel["SATURATED"]
JUMP = dqflags.pixel["JUMP_DET"]

PATTERN = [[1], [2, 3], [4, 5, 6, 7], [8, 9, 10, 11, 12], [13, 14, 15, 16, 17, 18],
           [19, 20, 21, 22, 23, 24, 25], [26, 27, 28, 29, 30, 31, 32, 33], [34, 35, 36, 37, 38],
           [39, 40, 41, 42, 43, 44]]
READ_TIME = 3.04
GAIN = 2.0
READ_NOISE = 6.0  # DN per read (Roman READNOISE)


def run(data, gdq=None, pattern=PATTERN, **kwargs):
    data = np.ascontiguousarray(data, dtype=np.float32)
    if data.ndim == 4:  # simulate_ramps output: one integration
        data = data[0]
    ny, nx = data.shape[1:]
    if gdq is None:
        gdq = np.zeros(data.shape, np.uint8)
    return fit_ramps_uneven(data, gdq, np.zeros((ny, nx), np.uint32), np.full((ny, nx), GAIN, np.float32),
                            np.full((ny, nx), READ_NOISE, np.float32), read_pattern=pattern,
                            read_time=READ_TIME, **kwargs)


def resultant_covariance(pattern, read_time):
    """Exact Poisson covariance per unit flux of the resultants: mean of min(t_a, t_b)."""
    times = [read_time * np.asarray(r, dtype=float) for r in pattern]
    n = len(pattern)
    cov = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            cov[i, j] = np.mean(np.minimum.outer(times[i], times[j]))
    return cov


def reference_fit(values_e, pattern, read_time, read_noise_e):
    """Independent Casertano fit: coefficients, slope, read and Poisson variance (per flux)."""
    t = np.array([read_time * np.mean(r) for r in pattern])
    n = np.array([len(r) for r in pattern], dtype=float)
    signal = max(values_e[-1] - values_e[0], 0.0)
    snr = signal / np.sqrt(read_noise_e**2 + signal) if signal > 0 else 0.0
    power = [0.0, 0.4, 1.0, 3.0, 6.0, 10.0][int(np.searchsorted([5, 10, 20, 50, 100], snr, side="right"))]
    mid, scale = (t[0] + t[-1]) / 2, (t[-1] - t[0]) / 2
    w = (1 + power) * n / (1 + power * n) * np.abs((t - mid) / scale) ** power
    f0, f1, f2 = w.sum(), (w * t).sum(), (w * t * t).sum()
    c = (f0 * t - f1) * w / (f2 * f0 - f1**2)
    cov = resultant_covariance(pattern, read_time)
    return c @ values_e, np.sum(c**2 * read_noise_e**2 / n), c @ cov @ c


def test_read_pattern_times():
    times = read_pattern_times([[1, 2, 3], [5], [6, 7]], 2.0)
    np.testing.assert_allclose(times.t_bar, [4.0, 10.0, 13.0])
    np.testing.assert_allclose(times.n_reads, [3, 1, 2])
    cov = resultant_covariance([[1, 2, 3], [5], [6, 7]], 2.0)
    np.testing.assert_allclose(times.tau, np.diag(cov))  # tau_i = Var(R_i) per unit flux
    with pytest.raises(ValueError, match="increasing"):
        read_pattern_times([[3], [1, 2]], 1.0)


@pytest.mark.parametrize("rate_e", [0.2, 3.0, 40.0, 5000.0])
def test_noiseless_fit_matches_the_equations(rate_e):
    t = np.array([READ_TIME * np.mean(r) for r in PATTERN])
    values = rate_e * t / GAIN + 3.0 * np.sin(np.arange(9))  # a wiggle makes the weights matter
    res = run(values[:, None, None], use_jump=False)
    slope, read_var, poisson_per_flux = reference_fit(values * GAIN, PATTERN, READ_TIME, READ_NOISE * GAIN)
    assert res.data[0, 0] == pytest.approx(slope / GAIN, rel=1e-5)
    assert res.var_rnoise[0, 0] == pytest.approx(read_var / GAIN**2, rel=1e-5)
    assert res.var_poisson[0, 0] == pytest.approx(max(slope, 0) * poisson_per_flux / GAIN**2, rel=1e-5)
    assert res.err[0, 0] == pytest.approx(np.sqrt(res.var_rnoise[0, 0] + res.var_poisson[0, 0]), rel=1e-6)
    assert res.dq[0, 0] == 0


def test_uniform_resultants_agree_with_the_jwst_fit():
    # A uniform ramp of single reads is the special case n_i = 1: same weights,
    # same slopes; at low SNR (uniform weights) the same read-noise variance.
    rng = np.random.default_rng(4)
    ngroups, tframe = 8, 10.0
    pattern = [[k + 1] for k in range(ngroups)]
    rates = np.array([0.02, 0.3, 2.0, 8.0, 40.0, 400.0])
    data = (rates[None, :] * tframe * np.arange(1, ngroups + 1)[:, None]
            + rng.normal(0, 5.0, (ngroups, rates.size))).astype(np.float32)[:, None, :]
    roman = fit_ramps_uneven(data, np.zeros(data.shape, np.uint8), np.zeros((1, rates.size), np.uint32),
                             GAIN, READ_NOISE, read_pattern=pattern, read_time=tframe, use_jump=False)
    jwst = fit_ramps(data[None], np.zeros((1,) + data.shape, np.uint8), np.zeros((1, rates.size), np.uint32),
                     np.full((1, rates.size), GAIN, np.float32),
                     np.full((1, rates.size), READ_NOISE * np.sqrt(2), np.float32),  # CDS noise
                     frame_time=tframe, group_time=tframe, nframes=1)
    np.testing.assert_allclose(roman.data, jwst.rate.data, rtol=1e-5, atol=1e-6)
    low_snr = rates * tframe * ngroups * GAIN / np.sqrt((READ_NOISE * GAIN) ** 2 + 1) < 5
    assert low_snr[:2].all()
    np.testing.assert_allclose(roman.var_rnoise[0, low_snr], jwst.rate.var_rnoise[0, low_snr], rtol=1e-5)


def test_jump_splits_the_ramp():
    sim = simulate_ramps(np.full((1, 2), 20.0), frame_time=READ_TIME, read_pattern=PATTERN, gain=GAIN,
                         poisson=False, cosmic_rays=[(0, 15, 0, 0, 3000.0)])
    res = run(sim.data)
    # the CR lands inside resultant 4 (reads 13-18): it and a neighbour are dropped
    flagged = np.flatnonzero(res.groupdq[:, 0, 0])
    assert 4 in flagged and len(flagged) == 2 and flagged[1] == flagged[0] + 1
    assert np.all(res.groupdq[flagged, 0, 0] == JUMP)
    assert res.dq[0, 0] == JUMP and res.dq[0, 1] == 0
    assert res.data[0, 0] == pytest.approx(10.0, rel=1e-5)
    assert res.data[0, 1] == pytest.approx(10.0, rel=1e-5)
    off = run(sim.data, use_jump=False)
    assert off.data[0, 0] > 11.0 and not np.any(off.groupdq)


def test_flags_saturation_and_bad_pixels():
    t = np.array([READ_TIME * np.mean(r) for r in PATTERN])
    values = np.stack([50.0 * t] * 4, axis=1)[:, None, :].astype(np.float32)
    gdq = np.zeros(values.shape, np.uint8)
    gdq[6:, 0, 0] = SAT          # saturated from resultant 6: fit 0..5
    gdq[:, 0, 1] = SAT           # saturated everywhere
    gdq[1:, 0, 2] = SAT          # a single usable resultant: no slope
    res = fit_ramps_uneven(values, gdq, np.array([[0, 0, 0, DNU]], np.uint32), GAIN, READ_NOISE,
                           read_pattern=PATTERN, read_time=READ_TIME)
    assert res.data[0, 0] == pytest.approx(50.0, rel=1e-5) and res.dq[0, 0] == 0
    assert np.isnan(res.data[0, 1]) and res.dq[0, 1] == SAT | DNU
    assert np.isnan(res.data[0, 2]) and res.dq[0, 2] == DNU
    assert np.isnan(res.data[0, 3]) and res.dq[0, 3] == DNU and np.isnan(res.err[0, 3])
    with pytest.raises(ValueError, match="read_pattern has"):
        fit_ramps_uneven(values, gdq, 0, GAIN, READ_NOISE, read_pattern=PATTERN[:-1], read_time=READ_TIME)


@pytest.mark.parametrize("rate_e", [5.0, 50.0, 500.0, 5000.0])
def test_simulated_rates_errors_and_jumps(rate_e):
    n = 96
    crs = random_cosmic_rays((n, n), nints=1, last_frame=44, hits_per_pixel=0.05, electrons_min=10.0,
                             electrons_max=1e5, seed=5)
    sim = simulate_ramps(np.full((n, n), rate_e), frame_time=READ_TIME, read_pattern=PATTERN, gain=GAIN,
                         read_noise=READ_NOISE, cosmic_rays=crs, seed=int(rate_e))
    res = run(sim.data)
    hits = np.zeros((n, n), int)
    np.add.at(hits, (sim.cosmic_rays["y"], sim.cosmic_rays["x"]), 1)
    clean = hits == 0
    true = rate_e / GAIN
    z = (res.data[clean] - true) / res.err[clean]
    assert 0.95 <= 1.4826 * np.median(np.abs(z - np.median(z))) <= 1.05
    if rate_e >= 50.0:
        assert abs(np.median(res.data[clean]) / true - 1) < 1e-3
    jumps = (res.groupdq & JUMP) != 0
    # each detection drops two resultants; false detections on clean pixels are rare
    assert jumps[:, clean].sum() / 2 / (clean.sum() * (len(PATTERN) - 1)) < 1e-4
    # A CR is "strong" when the step it makes in the resultant it lands in (diluted by
    # the reads of that resultant before it) exceeds 10 sigma of that difference.
    crs = sim.cosmic_rays[(sim.cosmic_rays["group"] > 0)]
    crs = crs[hits[crs["y"], crs["x"]] == 1]
    times = read_pattern_times(PATTERN, READ_TIME)
    g = crs["group"]
    fraction = np.array([np.mean(np.asarray(PATTERN[k]) >= f) for k, f in zip(g, crs["frame"])])
    sigma = np.sqrt(rate_e * (times.t_bar[g] - times.t_bar[g - 1])
                    + (READ_NOISE * GAIN) ** 2 * (1 / times.n_reads[g] + 1 / times.n_reads[g - 1]))
    strong = crs[crs["electrons"] * fraction > 10 * sigma]
    found = jumps[strong["group"], strong["y"], strong["x"]] | jumps[strong["group"] - 1, strong["y"], strong["x"]]
    assert len(strong) > 150 and found.mean() >= 0.995
