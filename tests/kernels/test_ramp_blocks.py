"""Row-block streaming of non-native input gives the same answers as native input."""

import functools

import numpy as np

from photoncal.kernels import jump as jump_module
from photoncal.kernels import ramp_fit as fit_module
from photoncal.kernels import ramp_uneven as uneven_module
from photoncal.kernels.ramp_common import iter_row_blocks
from photoncal.sim.ramps import jwst_read_pattern, random_cosmic_rays, simulate_ramps


def test_iter_row_blocks():
    native = np.zeros((2, 3, 10, 4), np.float32)
    blocks = list(iter_row_blocks(native, 2))
    assert len(blocks) == 1 and blocks[0][1] is native
    big_endian = np.arange(2 * 3 * 10 * 4, dtype=">f4").reshape(2, 3, 10, 4)
    blocks = list(iter_row_blocks(big_endian, 2, target_bytes=2 * 3 * 4 * 4 * 3))
    assert [first for first, _ in blocks] == [0, 3, 6, 9]
    assert all(b.dtype == np.float32 and b.dtype.isnative and b.flags.c_contiguous for _, b in blocks)
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks], axis=2), big_endian)


def test_blocked_kernels_match_native(monkeypatch):
    shape = (24, 16)
    crs = random_cosmic_rays(shape, nints=2, last_frame=6, hits_per_pixel=0.1, electrons_min=500,
                             electrons_max=5e4, seed=1)
    sim = simulate_ramps(np.full(shape, 40.0), frame_time=10.0, read_pattern=jwst_read_pattern(1, 0, 6),
                         nints=2, gain=2.0, read_noise=6.0, cosmic_rays=crs, seed=3)
    gdq = np.zeros(sim.data.shape, np.uint8)
    pdq = np.zeros(shape, np.uint32)
    args = dict(gain=np.full(shape, 2.0, np.float32), readnoise=np.full(shape, 8.5, np.float32))
    jumps = jump_module.detect_jumps(sim.data, gdq, pdq, nframes=1, group_time=10.0, **args)
    fit = fit_module.fit_ramps(sim.data, jumps.groupdq, pdq, frame_time=10.0, group_time=10.0, nframes=1,
                               save_opt=True, **args)
    roman = uneven_module.fit_ramps_uneven(sim.data[0], gdq[0], pdq, read_pattern=[[k + 1] for k in range(6)],
                                           read_time=10.0, **args)
    small = functools.partial(iter_row_blocks, target_bytes=2 * 6 * 16 * 4 * 5)  # 5 rows per block
    for module in (jump_module, fit_module, uneven_module):
        monkeypatch.setattr(module, "iter_row_blocks", small)
    big = sim.data.astype(">f4")
    jumps_b = jump_module.detect_jumps(big, gdq, pdq, nframes=1, group_time=10.0, **args)
    fit_b = fit_module.fit_ramps(big, jumps.groupdq, pdq, frame_time=10.0, group_time=10.0, nframes=1,
                                 save_opt=True, **args)
    roman_b = uneven_module.fit_ramps_uneven(big[0], gdq[0], pdq, read_pattern=[[k + 1] for k in range(6)],
                                             read_time=10.0, **args)
    assert np.count_nonzero(jumps.groupdq & 4) > 10
    np.testing.assert_array_equal(jumps_b.groupdq, jumps.groupdq)
    for name in ("data", "dq", "var_poisson", "var_rnoise", "err"):
        np.testing.assert_array_equal(getattr(fit_b.rate, name), getattr(fit.rate, name))
        np.testing.assert_array_equal(getattr(fit_b.rateints, name), getattr(fit.rateints, name))
        np.testing.assert_array_equal(getattr(roman_b, name), getattr(roman, name))
    np.testing.assert_array_equal(fit_b.fitopt.slope, fit.fitopt.slope)
