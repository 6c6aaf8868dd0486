"""Simulated Level-1b exposures: the per-frame signal chain with its truth.

The chain, for one exposure (each part switchable through
:class:`~photoncal.sim.effects.Effects`):

1. the scene (sky + sources, :mod:`photoncal.sim.scene`) is projected through
   the *true* WCS (commanded pointing plus the pointing error) into DN/s;
2. multiplied by the pixel response (FLAT = response x relative pixel
   area); dark current (hot/warm pixels included) is added; converted to
   electrons with the GAIN; IPC convolves the charge;
3. :func:`photoncal.sim.ramps.simulate_ramps` accumulates charge frame by
   frame (Poisson), adds cosmic rays (spread by IPC), applies the inverse of
   the LINEARITY polynomial, clips at the full well, adds the SUPERBIAS and
   read noise (READNOISE / sqrt(2) per frame), and averages the frames of
   each group;
4. electronic offsets are added: per-amplifier offsets that drift from frame
   to frame with an even/odd difference (in reference pixels too), and for
   MIRI the reset anomaly (the RESET reference), the RSCD decay in later
   integrations, and the first/last-frame effects;
5. the onboard frame-sum division (FRMDIVSR) and the uint16 conversion.

The reference arrays all come from
:func:`photoncal.sim.detector.detector_properties`, the same arrays
:mod:`photoncal.sim.references` writes.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from astropy.time import Time
from scipy.signal import convolve2d

from photoncal.sim.detector import RESET_NGROUPS, RESET_NINTS, detector_properties
from photoncal.sim.distortion import distortion_model, filter_offsets
from photoncal.sim.effects import Effects
from photoncal.sim.instruments import (
    DetectorInfo,
    Subarray,
    check_filter_detector,
    default_filter,
    exposure_timing,
    frame_divisor,
    frame_time,
    get_detector,
    get_filter,
    get_readout_pattern,
    get_subarray,
    reference_pixel_mask,
)
from photoncal.sim.photometry import (
    electrons_per_jansky,
    jy_to_abmag,
    photmjsr as photmjsr_of,
    sky_surface_brightness,
)
from photoncal.sim.pointing import Attitude
from photoncal.sim.psf import airy_psf
from photoncal.sim.ramps import jwst_read_pattern, simulate_ramps
from photoncal.sim.scene import Scene, make_scene, render_scene
from photoncal.sim.truth import Truth, amplifier_parity_maps
from photoncal.wcs.pointing import imaging_wcs

__all__ = [
    "ExposureSetup",
    "SimulatedExposure",
    "setup_exposure",
    "simulate_arrays",
    "exposure_filename",
    "default_attitude",
    "true_wcs",
    "aperture_reference",
]

#: Default observation start (UTC).
DEFAULT_START = "2025-01-15T03:00:00.000"

# Per-frame amplifier-offset model (DN).
_AMP_OFFSET_SIGMA = 25.0
_PARITY_OFFSET_SIGMA = 4.0
_AMP_DRIFT_SIGMA = 0.05      # DN/s
_AMP_JITTER_SIGMA = 1.5      # DN per frame


def _component_seed(seed: int, component: str) -> int:
    """A 63-bit seed for one random component of one exposure."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(component.encode())])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def _rng(seed: int, component: str) -> np.random.Generator:
    return np.random.default_rng(_component_seed(seed, component))


