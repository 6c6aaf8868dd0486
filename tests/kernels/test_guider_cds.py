import numpy as np
import pytest

from photoncal.kernels.guider_cds import guider_cds, guider_mode


def test_modes_from_exp_type():
    assert guider_mode("FGS_ID-STACK") == "ID" and guider_mode("fgs_id-image") == "ID"
    assert guider_mode("FGS_TRACK") == "CDS" and guider_mode("FGS_ACQ1") == "CDS"
    assert guider_mode("FGS_FINEGUIDE") == "FINEGUIDE"
    with pytest.raises(ValueError, match="not an FGS guiding mode"):
        guider_mode("NRC_IMAGE")


def test_cds_rates_and_errors():
    data = np.zeros((3, 2, 2, 2), np.float32)
    data[:, 1] = np.array([10.0, 20.0, 30.0])[:, None, None]
    out = guider_cds(data, mode="CDS", group_time=0.5, gain=2.0, readnoise=1.0)
    assert out.data[:, 0, 0].tolist() == [20.0, 40.0, 60.0]
    np.testing.assert_allclose(out.var_rnoise, 2 * (1.0 / 0.5) ** 2)
    np.testing.assert_allclose(out.var_poisson[:, 0, 0], [10.0, 20.0, 30.0])
    np.testing.assert_allclose(out.err, np.sqrt(out.var_rnoise + out.var_poisson), rtol=1e-6)


def test_id_takes_the_minimum_difference():
    data = np.zeros((2, 2, 1, 2), np.float32)
    data[0, 1] = [[5.0, -8.0]]
    data[1, 1] = [[3.0, 9.0]]
    out = guider_cds(data, mode="ID", group_time=2.0, gain=1.0, readnoise=0.0)
    assert out.data.shape == (1, 1, 2)
    assert out.data[0, 0].tolist() == [1.5, -4.0]
    assert out.var_poisson[0, 0].tolist() == [1.5, 0.0]  # negative variance clipped


def test_fineguide_uses_four_and_four_groups():
    data = np.arange(8, dtype=np.float32).reshape(1, 8, 1, 1) * np.ones((1, 1, 2, 2), np.float32)
    out = guider_cds(data, mode="FINEGUIDE", group_time=1.0, gain=1.0, readnoise=1.0)
    np.testing.assert_allclose(out.data, 4.0)
    with pytest.raises(ValueError, match="at least 4 groups"):
        guider_cds(data[:, :3], mode="FINEGUIDE", group_time=1.0, gain=1.0, readnoise=1.0)
