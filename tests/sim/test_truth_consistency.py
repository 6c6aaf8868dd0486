"""The truth is self-consistent: undoing the signal chain with numpy gives the true rate."""

import numpy as np
import pytest

from photoncal import datamodels
from photoncal.sim import Effects, Scene, make_scene, simulate_exposure
from photoncal.sim.references import ensure_reference_set


def _calibrate_by_hand(raw, truth, refs, miri=False):
    """The inverse chain, with numpy and the reference files: returns the slope per integration."""
    superbias = None
    if not miri:
        with datamodels.open(refs["superbias"]) as m:
            superbias = m.data.astype(np.float64)
    with datamodels.open(refs["linearity"]) as m:
        coeffs = m.coeffs.astype(np.float64)
    with datamodels.open(refs["dark"]) as m:
        dark = m.data.astype(np.float64)
        dark_nframes, dark_groupgap = m.meta.exposure.nframes, m.meta.exposure.groupgap
    if dark.ndim == 4:
        dark = dark[0]
    assert (dark_nframes, dark_groupgap) == (1, 0)
    times = truth.group_times
    nints, ngroups = raw.shape[:2]
    slopes = []
    for i in range(nints):
        linear = np.empty(raw.shape[1:], dtype=np.float64)
        for g in range(ngroups):
            x = raw[i, g].astype(np.float64)
            if truth.miri_additive is not None:
                x = x - truth.miri_additive[i, g]
            # MIRI has no superbias step: its LINEARITY polynomial takes the raw value.
            x = x - (superbias if superbias is not None else 0.0)
            x = x - truth.refpix_offset_image(i, g)
            value = np.zeros_like(x)
            for c in coeffs[::-1]:
                value = value * x + c
            reads = np.asarray(truth.read_pattern[g]) - 1
            linear[g] = value - dark[reads].mean(axis=0)
        if miri:
            slope = (linear[-1] - linear[0]) / (times[-1] - times[0])
        else:
            design = np.vstack([times, np.ones_like(times)]).T
            fit = np.linalg.lstsq(design, linear.reshape(ngroups, -1), rcond=None)[0]
            slope = fit[0].reshape(raw.shape[2:])
        slopes.append(slope)
    return np.array(slopes)


@pytest.mark.parametrize("ipc", [False, True])
def test_nircam_noiseless_exposure_inverts_to_the_true_rate(tmp_path, refdir, ipc):
    effects = Effects(poisson=False, read_noise=False, cosmic_rays=False, ipc=ipc)
    path, truth = simulate_exposure(
        "NIRCAM", "NRCA1", "SUB160", "MEDIUM8", ngroups=4, nints=2, effects=effects, seed=11,
        output_dir=tmp_path, keep_ramp=True, write_references=False,
    )
    refs = ensure_reference_set("NIRCAM", "NRCA1", subarray="SUB160", readpatt="MEDIUM8",
                                ngroups=4, directory=refdir, cutout=True)
    expected = truth.rate_ipc if ipc else truth.rate
    science = truth.rate > 0  # not reference pixels, not dead
    # The float ramp: exact to float32 precision of the ~13000 DN raw values.
    slope = _calibrate_by_hand(truth.ramp, truth, refs)
    for s in slope:
        np.testing.assert_allclose(s[science], expected[science], atol=5e-4, rtol=1e-5)
    # The uint16 file: within the quantisation of the groups (0.5 DN over ~8 s).
    with datamodels.open(path) as model:
        raw = model.data
    slope = _calibrate_by_hand(raw, truth, refs)
    for s in slope:
        np.testing.assert_allclose(s[science], expected[science], atol=0.15)
    # Not a trivial identity: the rate varies and sources are present.
    assert expected[science].max() > 20 * np.median(expected[science])
    assert truth.sources["on_image"].sum() > 5


