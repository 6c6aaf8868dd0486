import numpy as np
import pytest

from photoncal.kernels.gain_scale import apply_gain_factor


def test_scales_sci_err_and_variances():
    data = np.full((2, 3), 10.0, np.float32)
    err = np.full((2, 3), 2.0, np.float32)
    vp = np.full((2, 3), 4.0, np.float32)
    vr = np.full((2, 3), 1.0, np.float32)
    apply_gain_factor(data, err, vp, vr, np.zeros(0, np.float32), gain_factor=2.0)
    assert np.all(data == 20.0) and np.all(err == 4.0)
    assert np.all(vp == 16.0) and np.all(vr == 4.0)


def test_rejects_nan_factor():
    with pytest.raises(ValueError, match="GAINFACT"):
        apply_gain_factor(np.zeros(2, np.float32), gain_factor=float("nan"))
