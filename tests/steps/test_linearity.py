"""linearity step: the frame-level correction with INV_COEFFS (as established)."""

from __future__ import annotations

import os

import numpy as np


def test_inverse_coefficients_select_the_frame_level_correction(nircam_uncal, stage1_refdir, tmp_path):
    from photoncal import datamodels
    from photoncal.kernels.linearity import correct_linearity
    from photoncal.kernels.saturation import frame_read_pattern
    from photoncal.steps.linearity import LinearityStep

    raw = datamodels.open(nircam_uncal[0])
    assert raw.meta.exposure.nframes == 8
    plain = LinearityStep.call(raw, reference_dir=os.fspath(stage1_refdir))
    lin = datamodels.open(plain.meta.ref_file.linearity.name)
    assert "inv_coeffs" not in lin.keys()

    # the same reference with inverse coefficients: x = y - 1e-6 y**2 (approximately)
    with_inverse = lin.copy()
    inverse = np.zeros((3,) + lin.coeffs.shape[1:], dtype=np.float32)
    inverse[1] = 1.0
    inverse[2] = -1.0e-6
    with_inverse.inv_coeffs = inverse
    path = with_inverse.save(os.fspath(tmp_path / "linearity_with_inverse.fits"))
    framed = LinearityStep.call(raw, override_linearity=path)

    expected = raw.copy()
    correct_linearity(expected.data, expected.groupdq, expected.pixeldq, np.asarray(lin.coeffs), np.asarray(lin.dq),
                      inverse_coeffs=inverse, read_pattern=frame_read_pattern(8, raw.data.shape[1]))
    np.testing.assert_array_equal(framed.data, expected.data)
    assert not np.array_equal(framed.data, plain.data)  # the frame-level path is a different correction