def test_ipc_changes_the_rate_the_way_the_kernel_says(tmp_path):
    effects = Effects(poisson=False, read_noise=False, cosmic_rays=False)
    _, truth = simulate_exposure("NIRCAM", "NRCA3", "SUB160", "RAPID", ngroups=3, effects=effects,
                                 seed=5, output_dir=None, write_references=False)
    from scipy.signal import convolve2d

    from photoncal.sim.detector import detector_properties

    props = detector_properties("NRCA3", "SUB160")
    gain = props.gain.astype(np.float64)
    electrons = (truth.rate.astype(np.float64) + truth.dark_rate) * gain
    inner = (slice(4, None), slice(4, None))  # SUB160 at (1, 1): refs on two sides
    conv = convolve2d(electrons[inner], props.ipc_forward, mode="same")
    expected = conv / gain[inner] - truth.dark_rate[inner]
    np.testing.assert_allclose(truth.rate_ipc[inner][1:-1, 1:-1], expected[1:-1, 1:-1], rtol=1e-5, atol=1e-5)
    # The reference deconvolution kernel undoes the coupling to second order in alpha.
    undone = convolve2d(conv, props.ipc_kernel.astype(np.float64), mode="same")
    interior = (slice(3, -3), slice(3, -3))
    rel = np.abs(undone[interior] - electrons[inner][interior]) / electrons[inner][interior].max()
    alpha = props.info.ipc_alpha
    assert rel.max() < 10 * alpha**2
    # ... while skipping the correction leaves errors of order alpha.
    rel_raw = np.abs(conv[interior] - electrons[inner][interior]) / electrons[inner][interior].max()
    assert rel_raw.max() > alpha


def test_miri_noiseless_exposure_inverts_to_the_true_rate(tmp_path, refdir):
    effects = Effects(poisson=False, read_noise=False, cosmic_rays=False, ipc=False)
    path, truth = simulate_exposure(
        "MIRI", "MIRIMAGE", "SUB128", "FAST", ngroups=8, nints=3, effects=effects, seed=4,
        output_dir=tmp_path, keep_ramp=True, write_references=False,
    )
    refs = ensure_reference_set("MIRI", "MIRIMAGE", subarray="SUB128", readpatt="FAST", ngroups=8,
                                directory=refdir, cutout=True)
    with datamodels.open(refs["reset"]) as reset:
        # The reset anomaly the simulator added is the RESET reference.
        anomaly = reset.data
    assert np.abs(anomaly).max() > 1.0
    np.testing.assert_allclose(
        truth.miri_additive[0, 1:-1], anomaly[0, 1:7], atol=1e-3,
    )  # integration 1 has no RSCD; first/last groups carry the frame effects
    science = truth.rate > 0
    slope = _calibrate_by_hand(truth.ramp, truth, refs, miri=True)
    for s in slope:
        # MIRI's raw-value polynomial in float32 carries ~1e-3 DN of round-off
        # (the groups are 0.12 s apart here).
        np.testing.assert_allclose(s[science], truth.rate[science], rtol=1e-5, atol=6e-3)
        assert np.median(np.abs(s[science] - truth.rate[science])) < 1e-3
    # Integration 2 also carries the RSCD: negative, decaying with time.
    rscd = truth.miri_additive[1, 1:7] - anomaly[1, 1:7]
    lit = science & (truth.rate > 5)
    assert np.all(rscd[:, lit] <= 0)
    assert np.abs(rscd[0, lit]).mean() > 10 * np.abs(rscd[4, lit]).mean() > 0


def test_cosmic_ray_jumps_are_where_the_truth_says(tmp_path):
    effects = Effects.preset("none")
    effects = Effects(**{**effects.to_dict(), "cosmic_rays": True, "cosmic_ray_rate": 5000.0})
    _, truth = simulate_exposure("NIRCAM", "NRCB2", "SUB64P", "RAPID", ngroups=6, effects=effects,
                                 seed=9, output_dir=None, write_references=False, keep_ramp=True)
    crs = truth.cosmic_rays
    assert len(crs) > 20
    # With a noiseless, linear, gain-only chain the group differences are rate * dt
    # plus the deposits.
    from photoncal.sim.detector import detector_properties

    gain = detector_properties("NRCB2", "SUB64P").gain.astype(np.float64)
    ramp = truth.ramp[0].astype(np.float64)
    dt = truth.group_time
    jumps = np.diff(ramp, axis=0) - truth.rate[None] * dt
    expected = np.zeros_like(jumps)
    for row in crs:
        if row["group"] >= 1:
            expected[row["group"] - 1, row["y"], row["x"]] += row["electrons"] / gain[row["y"], row["x"]]
    np.testing.assert_allclose(jumps, expected, atol=0.02)
    # Deposits before the first read land in group 0 (no jump).
    assert set(np.unique(crs["group"])) <= set(range(-1, 6))


