import numpy as np
import pytest
from scipy import stats

from photoncal.dqflags import pixel as F
from photoncal.kernels import refpix
from photoncal.kernels.refpix import (
    BAD_REFERENCE_PIXELS,
    REFPIX_OK,
    SUBARRAY_DOESNTFIT,
    SUBARRAY_SKIPPED,
    refpix_miri,
    refpix_nir,
    to_detector_frame,
    to_science_frame,
)

DNU, REF = F["DO_NOT_USE"], F["REFERENCE_PIXEL"]
N = 2048


def det_view(plane, fast, slow):
    """Independent DMS -> detector transform of a 2-D plane."""
    sf, ss = np.sign(fast), np.sign(slow)
    if abs(fast) == 1:
        return plane[::ss, ::sf]
    return plane[::sf, ::ss].T


def reference_nir_fullframe(data, pdq, fast, slow, odd_even=True, use_side=True, length=11, gain=1.0):
    """Straightforward numpy/scipy version of the full-frame NIR algorithm."""
    out = data.astype(np.float64).copy()
    ddq = det_view(pdq, fast, slow)
    for i in range(data.shape[0]):
        for g in range(data.shape[1]):
            det = det_view(out[i, g], fast, slow)  # a view: edits land in out
            for amp in range(4):
                cols = np.arange(amp * 512, amp * 512 + 512)
                groups = [cols[0::2], cols[1::2]] if odd_even else [cols]
                signals = []
                for cset in groups:
                    means = []
                    for rows in (slice(0, 4), slice(N - 4, N)):
                        vals = det[rows][:, cset]
                        good = (ddq[rows][:, cset] & DNU) == 0
                        v = vals[good]
                        if v.size == 0:
                            means.append(None)
                        elif np.std(v) == 0:
                            means.append(v.mean())
                        else:
                            means.append(stats.sigmaclip(v, 3.0, 3.0)[0].mean())
                    m = [x for x in means if x is not None]
                    signals.append(np.mean(m) if m else None)
                if all(s is not None for s in signals):
                    for cset, s in zip(groups, signals):
                        det[:, cset] -= s
            if use_side:
                below = (length | 1) // 2
                sides = []
                for cols in (slice(0, 4), slice(N - 4, N)):
                    vals = np.pad(det[:, cols], ((below, below), (0, 0)), mode="reflect")
                    good = np.pad((ddq[:, cols] & DNU) == 0, ((below, below), (0, 0)), mode="reflect")
                    med = np.full(N, np.nan)
                    for r in range(N):
                        w = vals[r:r + length][good[r:r + length]]
                        if w.size:
                            med[r] = np.median(w)
                    sides.append(med)
                combined = np.where(np.isnan(sides[0]), sides[1],
                                    np.where(np.isnan(sides[1]), sides[0], 0.5 * (sides[0] + sides[1])))
                combined = np.nan_to_num(combined, nan=0.0)
                det -= gain * combined[:, None]
    return out


def nir_frame(rng, nints=1, ngroups=2, ny=N, nx=N):
    data = rng.normal(0, 3, (nints, ngroups, ny, nx)).astype(np.float32)
    data += np.cumsum(rng.normal(0, 0.5, (nints, ngroups, ny, 1)), axis=2).astype(np.float32)
    return data


@pytest.mark.parametrize("fast, slow", [(1, 2), (-1, 2), (-2, -1), (2, 1)])
def test_nir_full_frame_matches_reference(fast, slow):
    rng = np.random.default_rng(abs(fast) * 10 + slow)
    data = nir_frame(rng)
    pdq = np.zeros((N, N), np.uint32)
    pdq[0, 10:20] = DNU
    pdq[700:720, 2] = DNU
    det0 = det_view(data[0, 1], fast, slow)
    det0[:, 0:512] += 25.0  # amplifier A offset in the detector frame
    det0[:, 513:1024:2] -= 7.0  # odd columns of amplifier B
    det0[2045, 600] += 4000.0  # a hot reference pixel (clipped)
    det0[1, 15] += 1.0e5  # a DO_NOT_USE reference pixel (ignored)
    expected = reference_nir_fullframe(data, pdq, fast, slow)
    ours = data.copy()
    assert refpix_nir(ours, pdq, fastaxis=fast, slowaxis=slow) == REFPIX_OK
    np.testing.assert_allclose(ours, expected, atol=2e-3, rtol=1e-7)


