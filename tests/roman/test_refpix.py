"""The Roman reference-pixel correction kernel."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from photoncal.roman.kernels.refpix import CHANNEL_WIDTH, PAD, correct_refpix

BAD_REF = 1 << 17


def _coefficients(rows, nchan, rng=None):
    length = rows * (CHANNEL_WIDTH + PAD)
    nfreq = length // 2 + 1
    if rng is None:
        alpha = np.full((nchan, nfreq), length / (length + 2.0), np.complex128)
        return np.zeros_like(alpha), np.zeros_like(alpha), alpha
    def draw(mean):
        return rng.normal(mean, 0.1, (nchan, nfreq)) + 1j * rng.normal(0, 0.1, (nchan, nfreq))
    return draw(0.0), draw(0.0), draw(0.5)


def _read_time(rows, ncols):
    x = np.arange(ncols)
    c = x // CHANNEL_WIDTH
    k = x % CHANNEL_WIDTH
    p = np.where(c % 2 == 0, k, CHANNEL_WIDTH - 1 - k)
    return np.arange(rows)[:, None] * (CHANNEL_WIDTH + PAD) + p[None, :]


def test_common_noise_and_channel_drifts_removed():
    """Noise common to all channels and amp33 in read time, and linear channel drifts, vanish exactly."""
    rng = np.random.default_rng(0)
    nres, rows, nchan = 5, 48, 4
    ncols = nchan * CHANNEL_WIDTH
    length = rows * (CHANNEL_WIDTH + PAD)
    t = _read_time(rows, ncols)
    light = np.zeros((rows, ncols))
    light[4:-4, 4:-4] = 40.0  # DN per frame; the 4-pixel border sees no light
    signal = 1000.0 + rng.normal(0, 3, (rows, ncols))[None] + light[None] * np.arange(nres)[:, None, None]
    common = rng.normal(0, 4.0, (nres, length))
    drift_a = rng.normal(0, 2.0, (nres, nchan + 1))
    drift_b = rng.normal(0, 2.0, (nres, nchan + 1)) / length
    channel = np.arange(ncols) // CHANNEL_WIDTH
    tc = t - 0.5 * (length - 1)
    noise = common[:, t] + drift_a[:, channel][:, None, :] + drift_b[:, channel][:, None, :] * tc[None]
    data = (signal + noise).astype(np.float32)
    t33 = _read_time(rows, CHANNEL_WIDTH)
    amp = 2000.0 + common[:, t33] + drift_a[:, -1][:, None, None] + drift_b[:, -1][:, None, None] * (
        t33 - 0.5 * (length - 1))[None]
    # amp33 as float: an integer amp33 whose offset-free value is exactly 0 counts as missing
    # (romancal's convention) and is interpolated
    amp33 = amp.astype(np.float32)
    gamma, zeta, alpha = _coefficients(rows, nchan)
    result = correct_refpix(data, amp33, np.zeros((rows, ncols), np.uint32), gamma, zeta, alpha,
                            bad_ref_pixel=BAD_REF)
    residual = data - signal
    # what remains per pixel is constant over the frames (the offsets), so slopes are clean
    frame_to_frame = residual - residual.mean(axis=0)
    assert np.abs(frame_to_frame).max() < 2e-3
    assert np.std(noise - noise.mean(axis=0)) > 3
    assert result.amp33.shape == amp33.shape and result.amp33.dtype == np.uint16


def test_bad_reference_pixels_are_zeroed_first():
    rng = np.random.default_rng(1)
    nres, rows, nchan = 3, 16, 2
    data = (100 + rng.normal(0, 1, (nres, rows, nchan * CHANNEL_WIDTH))).astype(np.float32)
    amp33 = np.full((nres, rows, CHANNEL_WIDTH), 500, np.uint16)
    dq = np.zeros((rows, nchan * CHANNEL_WIDTH), np.uint32)
    dq[2, 1] = BAD_REF
    gamma, zeta, alpha = _coefficients(rows, nchan)
    correct_refpix(data, amp33, dq, gamma, zeta, alpha, bad_ref_pixel=BAD_REF)
    # zeroed before the correction: only the (small) correction remains there
    assert np.all(np.abs(data[:, 2, 1]) < 5)


def test_shape_errors_name_the_problem():
    data = np.zeros((2, 8, 256), np.float32)
    amp33 = np.zeros((2, 8, 128), np.uint16)
    gamma, zeta, alpha = _coefficients(16, 2)
    with pytest.raises(ValueError, match="REFPIX gamma has shape"):
        correct_refpix(data, amp33, None, gamma, zeta, alpha, bad_ref_pixel=BAD_REF)
    with pytest.raises(ValueError, match="channels"):
        correct_refpix(np.zeros((2, 8, 200), np.float32), amp33, None, gamma, zeta, alpha, bad_ref_pixel=BAD_REF)
    with pytest.raises(ValueError, match="float32"):
        correct_refpix(data.astype(np.float64), amp33, None, gamma, zeta, alpha, bad_ref_pixel=BAD_REF)


ROMANCAL_PYTHON = os.environ.get("PHOTONCAL_ROMANCAL_PYTHON", "/work/romanenv/bin/python")


@pytest.mark.skipif(not os.path.exists(ROMANCAL_PYTHON), reason="no romancal environment")
def test_parity_with_romancal(tmp_path):
    """Same result as romancal's refpix on a 32-channel array (40 rows)."""
    rng = np.random.default_rng(3)
    nres, rows, ncols = 4, 40, 4096
    data = (1000 + rng.normal(0, 5, (nres, rows, ncols)) + 20.0 * np.arange(nres)[:, None, None]).astype(np.float32)
    data[:, 10, 100] = 0
    amp33 = (2000 + rng.normal(0, 5, (nres, rows, 128))).astype(np.uint16)
    gamma, zeta, alpha = _coefficients(rows, 32, rng)
    dq = np.zeros((rows, ncols), np.uint32)
    dq[5, 7] = BAD_REF
    np.savez(tmp_path / "in.npz", data=data, amp33=amp33, g=gamma, z=zeta, a=alpha, pdq=dq)
    script = (
        "import numpy as np, types, sys\n"
        "from romancal.refpix import refpix\n"
        "d = np.load(sys.argv[1])\n"
        "m = types.SimpleNamespace(data=d['data'].copy(), amp33=d['amp33'].copy(), pixeldq=d['pdq'],"
        " border_ref_pix_left=None, border_ref_pix_right=None)\n"
        "refs = types.SimpleNamespace(gamma=d['g'], zeta=d['z'], alpha=d['a'])\n"
        "refpix.run_steps(m, refs, True, True, True, True)\n"
        "np.savez(sys.argv[2], data=m.data, amp33=m.amp33)\n"
    )
    proc = subprocess.run([ROMANCAL_PYTHON, "-c", script, str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.skip(f"romancal refpix did not run: {proc.stderr[-400:]}")
    theirs = np.load(tmp_path / "out.npz")
    ours = data.copy()
    result = correct_refpix(ours, amp33, dq, gamma, zeta, alpha, bad_ref_pixel=BAD_REF)
    assert np.abs(ours - theirs["data"]).max() < 2e-3
    assert np.abs(ours - data).std() > 5  # the correction is not trivial
    np.testing.assert_array_equal(result.amp33, theirs["amp33"])
