import numpy as np
import pytest

from photoncal.dqflags import pixel as F
from photoncal.kernels.linearity import correct_linearity, prepare_coefficients
from photoncal.kernels.saturation import frame_read_pattern

SAT, NOLIN = F["SATURATED"], F["NO_LIN_CORR"]


def _coeffs(ny, nx, c2=1e-5, c3=0.0):
    c = np.zeros((4, ny, nx), np.float32)
    c[1] = 1.0
    c[2] = c2
    c[3] = c3
    return c


def test_polynomial_per_group_and_saturated_groups_untouched():
    data = np.array([1000.0, 2000.0, 3000.0], np.float32).reshape(1, 3, 1, 1) * np.ones((1, 1, 2, 3), np.float32)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, 2, 0, 0] = SAT
    pdq = np.zeros((2, 3), np.uint32)
    coeffs = _coeffs(2, 3, c2=1e-5, c3=1e-9)
    correct_linearity(data, gdq, pdq, coeffs, np.zeros((2, 3), np.uint32))
    f = np.array([1000.0, 2000.0, 3000.0])
    expected = f + 1e-5 * f**2 + 1e-9 * f**3
    np.testing.assert_allclose(data[0, :, 1, 1], expected, rtol=1e-6)
    assert data[0, 2, 0, 0] == 3000.0
    np.testing.assert_allclose(data[0, :2, 0, 0], expected[:2], rtol=1e-6)
    assert not pdq.any()


def test_bad_coefficients_give_identity_and_no_lin_corr():
    data = np.full((1, 2, 2, 3), 1500.0, np.float32)
    coeffs = _coeffs(2, 3)
    coeffs[2, 0, 0] = np.nan
    coeffs[1, 0, 1] = 0.0
    lin_dq = np.zeros((2, 3), np.uint32)
    lin_dq[0, 2] = NOLIN | F["NONLINEAR"]
    pdq = np.zeros((2, 3), np.uint32)
    original = coeffs.copy()
    correct_linearity(data, np.zeros(data.shape, np.uint8), pdq, coeffs, lin_dq)
    assert np.all(data[0, :, 0, :] == 1500.0)
    np.testing.assert_allclose(data[0, :, 1, :], 1500.0 + 1e-5 * 1500.0**2, rtol=1e-6)
    assert pdq[0].tolist() == [NOLIN, NOLIN, NOLIN | F["NONLINEAR"]]
    assert not pdq[1].any()
    np.testing.assert_array_equal(np.isnan(coeffs), np.isnan(original))  # reference not modified


def test_prepare_coefficients_reports_nan_zero_linear_and_flagged():
    c = _coeffs(1, 4)
    c[0, 0, 0] = np.nan
    c[1, 0, 1] = 0.0
    lin_dq = np.array([[0, 0, NOLIN, 0]], np.uint32)
    usable, extra = prepare_coefficients(c, lin_dq)
    assert usable.tolist() == [[False, False, False, True]]
    assert extra.tolist() == [[NOLIN, NOLIN, 0, 0]]


def test_zeroframe_corrected_and_zero_kept():
    data = np.zeros((1, 1, 1, 2), np.float32)
    zf = np.array([[[0.0, 1000.0]]], np.float32)
    correct_linearity(data, np.zeros(data.shape, np.uint8), np.zeros((1, 2), np.uint32), _coeffs(1, 2),
                      np.zeros((1, 2), np.uint32), zeroframe=zf)
    assert zf[0, 0, 0] == 0.0
    np.testing.assert_allclose(zf[0, 0, 1], 1010.0, rtol=1e-6)


def _nonlinear(true_counts, c2):
    # raw = inverse of F + c2 F^2 (the forward correction), solved exactly
    return (-1.0 + np.sqrt(1.0 + 4.0 * c2 * true_counts)) / (2.0 * c2)


def test_frame_level_correction_recovers_frame_averaged_groups():
    nframes, ngroups = 4, 6
    c2 = 2e-6
    rate = np.array([50.0, 400.0, 1500.0])  # linear DN per frame
    frames = np.arange(1, nframes * ngroups + 1)
    true_frames = rate[None, :] * frames[:, None]
    raw_frames = _nonlinear(true_frames, c2)
    raw_groups = raw_frames.reshape(ngroups, nframes, 3).mean(axis=1)
    true_groups = true_frames.reshape(ngroups, nframes, 3).mean(axis=1)
    data = raw_groups.astype(np.float32).reshape(1, ngroups, 1, 3)
    coeffs = np.zeros((3, 1, 3), np.float32)
    coeffs[1], coeffs[2] = 1.0, c2
    # inverse polynomial: a high-order fit of the exact inverse over the range used
    grid = np.linspace(0, true_frames.max() * 1.1, 400)
    inv_fit = np.polynomial.polynomial.polyfit(grid, _nonlinear(grid, c2), 6)
    inv = np.broadcast_to(inv_fit[:, None, None], (7, 1, 3)).astype(np.float32).copy()
    classic = data.copy()
    correct_linearity(classic, np.zeros(data.shape, np.uint8), np.zeros((1, 3), np.uint32), coeffs,
                      np.zeros((1, 3), np.uint32))
    frame = data.copy()
    correct_linearity(frame, np.zeros(data.shape, np.uint8), np.zeros((1, 3), np.uint32), coeffs,
                      np.zeros((1, 3), np.uint32), inverse_coeffs=inv,
                      read_pattern=frame_read_pattern(nframes, ngroups))
    err_classic = np.abs(classic[0, :, 0, 2] - true_groups[:, 2])
    err_frame = np.abs(frame[0, :, 0, 2] - true_groups[:, 2])
    # the classic correction of a mean is biased by the curvature; frame level is not
    assert err_classic.max() > 1.0
    np.testing.assert_allclose(frame[0, :, 0, :], true_groups, rtol=2e-4, atol=0.05)
    assert err_frame.max() < 0.1 * err_classic.max()


def test_inverse_without_pattern_is_an_error():
    d = np.zeros((1, 1, 1, 1), np.float32)
    with pytest.raises(ValueError, match="read_pattern"):
        correct_linearity(d, np.zeros(d.shape, np.uint8), np.zeros((1, 1), np.uint32), _coeffs(1, 1),
                          np.zeros((1, 1), np.uint32), inverse_coeffs=_coeffs(1, 1))


def test_big_endian_reference_arrays():
    data = np.full((1, 1, 1, 2), 1000.0, np.float32)
    pdq = np.zeros((1, 2), np.uint32)
    correct_linearity(data, np.zeros(data.shape, np.uint8), pdq, _coeffs(1, 2).astype(">f4"),
                      np.array([[0, NOLIN]], ">u4"))
    np.testing.assert_allclose(data[0, 0, 0], [1010.0, 1000.0], rtol=1e-6)
    assert pdq.tolist() == [[0, NOLIN]]
