import numpy as np
import pytest

from photoncal.kernels.ipc import NumRefPixels, ipc_correct, reference_pixel_counts

KERNEL = np.array([[0.001, -0.01, 0.002], [-0.012, 1.044, -0.013], [0.003, -0.011, 0.004]], np.float32)


def test_delta_function_gives_the_kernel_centred():
    data = np.zeros((1, 1, 15, 17), np.float32)
    data[0, 0, 7, 8] = 1000.0
    ipc_correct(data, KERNEL, NumRefPixels(4, 4, 4, 4))
    out = data[0, 0]
    # convolution: out[y, x] = sum K[j, i] in[y + 1 - j, x + 1 - i]
    np.testing.assert_allclose(out[6:9, 7:10], 1000.0 * KERNEL, rtol=1e-6)
    assert np.count_nonzero(out) == 9


def test_reference_pixels_untouched_and_contribute_zero():
    data = np.full((1, 2, 12, 12), 100.0, np.float32)
    ref = np.zeros((12, 12), bool)
    ref[:4], ref[-4:], ref[:, :4], ref[:, -4:] = True, True, True, True
    data[:, :, ref] = 5000.0
    kernel = np.full((3, 3), 0.01, np.float32)
    kernel[1, 1] = 0.92
    ipc_correct(data, kernel, NumRefPixels(4, 4, 4, 4))
    assert np.all(data[:, :, ref] == 5000.0)
    sci = data[0, 0, 4:8, 4:8]
    # interior science pixel: all 9 neighbours are science pixels
    np.testing.assert_allclose(sci[1:3, 1:3], 100.0, rtol=1e-6)
    # corner science pixel: 5 of its 8 neighbours are reference pixels -> 0
    np.testing.assert_allclose(sci[0, 0], 100.0 * (0.92 + 3 * 0.01), rtol=1e-6)


def test_four_d_kernel_is_per_pixel():
    data = np.zeros((1, 1, 5, 6), np.float32)
    data[0, 0, 2, 3] = 1.0
    k = np.zeros((3, 3, 5, 6), np.float32)
    k[1, 1] = 1.0
    k[0, 1, 3, 3] = 0.25  # pixel (3,3) pulls from (3+1-0, 3) = (4, 3): zero
    k[2, 1, 3, 3] = 0.5   # pulls from (3+1-2, 3) = (2, 3): the delta
    ipc_correct(data, k, NumRefPixels(0, 0, 0, 0))
    assert data[0, 0, 3, 3] == 0.5 and data[0, 0, 2, 3] == 1.0
    assert np.count_nonzero(data) == 2


@pytest.mark.parametrize(
    "args, miri, expected",
    [
        ((1, 1, 2048, 2048), False, (4, 4, 4, 4)),
        ((1, 1, 64, 64), False, (4, 0, 4, 0)),
        ((1025, 2017, 1024, 32), False, (0, 4, 0, 4)),
        ((1025, 2017, 1000, 32), False, (0, 4, 0, 0)),
        ((100, 100, 50, 50), False, (0, 0, 0, 0)),
        ((1, 1, 1032, 1024), True, (0, 0, 4, 4)),
        ((413, 1, 620, 512), True, (0, 0, 0, 4)),
    ],
)
def test_reference_pixel_counts(args, miri, expected):
    assert tuple(reference_pixel_counts(*args, miri=miri)) == expected


def test_kernel_shape_errors():
    with pytest.raises(ValueError, match="4-D IPC kernel covers"):
        ipc_correct(np.zeros((1, 1, 4, 4), np.float32), np.zeros((3, 3, 5, 5), np.float32), (0, 0, 0, 0))