def test_nir_offsets_removed_exactly_and_orientation():
    # NIRISS-like orientation: detector column c is DMS row 2047-c.
    fast, slow = -2, -1
    data = np.zeros((1, 1, N, N), np.float32)
    det = det_view(data[0, 0], fast, slow)
    offsets = {0: (5.0, 6.0), 1: (-3.0, -3.5), 2: (10.0, 11.0), 3: (0.5, 0.25)}
    for amp, (even_idx, odd_idx) in offsets.items():
        det[:, amp * 512:(amp + 1) * 512:2] += even_idx
        det[:, amp * 512 + 1:(amp + 1) * 512:2] += odd_idx
    det += (np.arange(N, dtype=np.float32) * 0.01)[:, None]  # a linear row drift
    # detector (row r, column c) is DMS (row 2047-c, column 2047-r): amplifier A
    # (detector columns 0-511) is DMS rows 1536-2047, the drift runs along DMS x
    np.testing.assert_allclose(data[0, 0, 2047, 0], 5.0 + 0.01 * 2047, rtol=1e-6)
    np.testing.assert_allclose(data[0, 0, 2046, 2047], 6.0, rtol=1e-6)
    np.testing.assert_allclose(data[0, 0, 0, 2047], 0.25, rtol=1e-6)
    refpix_nir(data, np.zeros((N, N), np.uint32), fastaxis=fast, slowaxis=slow)
    det = det_view(data[0, 0], fast, slow)
    # the mirrored running median is exact for a linear drift away from the ends
    np.testing.assert_allclose(det[20:N - 20], 0.0, atol=1e-3)


def test_nir_without_side_pixels_and_all_columns():
    rng = np.random.default_rng(3)
    data = nir_frame(rng)
    pdq = np.zeros((N, N), np.uint32)
    expected = reference_nir_fullframe(data, pdq, 1, 2, odd_even=False, use_side=False)
    ours = data.copy()
    refpix_nir(ours, pdq, odd_even_columns=False, use_side_ref_pixels=False)
    np.testing.assert_allclose(ours, expected, atol=2e-3, rtol=0)


def test_nir_even_smoothing_length_and_side_gain():
    rng = np.random.default_rng(4)
    data = nir_frame(rng, ngroups=1)
    pdq = np.zeros((N, N), np.uint32)
    expected = reference_nir_fullframe(data, pdq, 1, -2, length=10, gain=0.6)
    ours = data.copy()
    refpix_nir(ours, pdq, fastaxis=1, slowaxis=-2, side_smoothing_length=10, side_gain=0.6)
    np.testing.assert_allclose(ours, expected, atol=2e-3, rtol=0)


def test_four_output_subarray_uses_the_reference_pixels_it_contains():
    # A 64-row full-width stripe at the bottom of a NIRCam-like detector.
    fast, slow = -1, 2
    rng = np.random.default_rng(6)
    full = nir_frame(rng, ngroups=1)
    pdq_full = np.zeros((N, N), np.uint32)
    sub = full[:, :, :64, :].copy()
    ours = sub.copy()
    assert refpix_nir(ours, pdq_full[:64].copy(), xstart=1, ystart=1, fastaxis=fast, slowaxis=slow, noutputs=4) == REFPIX_OK
    # reference: the full frame with everything outside the stripe DO_NOT_USE
    pdq_emb = np.full((N, N), DNU | REF, np.uint32)
    pdq_emb[:64] = 0
    expected = reference_nir_fullframe(full, pdq_emb, fast, slow)[:, :, :64, :]
    np.testing.assert_allclose(ours, expected, atol=2e-3, rtol=0)


def test_one_output_subarray_odd_even_columns():
    ny, nx = 40, 50
    data = np.zeros((1, 2, ny, nx), np.float32)
    # detector frame == DMS frame here; xstart=3 puts DMS column 0 on detector column 2 (even)
    data[:, :, :, 0::2] += 10.0
    data[:, :, :, 1::2] += 20.0
    data[:, 1] += 1.0
    pdq = np.zeros((ny, nx), np.uint32)
    pdq[:, :4] = REF
    pdq[5, 0] |= DNU
    data[:, :, 5, 0] = 1.0e6  # DO_NOT_USE reference pixel ignored
    data[:, :, 0:4, 20:30] = 500.0  # science pixels: no influence
    status = refpix_nir(data, pdq, xstart=3, ystart=1, noutputs=1)
    assert status == REFPIX_OK
    np.testing.assert_allclose(data[:, :, 10:, :20], 0.0, atol=1e-4)


def test_one_output_subarray_single_mean_and_parity_from_detector_columns():
    data = np.zeros((1, 1, 8, 6), np.float32)
    data[..., 0::2] = 4.0  # DMS even columns
    pdq = np.zeros((8, 6), np.uint32)
    pdq[:, :2] = REF
    # xstart=2: DMS column 0 is detector column 1 (odd) - parities swap, result unchanged
    d1 = data.copy()
    refpix_nir(d1, pdq, xstart=2, ystart=10, noutputs=1)
    np.testing.assert_allclose(d1, 0.0, atol=1e-6)
    d2 = data.copy()
    refpix_nir(d2, pdq, xstart=2, ystart=10, noutputs=1, odd_even_columns=False)
    np.testing.assert_allclose(d2, data - 2.0, atol=1e-6)


def test_subarray_without_reference_pixels_and_not_fitting():
    data = np.ones((1, 1, 16, 16), np.float32)
    pdq = np.zeros((16, 16), np.uint32)
    assert refpix_nir(data, pdq, xstart=500, ystart=500, noutputs=1) == BAD_REFERENCE_PIXELS
    assert np.all(data == 1.0)
    assert refpix_nir(data, pdq, xstart=2040, ystart=1, noutputs=1) == SUBARRAY_DOESNTFIT
    assert np.all(data == 1.0)