def exposure_filename(program: int, observation: int, visit: int, visit_group: int,
                      parallel: int, activity: int, exposure: int, detector: str,
                      suffix: str = "uncal") -> str:
    """The DMS exposure file name ``jw{ppppp}{ooo}{vvv}_{gg}{s}{aa}_{eeeee}_{det}_{suffix}.fits``.

    ``activity`` is written in base 36 (two characters).
    """
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if not 0 <= activity < 36 * 36:
        raise ValueError(f"activity must be in [0, 1296), got {activity}")
    act = digits[activity // 36] + digits[activity % 36]
    det = detector.lower()
    return (f"jw{program:05d}{observation:03d}{visit:03d}_{visit_group:02d}{parallel:1d}{act}_"
            f"{exposure:05d}_{det}_{suffix}.fits")


def aperture_reference(det: DetectorInfo, sub: Subarray) -> tuple[float, float, float, float]:
    """(x, y) 0-based full-frame pixel and (V2, V3) arcsec of the aperture's reference point.

    Full frame: the detector's reference pixel.  Subarrays: their centre.
    """
    if sub.name == "FULL":
        x, y = det.x_ref, det.y_ref
    else:
        x = sub.xstart - 1 + (sub.xsize - 1) / 2.0
        y = sub.ystart - 1 + (sub.ysize - 1) / 2.0
    v2, v3 = distortion_model(det)(x, y)
    return float(x), float(y), float(v2), float(v3)


def default_attitude(det: DetectorInfo, sub: Subarray, ra: float = 53.16,
                     dec: float = -27.79, roll: float = 45.0) -> Attitude:
    """Attitude putting (ra, dec) at the aperture reference point with ROLL_REF ``roll``."""
    _, _, v2, v3 = aperture_reference(det, sub)
    return Attitude(v2, v3, float(ra), float(dec), float(roll))


def true_wcs(det: DetectorInfo, sub: Subarray, attitude: Attitude, filter_name: str | None = None):
    """The gwcs of exposure pixels (0-based, subarray) -> sky for ``attitude``."""
    offset = filter_offsets(det).get(filter_name) if filter_name else None
    return imaging_wcs(distortion_model(det), attitude.wcsinfo(),
                       subarray_origin=(sub.xstart, sub.ystart), filter_offset=offset,
                       bounding_box=((-0.5, sub.xsize - 0.5), (-0.5, sub.ysize - 0.5)))


@dataclass
class ExposureSetup:
    """Everything that defines one simulated exposure (resolved and validated)."""

    det: DetectorInfo
    sub: Subarray
    filter_name: str
    filter_keyword: str
    pupil_keyword: str
    readpatt: str
    nframes: int
    groupgap: int
    ngroups: int
    nints: int
    drop_frames1: int
    nresets_at_start: int
    nresets_between_ints: int
    timing: dict
    read_pattern: list
    commanded: Attitude
    true: Attitude
    pointing_error: tuple
    dither_offset: tuple
    scene: Scene
    sky_offset: float
    effects: Effects
    seed: int
    start_time: Time
    ids: dict


@dataclass
class SimulatedExposure:
    """The raw arrays of a simulated exposure and its truth."""

    setup: ExposureSetup
    data: np.ndarray          # uint16 (nints, ngroups, ny, nx)
    refout: np.ndarray | None  # uint16 MIRI reference output
    truth: Truth


def setup_exposure(*, instrument=None, detector="NRCA1", subarray="FULL", readpatt=None,
                   ngroups=5, nints=1, filter=None, scene=None, attitude=None, ra=53.16,
                   dec=-27.79, roll=45.0, pointing_error=(0.0, 0.0, 0.0), dither_offset=(0.0, 0.0),
                   sky_offset=0.0, effects=None, seed=0, start_time=None, program=1234,
                   observation=1, visit=1, visit_group=1, parallel=1, activity=1,
                   exposure=1, dither_applied=False) -> ExposureSetup:
    """Resolve and validate the description of one exposure.

    See :func:`photoncal.sim.simulate_exposure` for the parameters.
    ``attitude`` (an :class:`Attitude`) overrides ``ra``/``dec``/``roll``;
    ``pointing_error`` is ``(d_east, d_north)`` arcsec or
    ``(d_east, d_north, d_roll_deg)``; ``dither_offset`` is an ideal-frame
    offset in arcsec applied to the commanded attitude (only recorded when
    ``dither_applied``: the attitude already includes the slew).
    """
    det = get_detector(detector, instrument)
    sub = get_subarray(det.instrument, subarray)
    if readpatt is None:
        readpatt = {"NIRCAM": "RAPID", "NIRISS": "NISRAPID", "FGS": "FGSRAPID", "MIRI": "FAST"}[det.instrument]
    pattern = get_readout_pattern(det.instrument, readpatt)
    ngroups = int(ngroups)
    nints = int(nints)
    if ngroups < 1 or nints < 1:
        raise ValueError(f"ngroups and nints must be >= 1, got ngroups={ngroups}, nints={nints}")
    if ngroups > pattern.max_ngroups:
        raise ValueError(
            f"READPATT {pattern.name} allows at most {pattern.max_ngroups} groups, got {ngroups}"
        )
    filt = get_filter(det.instrument, filter if filter is not None else default_filter(det))
    check_filter_detector(det, filt)
    tframe = frame_time(det, sub, pattern.name)
    nresets_at_start = 1
    nresets_between = 1
    drop_frames1 = 0
    timing = exposure_timing(tframe, pattern, ngroups, nints, nresets_at_start,
                             nresets_between, drop_frames1)
    read_pattern = jwst_read_pattern(pattern.nframes, pattern.groupgap, ngroups, nskip=drop_frames1)

    if attitude is None:
        attitude = default_attitude(det, sub, ra, dec, roll)
    else:
        _, _, v2, v3 = aperture_reference(det, sub)
        attitude = attitude.at(v2, v3)
    commanded = attitude
    if dither_offset is not None and any(dither_offset) and not dither_applied:
        dx, dy = dither_offset
        ang = math.radians(det.v3_idl_yang)
        dv2 = det.vparity * dx * math.cos(ang) + dy * math.sin(ang)
        dv3 = -det.vparity * dx * math.sin(ang) + dy * math.cos(ang)
        commanded = commanded.slew(dv2, dv3)
    err = tuple(float(v) for v in pointing_error) + (0.0,) * (3 - len(pointing_error))
    true = commanded.perturbed(*err)

    if scene is None:
        scene = make_scene(commanded.ra_ref, commanded.dec_ref,
                           radius=0.75 * max(sub.xsize, sub.ysize) * det.pixel_scale,
                           seed=_component_seed(seed, "scene"))
    if start_time is None:
        start = Time(DEFAULT_START, scale="utc")
    else:
        start = Time(start_time, scale="utc")
    ids = {"program": int(program), "observation": int(observation), "visit": int(visit),
           "visit_group": int(visit_group), "parallel": int(parallel), "activity": int(activity),
           "exposure": int(exposure)}
    return ExposureSetup(
        det=det, sub=sub, filter_name=filt.name, filter_keyword=filt.filter,
        pupil_keyword=filt.pupil, readpatt=pattern.name, nframes=pattern.nframes,
        groupgap=pattern.groupgap, ngroups=ngroups, nints=nints, drop_frames1=drop_frames1,
        nresets_at_start=nresets_at_start, nresets_between_ints=nresets_between, timing=timing,
        read_pattern=read_pattern, commanded=commanded, true=true, pointing_error=err,
        dither_offset=tuple(float(v) for v in (dither_offset or (0.0, 0.0))), scene=scene,
        sky_offset=float(sky_offset), effects=Effects.coerce(effects), seed=int(seed),
        start_time=start, ids=ids,
    )


def _ipc_convolve(image: np.ndarray, kernel: np.ndarray, refmask: np.ndarray) -> np.ndarray:
    """Convolve the science region of ``image`` with ``kernel`` (zero outside it)."""
    rows = np.nonzero(~refmask.all(axis=1))[0]
    cols = np.nonzero(~refmask.all(axis=0))[0]
    out = np.array(image, dtype=np.float64, copy=True)
    if rows.size == 0 or cols.size == 0:
        return out
    ys = slice(rows[0], rows[-1] + 1)
    xs = slice(cols[0], cols[-1] + 1)
    out[ys, xs] = convolve2d(image[ys, xs], kernel, mode="same", boundary="fill", fillvalue=0.0)
    return out


_CR_DTYPE = [("event", "<i4"), ("integration", "<i4"), ("frame", "<i4"), ("group", "<i4"),
             ("y", "<i4"), ("x", "<i4"), ("electrons", "<f8")]


def _cosmic_rays(setup: ExposureSetup, refmask: np.ndarray, ipc_kernel) -> np.ndarray:
    """Random cosmic-ray deposits, one row per affected pixel.

    Events hit the science pixels uniformly in time (arriving before the read
    of a random frame) and space, at ``cosmic_ray_rate`` per cm^2 per second.
    Each deposits a log-normal charge (median 1500 e-, tail to 2e5 e-); 40 %
    of them spread 0-12 % of it into each of the 4 side neighbours, and IPC
    (when on) couples every deposit to its 3x3 neighbourhood.
    """
    det, sub = setup.det, setup.sub
    rng = _rng(setup.seed, "cosmic_rays")
    ny, nx = sub.ysize, sub.xsize
    area_cm2 = ny * nx * (det.pixel_size_um * 1e-4) ** 2
    last_read = setup.read_pattern[-1][-1]
    t_int = last_read * setup.timing["frame_time"]
    counts = rng.poisson(setup.effects.cosmic_ray_rate * area_cm2 * t_int, size=setup.nints)
    n = int(counts.sum())
    integ = np.repeat(np.arange(setup.nints), counts)
    ys = rng.integers(0, ny, n)
    xs = rng.integers(0, nx, n)
    frames = rng.integers(1, last_read + 1, n)
    electrons = np.minimum(rng.lognormal(math.log(1500.0), 1.0, n), 2.0e5)
    spread = rng.uniform(0.0, 0.12, n) * (rng.uniform(size=n) < 0.4)
    keep = ~refmask[ys, xs]
    integ, ys, xs, frames, electrons, spread = (a[keep] for a in (integ, ys, xs, frames, electrons, spread))
    n = ys.size
    if n == 0:
        return np.zeros(0, dtype=_CR_DTYPE)
    # The five deposits of each event: core and side neighbours.
    base_dy = np.array([0, 0, 0, 1, -1])
    base_dx = np.array([0, 1, -1, 0, 0])
    base_e = np.column_stack([electrons * (1 - 4 * spread)] + [electrons * spread] * 4)
    if ipc_kernel is not None:
        ky, kx = np.mgrid[-1:2, -1:2]
        dy = (base_dy[:, None] + ky.ravel()[None]).ravel()
        dx = (base_dx[:, None] + kx.ravel()[None]).ravel()
        e = (base_e[:, :, None] * ipc_kernel.ravel()[None, None]).reshape(n, -1)
    else:
        dy, dx, e = base_dy, base_dx, base_e
    # Merge the deposits of one event on one pixel (offsets within +-2).
    code = (np.arange(n)[:, None] * 25 + (dy + 2)[None] * 5 + (dx + 2)[None]).ravel()
    summed = np.bincount(code, weights=e.ravel(), minlength=n * 25)
    hit = np.nonzero(summed > 0)[0]
    event = hit // 25
    y = ys[event] + (hit % 25) // 5 - 2
    x = xs[event] + hit % 5 - 2
    inside = (y >= 0) & (y < ny) & (x >= 0) & (x < nx)
    inside[inside] &= ~refmask[y[inside], x[inside]]
    hit, event, y, x = hit[inside], event[inside], y[inside], x[inside]
    out = np.zeros(hit.size, dtype=_CR_DTYPE)
    out["event"] = event + 1
    out["integration"] = integ[event]
    out["frame"] = frames[event]
    out["y"] = y
    out["x"] = x
    out["electrons"] = summed[hit]
    return out


def _amplifier_offsets(setup: ExposureSetup, parity_count: int = 2) -> np.ndarray:
    """Group-averaged amplifier offsets (nints, ngroups, 4, 2) in DN."""
    eff = setup.effects
    nints, ngroups = setup.nints, setup.ngroups
    out = np.zeros((nints, ngroups, 4, parity_count))
    if not eff.refpix_offsets:
        return out
    rng = _rng(setup.seed, "amplifier_offsets")
    base = rng.normal(0.0, _AMP_OFFSET_SIGMA, size=(4, 1)) + rng.normal(
        0.0, _PARITY_OFFSET_SIGMA, size=(4, parity_count))
    drift = rng.normal(0.0, _AMP_DRIFT_SIGMA, size=(4, 1))
    tframe = setup.timing["frame_time"]
    int_duration = setup.timing["integration_duration"]
    frames_per_int = setup.read_pattern[-1][-1]
    for i in range(nints):
        t0 = setup.nresets_at_start * tframe + i * int_duration
        # Offsets of every frame of the integration (1-based frame k at t0 + k tframe).
        t = t0 + tframe * np.arange(1, frames_per_int + 1)
        frame_offsets = base[None] + drift[None] * t[:, None, None]
        if eff.read_noise:
            frame_offsets = frame_offsets + rng.normal(0.0, _AMP_JITTER_SIGMA,
                                                       size=frame_offsets.shape)
        for g, reads in enumerate(setup.read_pattern):
            out[i, g] = frame_offsets[np.asarray(reads) - 1].mean(axis=0)
    return out


def simulate_arrays(setup: ExposureSetup, keep_ramp: bool = False) -> SimulatedExposure:
    """Run the signal chain of one exposure; return raw uint16 arrays and the truth."""
    det, sub, eff = setup.det, setup.sub, setup.effects
    # The detector's properties over this subarray: the arrays the reference files hold.
    props = detector_properties(det.name, sub.name)
    ny, nx = sub.ysize, sub.xsize
    cut = np.asarray
    refmask = reference_pixel_mask(det, sub)
    filt = get_filter(det.instrument, setup.filter_name)
    conversion = photmjsr_of(det, filt)
    pixar = props.pixar_sr
    area = cut(props.area).astype(np.float64)
    gain = cut(props.gain).astype(np.float64)

    # -- scene: DN/s before the pixel response --------------------------------
    sky_sb = setup.scene.sky_background
    if sky_sb is None:
        sky_sb = sky_surface_brightness(det, filt)
    sky_sb = float(sky_sb) + setup.sky_offset
    scene_dn = np.zeros((ny, nx))
    if eff.sky:
        scene_dn += sky_sb * area / conversion
    wcs = true_wcs(det, sub, setup.true, setup.filter_name)
    dn_per_jy = electrons_per_jansky(filt) / det.gain
    psf = airy_psf(filt.pivot_um)
    if eff.sources and setup.scene.sources.size:
        source_dn, placed = render_scene(setup.scene, wcs, (ny, nx), dn_per_jy, psf)
        scene_dn += source_dn
    else:
        _, placed = render_scene(Scene(), wcs, (ny, nx), dn_per_jy, psf)
    scene_dn[refmask] = 0.0

    response = np.ones((ny, nx))
    if eff.flat:
        response *= cut(props.response)
    if eff.bad_pixels:
        response *= cut(props.bad_pixel_response)
    rate = scene_dn * response
    flat = response * area
    flat[refmask] = 1.0
    if eff.bad_pixels:
        flat[cut(props.dead)] = 1.0

    dark_e = np.zeros((ny, nx))
    if eff.dark:
        dark_e = cut(props.dark_rate).astype(np.float64)
        if not eff.bad_pixels:
            special = cut(props.hot) | cut(props.warm)
            dark_e = np.where(special, det.dark_current, dark_e)
        dark_e[refmask] = 0.0
    dark_dn = dark_e / gain

    rate_e = (rate + dark_dn) * gain
    rate_ipc = None
    ipc_kernel = None
    charge_variance = None
    if eff.ipc:
        ipc_kernel = props.ipc_forward
        # IPC couples the collected (noisy) charge: a pixel sees sum(k q) of
        # independent Poisson q, mean sum(k r) and variance sum(k**2 r).
        coupled_variance = _ipc_convolve(np.maximum(rate_e, 0.0), np.square(ipc_kernel), refmask)
        rate_e = _ipc_convolve(rate_e, ipc_kernel, refmask)
        rate_ipc = (rate_e / gain - dark_dn).astype(np.float32)
        rate_ipc[refmask] = 0.0
        charge_variance = np.ones_like(rate_e)
        np.divide(coupled_variance, rate_e, out=charge_variance, where=(rate_e > 0) & (coupled_variance > 0))
    rate_e = np.maximum(rate_e, 0.0)

    # -- ramps --------------------------------------------------------------
    cosmic = _cosmic_rays(setup, refmask, ipc_kernel) if eff.cosmic_rays else None
    bias = cut(props.superbias).astype(np.float64) if eff.superbias else np.full((ny, nx), det.bias)
    clip = None
    if eff.saturation:
        clip = bias + cut(props.full_well)
        clip[refmask] = 65535.0
        clip = np.minimum(clip, 65535.0)
    coeffs = cut(props.linearity_signal) if eff.nonlinearity else None
    read_noise = cut(props.readnoise) / math.sqrt(2.0) if eff.read_noise else 0.0
    sim = simulate_ramps(
        rate_e, frame_time=setup.timing["frame_time"], read_pattern=setup.read_pattern,
        nints=setup.nints, gain=gain, read_noise=read_noise, bias=bias, nonlinearity=coeffs,
        saturation=clip,
        cosmic_rays=None if cosmic is None or cosmic.size == 0 else np.stack(
            [cosmic["integration"], cosmic["frame"], cosmic["y"], cosmic["x"], cosmic["electrons"]],
            axis=1).astype(np.float64),
        poisson=eff.poisson, seed=_component_seed(setup.seed, "ramps"), charge_variance=charge_variance,
    )
    data = sim.data
    if cosmic is not None and cosmic.size:
        # simulate_ramps sorts its table; recover each deposit's group from the read pattern.
        last_reads = np.array([reads[-1] for reads in setup.read_pattern])
        group = np.searchsorted(last_reads, cosmic["frame"], side="left")
        cosmic["group"] = np.where(group < len(last_reads), group, -1)

    # -- electronics -------------------------------------------------------------
    amps, parity = amplifier_parity_maps(det.name, sub.name)
    offsets = _amplifier_offsets(setup)
    if eff.refpix_offsets:
        for i in range(setup.nints):
            for g in range(setup.ngroups):
                data[i, g] += offsets[i, g][amps, parity].astype(np.float32)

    miri_additive = None
    if det.is_miri and (eff.reset_anomaly or eff.rscd or eff.first_last_frame):
        miri_additive = _miri_effects(setup, props, data, bias, parity)
        data += miri_additive

    divisor = frame_divisor(setup.nframes)
    if divisor != setup.nframes:
        # The onboard frame sum is divided by FRMDIVSR, not NFRAMES.
        data *= np.float32(setup.nframes / divisor)

    ramp = data.copy() if keep_ramp else None
    np.rint(data, out=data)
    np.clip(data, 0, 65535, out=data)
    raw = data.astype(np.uint16)
    clipped_group = sim.saturated_group
    del data, sim

    threshold = cut(props.saturation)
    above = raw > threshold[None, None]
    saturated_group = np.where(above.any(axis=1), above.argmax(axis=1), -1).astype(np.int16)

    refout = None
    if det.is_miri:
        refout = _miri_refout(setup, props, offsets)

    truth = _make_truth(setup, props, rate, rate_ipc, flat, dark_dn, saturated_group,
                        clipped_group, cosmic, offsets, amps, parity, placed,
                        miri_additive, ramp, conversion, pixar, sky_sb)
    return SimulatedExposure(setup, raw, refout, truth)


def _miri_effects(setup, props, data, bias, parity) -> np.ndarray:
    """Raw DN added by the MIRI reset anomaly, RSCD and first/last-frame effects."""
    eff = setup.effects
    cut = np.asarray
    nints, ngroups = setup.nints, setup.ngroups
    extra = np.zeros(data.shape, dtype=np.float32)
    if eff.reset_anomaly:
        reset = cut(props.reset_anomaly)
        for i in range(nints):
            ri = min(i, RESET_NINTS - 1)
            n = min(ngroups, RESET_NGROUPS)
            extra[i, :n] += reset[ri, :n]
    if eff.rscd and nints > 1 and ngroups >= 3:
        params = props.rscd_parameters
        tau = np.where(parity == 0, params["EVEN"]["tau"], params["ODD"]["tau"])
        scale = np.where(parity == 0, params["EVEN"]["scale"], params["ODD"]["scale"])
        last_reads = np.array([reads[-1] for reads in setup.read_pattern], dtype=np.float64)
        for i in range(1, nints):
            prev = data[i - 1].astype(np.float64)
            # The previous ramp's last group, extrapolated from the two before it.
            last = prev[-2] + (prev[-2] - prev[-3])
            accumulated = np.maximum(last - prev[0], 0.0)
            for g in range(ngroups):
                frames_since = setup.nresets_between_ints + last_reads[g]
                extra[i, g] -= (accumulated * scale * np.exp(-frames_since / tau)).astype(np.float32)
    if eff.first_last_frame and ngroups > 1:
        first = cut(props.first_frame_offset)
        lf = props.last_frame_parameters
        offset = np.where(parity == 0, lf["EVEN"][0], lf["ODD"][0])
        fraction = np.where(parity == 0, lf["EVEN"][1], lf["ODD"][1])
        for i in range(nints):
            extra[i, 0] += first
            signal = np.maximum(data[i, -1].astype(np.float64) - data[i, 0], 0.0)
            extra[i, -1] -= (offset + fraction * signal).astype(np.float32)
    return extra


def _miri_refout(setup, props, offsets) -> np.ndarray:
    """The MIRI reference output: (nints, ngroups, ysize // 4, xsize) uint16."""
    level = props.refout_bias
    rng = _rng(setup.seed, "refout")
    out = np.empty((setup.nints, setup.ngroups) + level.shape, dtype=np.float32)
    for i in range(setup.nints):
        for g in range(setup.ngroups):
            out[i, g] = level + offsets[i, g].mean()
    if setup.effects.read_noise:
        out += rng.normal(0.0, setup.det.readnoise_cds / math.sqrt(2.0), size=out.shape).astype(np.float32)
    return np.clip(np.rint(out), 0, 65535).astype(np.uint16)


def _make_truth(setup, props, rate, rate_ipc, flat, dark_dn, saturated_group, clipped_group,
                cosmic, offsets, amps, parity, placed, miri_additive, ramp, conversion, pixar,
                sky_sb) -> Truth:
    det, sub = setup.det, setup.sub
    scene_src = setup.scene.sources
    src_dtype = [("id", "<i8"), ("ra", "<f8"), ("dec", "<f8"), ("flux", "<f8"), ("abmag", "<f8"),
                 ("type", "U6"), ("x", "<f8"), ("y", "<f8"), ("flux_dn", "<f8"), ("on_image", "?")]
    sources = np.zeros(placed.size, dtype=src_dtype)
    if placed.size:
        index = {int(i): k for k, i in enumerate(scene_src["id"])}
        rows = scene_src[[index[int(i)] for i in placed["id"]]]
        for name in ("id", "ra", "dec", "flux", "type"):
            sources[name] = rows[name]
        sources["abmag"] = jy_to_abmag(rows["flux"])
        for name in ("x", "y", "flux_dn", "on_image"):
            sources[name] = placed[name]
    if not setup.effects.sources:
        sources = sources[:0]
    rate32 = rate.astype(np.float32)
    subinfo = {"name": sub.name, "xstart": sub.xstart, "ystart": sub.ystart,
               "xsize": sub.xsize, "ysize": sub.ysize}
    filt_offset = filter_offsets(det).get(setup.filter_name, (0.0, 0.0))
    cr = cosmic if cosmic is not None else np.zeros(0, dtype=_CR_DTYPE)
    return Truth(
        filename=exposure_filename(**setup.ids, detector=det.name),
        instrument=det.instrument, detector=det.name, filter=setup.filter_keyword,
        pupil=setup.pupil_keyword, exp_type=det.exp_type, readpatt=setup.readpatt,
        subarray=subinfo, nframes=setup.nframes, groupgap=setup.groupgap,
        ngroups=setup.ngroups, nints=setup.nints, drop_frames1=setup.drop_frames1,
        frame_divisor=frame_divisor(setup.nframes), frame_time=setup.timing["frame_time"],
        group_time=setup.timing["group_time"], read_pattern=setup.read_pattern,
        seed=setup.seed, effects=setup.effects.to_dict(),
        commanded_pointing=setup.commanded.wcsinfo(), true_pointing=setup.true.wcsinfo(),
        pointing_error={"d_east": setup.pointing_error[0], "d_north": setup.pointing_error[1],
                        "d_roll": setup.pointing_error[2]},
        dither_offset=setup.dither_offset, filter_offset=tuple(filt_offset),
        photmjsr=float(conversion), pixar_sr=float(pixar), sky_background=float(sky_sb),
        sky_offset=setup.sky_offset, rate=rate32, rate_ipc=rate_ipc,
        flat=flat.astype(np.float32), dark_rate=dark_dn.astype(np.float32),
        saturated_group=saturated_group, clipped_group=np.asarray(clipped_group, dtype=np.int16),
        cosmic_rays=cr, refpix_offsets=offsets, amplifier=amps.astype(np.int8),
        parity=parity.astype(np.int8), sources=sources, miri_additive=miri_additive, ramp=ramp,
    )