def test_saturation_truth_matches_the_written_data(tmp_path, refdir):
    bright = Scene.from_sources(53.16, -27.79, 0.2)  # 0.2 Jy: the core saturates within 0.5 s
    effects = Effects(poisson=False, read_noise=False, cosmic_rays=False)
    path, truth = simulate_exposure("NIRCAM", "NRCA1", "SUB64P", "RAPID", ngroups=10, scene=bright,
                                    effects=effects, seed=1, output_dir=tmp_path,
                                    write_references=False)
    refs = ensure_reference_set("NIRCAM", "NRCA1", subarray="SUB64P", readpatt="RAPID", ngroups=10,
                                directory=refdir, cutout=True)
    with datamodels.open(refs["saturation"]) as sat, datamodels.open(path) as model:
        above = model.data > sat.data[None, None]
    first = np.where(above.any(axis=1), above.argmax(axis=1), -1)
    np.testing.assert_array_equal(first, truth.saturated_group)
    assert (truth.saturated_group >= 0).sum() >= 1
    # Saturation grows: once flagged, every later group stays above the threshold.
    for y, x in zip(*np.nonzero(truth.saturated_group[0] >= 0)):
        g = truth.saturated_group[0, y, x]
        assert above[0, g:, y, x].all()
    # Reads clip at the full well, after the threshold.
    assert np.all((truth.clipped_group < 0) | (truth.clipped_group >= truth.saturated_group))


def test_group_scale_frame_divisor(tmp_path):
    effects = Effects(poisson=False, read_noise=False, cosmic_rays=False)
    _, truth6 = simulate_exposure("FGS", "GUIDER1", "SUB32LL", "FGS60", ngroups=3, effects=effects,
                                  seed=2, output_dir=None, write_references=False, keep_ramp=True)
    assert truth6.frame_divisor == 8
    assert truth6.nframes == 6
    # The onboard sum of 6 frames divided by 8: the raw values are 6/8 of the group means.
    from photoncal.sim.detector import detector_properties

    bias = detector_properties("GUIDER1", "SUB32LL").superbias
    g0 = truth6.ramp[0, 0].astype(np.float64)
    offsets = truth6.refpix_offset_image(0, 0)
    ratio = g0 / (bias + offsets + 0.0)
    assert np.median(ratio[truth6.rate == 0]) == pytest.approx(0.75, rel=1e-6)


def test_scene_and_sources_are_reproducible():
    a = make_scene(10.0, 20.0, radius=30, n_stars=5, n_galaxies=5, seed=3)
    b = make_scene(10.0, 20.0, radius=30, n_stars=5, n_galaxies=5, seed=3)
    c = make_scene(10.0, 20.0, radius=30, n_stars=5, n_galaxies=5, seed=4)
    assert np.array_equal(a.sources, b.sources)
    assert not np.array_equal(a.sources, c.sources)


@pytest.mark.parametrize("detector", ["NIS", "NRCB1"])
def test_reference_pixels_measure_the_amplifier_offsets(detector):
    """In the detector orientation, the top/bottom reference rows of each amplifier
    carry exactly that amplifier's even/odd offsets, as refpix assumes."""
    from photoncal.sim.detector import detector_properties
    from photoncal.sim.instruments import get_detector, science_to_detector

    effects = {"preset": "none", "superbias": True, "refpix_offsets": True, "sky": False,
               "sources": False}
    _, truth = simulate_exposure(None, detector, "FULL", ngroups=2, effects=effects, seed=12,
                                 output_dir=None, write_references=False, keep_ramp=True)
    det = get_detector(detector)
    bias = detector_properties(detector, "FULL").superbias.astype(np.float64)
    for g in range(2):
        signal = science_to_detector(truth.ramp[0, g].astype(np.float64) - bias, det.fastaxis, det.slowaxis)
        refrows = np.concatenate([signal[:4], signal[-4:]])
        for amp_index, start in enumerate(range(0, 2048, 512)):
            block = refrows[:, start:start + 512]
            for parity in (0, 1):
                measured = block[:, parity::2].mean()
                # Detector columns count from the readout start: amplifier k of the
                # detector orientation is the stripe read through output k.
                amp = science_to_detector(truth.amplifier, det.fastaxis, det.slowaxis)[0, start]
                assert measured == pytest.approx(truth.refpix_offsets[0, g, amp, parity], abs=1e-3)
        # The same offsets sit in the science pixels.
        science = signal[4:-4, 4:-4]
        offsets = science_to_detector(truth.refpix_offset_image(0, g), det.fastaxis, det.slowaxis)[4:-4, 4:-4]
        np.testing.assert_allclose(science, offsets, atol=2e-3)
    assert np.ptp(truth.refpix_offsets[0, 0]) > 5.0  # offsets differ between amplifiers/parities