def test_edgeless_nirspec_subarray_uses_edge_columns():
    data = np.full((1, 1, 16, 32), 7.0, np.float32)
    data[..., 4:-4] += 100.0
    status = refpix_nir(data, np.zeros((16, 32), np.uint32), xstart=1000, ystart=900, fastaxis=2, slowaxis=1,
                        noutputs=1, edgeless_subarray=True, odd_even_columns=False)
    assert status == REFPIX_OK
    np.testing.assert_allclose(data[..., 4:-4], 100.0, atol=1e-4)


def test_zeroframe_is_corrected_and_zeros_kept():
    data = np.zeros((1, 1, 8, 6), np.float32)
    zf = np.full((1, 8, 6), 50.0, np.float32)
    zf[0, 3, 4] = 0.0
    pdq = np.zeros((8, 6), np.uint32)
    pdq[:, :2] = REF
    refpix_nir(data, pdq, xstart=1, ystart=1, noutputs=1, zeroframe=zf)
    assert zf[0, 3, 4] == 0.0
    np.testing.assert_allclose(np.delete(zf.ravel(), 3 * 6 + 4), 0.0, atol=1e-5)


def test_frame_transforms_round_trip():
    a = np.arange(12).reshape(3, 4)
    for fast, slow in [(1, 2), (-1, 2), (1, -2), (-2, -1), (2, 1), (-2, 1)]:
        np.testing.assert_array_equal(to_science_frame(to_detector_frame(a, fast, slow), fast, slow), a)
        np.testing.assert_array_equal(to_detector_frame(a, fast, slow), det_view(a, fast, slow))


# ---------------------------------------------------------------- MIRI


def miri_ramp(rng, nints=2, ngroups=4):
    base = rng.normal(20000, 50, (1, 1, 1024, 1032))
    rate = np.full((1, 1, 1, 1032), 30.0)
    rate[..., :4] = rate[..., 1028:] = 0.0  # reference pixels see no light
    ramp = base + np.arange(ngroups)[None, :, None, None] * rate + rng.normal(0, 2, (nints, ngroups, 1024, 1032))
    return ramp.astype(np.float32)


def test_miri_amplifier_and_row_parity_offsets_removed():
    rng = np.random.default_rng(9)
    data = miri_ramp(rng)
    clean = data.copy()
    for g in range(1, 4):
        for amp in range(4):
            data[:, g, 0::2, amp::4] += 10.0 * amp + g
            data[:, g, 1::2, amp::4] -= 3.0 * amp + 2 * g
    first = data[:, 0].copy()
    assert refpix_miri(data, np.zeros((1024, 1032), np.uint32)) == REFPIX_OK
    np.testing.assert_array_equal(data[:, 0], first)
    # what remains is the clipped mean of the reference-pixel noise (about 0.1 DN)
    resid = (data - clean)[:, 1:]
    assert np.abs(resid).max() < 0.5
    for amp in range(4):
        for parity in range(2):
            r = resid[:, :, parity::2, amp::4]
            assert np.ptp(r.mean(axis=(2, 3))) < 0.5


def test_miri_bad_reference_column_and_subarray():
    rng = np.random.default_rng(10)
    data = miri_ramp(rng, nints=1, ngroups=3)
    pdq = np.zeros((1024, 1032), np.uint32)
    pdq[0::2, 1029] = DNU  # amplifier B right column, odd rows: nothing usable
    before = data.copy()
    assert refpix_miri(data, pdq) == BAD_REFERENCE_PIXELS
    np.testing.assert_array_equal(data, before)
    sub = np.ones((1, 2, 64, 72), np.float32)
    assert refpix_miri(sub, np.zeros((64, 72), np.uint32)) == SUBARRAY_SKIPPED
    assert np.all(sub == 1.0)


def test_miri_all_rows_mode_matches_a_direct_computation():
    rng = np.random.default_rng(11)
    data = miri_ramp(rng, nints=1, ngroups=2)
    expected = data.astype(np.float64).copy()
    diff = (data[0, 1] - data[0, 0]).astype(np.float32)
    for amp in range(4):
        left = stats.sigmaclip(diff[:, amp].astype(np.float64), 3, 3)[0].mean()
        right = stats.sigmaclip(diff[:, 1028 + amp].astype(np.float64), 3, 3)[0].mean()
        expected[0, 1, :, amp::4] -= 0.5 * (left + right)
    refpix_miri(data, np.zeros((1024, 1032), np.uint32), odd_even_rows=False)
    np.testing.assert_allclose(data, expected, atol=2e-3, rtol=0)


def test_module_constants():
    assert (refpix.NIR_SIZE, refpix.MIRI_ROWS, refpix.MIRI_COLUMNS) == (2048, 1024, 1032)
