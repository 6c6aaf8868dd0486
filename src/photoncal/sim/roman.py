"""Simulated Roman WFI exposures and reference files with a known truth.

:func:`simulate_roman_exposure` writes a level-1 raw exposure
(``r..._uncal.asdf``, a Roman ``ScienceRawModel``: resultants of a
multi-accumulation (MA) table on a 4096 x 4096 detector with its 4-pixel
reference border, plus the 128-column ``amp33`` reference output) and returns
the truth it was made from; :func:`ensure_roman_reference_set` writes the
reference files that undo exactly what the simulator did, in the default
reference directory (:func:`photoncal.config.default_reference_dir`) under
``roman/``.  :func:`simulate_and_calibrate_roman` does both and runs the
exposure pipeline (the demo).

The signal chain reuses the JWST simulator's parts: the scene and its
rendering through the WCS (:mod:`photoncal.sim.scene`, an obscured-aperture
PSF of the 2.36 m telescope from :mod:`photoncal.sim.psf`), the per-pixel
detector properties (:class:`photoncal.sim.detector.DetectorProperties` on
a WFI description), the distortion builder, the cosmic-ray events and the
ramp simulator (:func:`photoncal.sim.ramps.simulate_ramps`, with the
non-linearity applied read by read).  Roman specifics added here:

* detectors WFI01-18 (0.11"/pixel, V2/V3 layout close to the real one, not
  copied from the SIAF), frame (read) time 3.04 s, MA tables (default: 9
  resultants from 44 reads);
* ``size``: a smaller square detector for tests (science pixels per side;
  ``size + 8`` must be a multiple of the 128-column channel width);
  such exposures and their references carry ``meta.subarray.name =
  SIM<size>`` (photoncal's, kept outside the Roman tree) so reference
  selection keeps them apart from full-detector ones;
* correlated read noise the reference-pixel correction removes: a noise
  common to every channel and to amp33 at the same time in the read
  sequence, and per-channel offsets drifting linearly in time (seen by the
  reference rows); the REFPIX reference holds weights that subtract amp33;
* the LINEARITY reference maps raw DN (bias included) to linear DN above
  the bias, and INVERSELINEARITY the reverse, as the Roman steps apply them.
"""

from __future__ import annotations

import math
import os
import types
import zlib
from dataclasses import dataclass, field

import numpy as np

from photoncal.config import SIMULATED_ORIGIN, default_reference_dir

__all__ = [
    "FRAME_TIME",
    "BORDER",
    "CHANNEL_WIDTH",
    "MA_TABLES",
    "WFI_DETECTORS",
    "ROMAN_FILTERS",
    "RomanTruth",
    "ma_table",
    "wfi_detector_info",
    "wfi_science_info",
    "roman_subarray_name",
    "roman_properties",
    "roman_distortion",
    "roman_photmjsr",
    "ensure_roman_reference_set",
    "roman_reference_directory",
    "simulate_roman_exposure",
    "simulate_and_calibrate_roman",
    "load_roman_truth",
    "linearity_raw",
]

#: Time between reads (s).
FRAME_TIME = 3.04
#: Reference-pixel border width on every side.
BORDER = 4
#: Columns per readout channel; 32 channels and amp33 (the 33rd, reference output).
CHANNEL_WIDTH = 128
#: Columns of padding (idle read time) after every channel row, as the refpix correction models it.
CHANNEL_PAD = 12
#: Full detector size.
FULL_SIZE = 4096
#: Pixel scale (arcsec).
PIXEL_SCALE = 0.11
#: Collecting area of the 2.36 m telescope with its obscuration (m^2).
ROMAN_AREA = 3.94
#: Primary diameter (m) and linear central obscuration of the simulated pupil.
ROMAN_DIAMETER = 2.36
ROMAN_OBSCURATION = 0.32


@dataclass(frozen=True)
class MATable:
    """A multi-accumulation table: which 1-based reads make each resultant."""

    number: int
    name: str
    read_pattern: tuple

    @property
    def nreads(self) -> int:
        return self.read_pattern[-1][-1]


def _pattern(counts):
    out, read = [], 1
    for n in counts:
        out.append(tuple(range(read, read + n)))
        read += n
    return tuple(out)


#: MA tables by number.  Table 1 (the default) has 9 resultants from 44 reads.
MA_TABLES = {
    1: MATable(1, "PHOTONCAL_SIM_9R44", _pattern([1, 2, 4, 6, 6, 6, 6, 6, 7])),
    2: MATable(2, "PHOTONCAL_SIM_6R16", _pattern([1, 1, 2, 4, 4, 4])),
    3: MATable(3, "PHOTONCAL_SIM_12R36", _pattern([1] + [3] * 10 + [5])),
}


def ma_table(table=None) -> MATable:
    """The MA table given by number, name or read pattern (default: table 1)."""
    if table is None:
        return MA_TABLES[1]
    if isinstance(table, MATable):
        return table
    if isinstance(table, (int, np.integer)):
        if int(table) not in MA_TABLES:
            raise ValueError(f"unknown MA table number {table}; expected one of {sorted(MA_TABLES)}")
        return MA_TABLES[int(table)]
    if isinstance(table, str):
        for entry in MA_TABLES.values():
            if entry.name == table.upper():
                return entry
        raise ValueError(f"unknown MA table {table!r}; expected one of {[t.name for t in MA_TABLES.values()]}")
    pattern = tuple(tuple(int(r) for r in reads) for reads in table)
    return MATable(0, "CUSTOM", pattern)


def _layout():
    # Three rows of six detectors in an arc below the boresight, numbered as
    # the WFI (columns of three, left to right).
    positions = {}
    step_v2, step_v3 = 520.0, 510.0
    for index in range(18):
        col, row = divmod(index, 3)
        v2 = (col - 2.5) * step_v2
        v3 = -1800.0 - (row - 1) * step_v3 + 0.012 * v2 ** 2 / 100.0
        positions[f"WFI{index + 1:02d}"] = (round(v2, 3), round(v3, 3))
    return positions


#: V2/V3 (arcsec) of the centre of every detector.
WFI_DETECTORS = _layout()
#: V3 angle of the detector y axis (deg) and parity, as the WFI apertures.
V3_IDL_YANG = -60.0
VPARITY = -1

#: Filters: (pivot wavelength um, bandwidth um, mean throughput).
ROMAN_FILTERS = {
    "F062": (0.620, 0.280, 0.55),
    "F087": (0.869, 0.217, 0.60),
    "F106": (1.060, 0.265, 0.65),
    "F129": (1.293, 0.320, 0.68),
    "F146": (1.464, 1.030, 0.70),
    "F158": (1.577, 0.395, 0.70),
    "F184": (1.842, 0.317, 0.70),
    "F213": (2.125, 0.350, 0.65),
}

_FILE_DATE = "2024-06-01T00:00:00.000"
_USEAFTER = "2020-01-01T00:00:00.000"
#: Version of the reference generator (file names carry it).
REFERENCE_SET_VERSION = 1


# ----------------------------------------------------------------------
# geometry and detector properties
# ----------------------------------------------------------------------
def _check_size(size):
    if size is None:
        return FULL_SIZE - 2 * BORDER
    size = int(size)
    full = size + 2 * BORDER
    if size < 8 or full > FULL_SIZE or full % CHANNEL_WIDTH:
        raise ValueError(
            f"size (science pixels per side) must make size + {2 * BORDER} a multiple of {CHANNEL_WIDTH} "
            f"up to {FULL_SIZE - 2 * BORDER} (e.g. 248, 504, 1016, 4088); got {size}"
        )
    return size


def roman_subarray_name(size) -> str | None:
    """photoncal's name of a small simulated detector (``SIM248``); None at full size."""
    size = _check_size(size)
    return None if size == FULL_SIZE - 2 * BORDER else f"SIM{size}"


def wfi_detector_info(detector="WFI01", size=None):
    """A :class:`~photoncal.sim.instruments.DetectorInfo` of a WFI detector (array with its border).

    ``size`` is the number of science pixels per side (default 4088, the real detector).
    """
    from photoncal.sim.instruments import DetectorInfo

    detector = str(detector).upper()
    if detector not in WFI_DETECTORS:
        raise ValueError(f"unknown WFI detector {detector!r}; expected WFI01 ... WFI18")
    size = _check_size(size)
    full = size + 2 * BORDER
    v2, v3 = WFI_DETECTORS[detector]
    return DetectorInfo(
        instrument="WFI", name=detector, exp_type="WFI_IMAGE", shape=(full, full),
        refpix=(BORDER, BORDER, BORDER, BORDER), pixel_scale=PIXEL_SCALE, v2_ref=v2, v3_ref=v3,
        v3_idl_yang=V3_IDL_YANG, vparity=VPARITY, x_ref=(full - 1) / 2.0, y_ref=(full - 1) / 2.0,
        fastaxis=1, slowaxis=2, namps=4, gain=1.9, readnoise_cds=5.0, dark_current=0.01, bias=8000.0,
        full_well=52000.0, pixel_size_um=10.0, ipc_alpha=0.0, ipc_beta=0.0, distortion=0.006,
    )


def wfi_science_info(detector="WFI01", size=None):
    """The DetectorInfo of the science pixels only: the frame of the DISTORTION reference."""
    from dataclasses import replace

    info = wfi_detector_info(detector, size)
    n = info.shape[0] - 2 * BORDER
    return replace(info, shape=(n, n), refpix=(0, 0, 0, 0), x_ref=(n - 1) / 2.0, y_ref=(n - 1) / 2.0)


def roman_distortion(detector="WFI01", size=None):
    """Science pixels (0-based, border excluded) -> V2/V3 (arcsec), with its inverse."""
    from photoncal.sim.distortion import distortion_model

    return distortion_model(wfi_science_info(detector, size))


def roman_properties(detector="WFI01", size=None):
    """The per-pixel properties of a simulated WFI detector (the arrays the references hold)."""
    from photoncal.sim.detector import DetectorProperties
    from photoncal.sim.instruments import Subarray

    info = wfi_detector_info(detector, size)
    n = info.shape[0]
    return DetectorProperties(info, region=Subarray("FULL", 1, 1, n, n, 4))


def _pixel_area(detector, size):
    from photoncal.sim.distortion import pixel_area_map

    return pixel_area_map(wfi_science_info(detector, size))


def _electrons_per_jansky(optical_element):
    pivot, width, throughput = ROMAN_FILTERS[optical_element]
    return 1e-26 * ROMAN_AREA * throughput * (width / pivot) / 6.62607015e-34


def roman_photmjsr(detector="WFI01", optical_element="F158", size=None) -> float:
    """MJy/sr per DN/s of a WFI detector through a filter (the PHOTOM value)."""
    info = wfi_detector_info(detector, size)
    _area, pixar = _pixel_area(detector, size)
    dn_per_jy = _electrons_per_jansky(optical_element) / info.gain
    return float(1e-6 / (dn_per_jy * pixar))


def _default_sky_rate(optical_element) -> float:
    """Zodiacal light, electrons/s per pixel."""
    pivot, width, _t = ROMAN_FILTERS[optical_element]
    return 0.35 * (width / 0.395) * (1.0 + 0.2 * (pivot - 1.577))


def _channel_maps(ny, nx):
    """Read-time index ``t`` (row * 140 + position in read order) and channel of every pixel."""
    x = np.arange(nx)
    channel = x // CHANNEL_WIDTH
    k = x % CHANNEL_WIDTH
    position = np.where(channel % 2 == 0, k, CHANNEL_WIDTH - 1 - k)
    t = np.arange(ny)[:, None] * (CHANNEL_WIDTH + CHANNEL_PAD) + position[None, :]
    return t.astype(np.int64), np.broadcast_to(channel, (ny, nx))


def _rng(seed, component):
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(component.encode())])


# ----------------------------------------------------------------------
# reference files
# ----------------------------------------------------------------------
def roman_reference_directory(directory=None):
    """Where the simulated Roman references go (``<default reference dir>/roman``)."""
    if directory is not None:
        return os.fspath(directory)
    return os.path.join(os.fspath(default_reference_dir()), "roman")


def _reference_path(directory, detector, reftype, size, qualifier=None):
    name = f"photoncal_sim_v{REFERENCE_SET_VERSION}_{detector.lower()}"
    sub = roman_subarray_name(size)
    if sub:
        name += f"_{sub.lower()}"
    name += f"_{reftype}"
    if qualifier:
        name += f"_{qualifier.lower()}"
    return os.path.join(directory, name + ".asdf")


def _ref_meta(model, detector, size, description, optical_element=None, exposure=False):
    meta = model.meta
    meta.pedigree = "SIMULATION"
    meta.author = "photoncal.sim.roman"
    meta.description = description
    meta.useafter = _USEAFTER
    meta.origin = SIMULATED_ORIGIN
    meta.telescope = "ROMAN"
    meta.instrument.name = "WFI"
    meta.instrument.detector = detector
    if optical_element:
        meta.instrument.optical_element = optical_element
    if exposure:
        meta.exposure.type = "WFI_IMAGE"
        meta.exposure.p_exptype = "WFI_IMAGE|WFI_FLAT|WFI_LOLO|WFI_WFSC|"
    sub = roman_subarray_name(size)
    if sub:
        model._instance["meta"]["subarray"] = {"name": sub}


def linearity_raw(props):
    """LINEARITY coefficients in powers of the raw value, bias included.

    The simulator's polynomial maps the signal above the bias to linear DN:
    ``sum c_i (raw - bias)**i``; re-expanded, ``sum c'_j raw**j`` applies to
    the raw data the Roman steps correct (no bias subtraction before it).
    """
    from photoncal.sim.detector import expand_about_zero

    return expand_about_zero(props.linearity_signal, props.superbias)


def _inverse_linearity(coeffs, bias, saturation):
    """Per-pixel polynomial (degree 5) of raw DN (bias included) vs linear DN above the bias:
    the inverse of the simulator's polynomial ``coeffs`` (signal above bias -> linear).

    Fitted by least squares at 24 linear levels common to every pixel, from 0 to
    the largest linear level 5 % beyond saturation: the raw level of each is
    found by Newton's method, and one pseudo-inverse serves all pixels.
    """
    ncoef = 6
    ny, nx = coeffs.shape[1:]
    c = coeffs.astype(np.float64)

    def forward(values, rows):
        out = np.zeros_like(values)
        for i in range(c.shape[0] - 1, -1, -1):
            out = out * values + c[i, rows]
        return out

    def newton_step(values, level, rows):
        """One Newton step toward forward(values) == level (value and slope in one Horner pass)."""
        value = np.zeros_like(values)
        slope = np.zeros_like(values)
        for i in range(c.shape[0] - 1, -1, -1):
            slope = slope * values + value
            value = value * values + c[i, rows]
        values -= (value - level) / slope

    everything = slice(None)
    top = (saturation.astype(np.float64) - bias.astype(np.float64)) * 1.05
    scale = float(np.max(forward(top, everything)))
    levels = np.linspace(0.0, scale, 24)
    design = np.stack([(levels / scale) ** k for k in range(ncoef)], axis=1)   # (24, ncoef)
    solve = np.linalg.pinv(design)                                             # (ncoef, 24)
    out = np.empty((ncoef, ny, nx), dtype=np.float32)
    block = 256
    for y0 in range(0, ny, block):
        rows = slice(y0, y0 + block)
        b = bias[rows].astype(np.float64)
        raw = np.empty((levels.size,) + b.shape)
        s_raw = np.zeros(b.shape)
        for k, level in enumerate(levels):
            # start from the previous level's root: a few steps converge (the curve is smooth)
            s_raw = s_raw * (level / levels[k - 1]) if k > 1 else np.full(b.shape, level)
            for _ in range(4):
                newton_step(s_raw, level, rows)
            raw[k] = s_raw + b
        sol = np.tensordot(solve, raw, axes=(1, 0))                            # (ncoef, rows, nx)
        for k in range(ncoef):
            out[k, rows] = (sol[k] / scale**k).astype(np.float32)
    return out


def ensure_roman_reference_set(detector="WFI01", *, size=None, optical_elements=("F158",), directory=None,
                               overwrite=False) -> dict:
    """Write (once) the reference files of one simulated WFI detector.

    Parameters
    ----------
    detector : str
        WFI01 ... WFI18.
    size : int, optional
        Science pixels per side of a small simulated detector (default: the
        full 4088).
    optical_elements : sequence of str
        Filters of the FLAT, AREA and DISTORTION files.
    directory : path, optional
        Default: ``roman/`` in the default reference directory.
    overwrite : bool
        Rewrite existing files.

    Returns
    -------
    dict
        reftype (with ``_<filter>`` for the per-filter types) -> path.
    """
    from photoncal.roman import datamodels as rdm
    from photoncal.roman import dqflags as rflags

    detector = str(detector).upper()
    size = _check_size(size)
    directory = roman_reference_directory(directory)
    os.makedirs(directory, exist_ok=True)
    out = {}
    props = None

    def need(key, path):
        out[key] = path
        return overwrite or not os.path.exists(path)

    def properties():
        nonlocal props
        if props is None:
            props = roman_properties(detector, size)
        return props

    full = size + 2 * BORDER
    path = _reference_path(directory, detector, "mask", size)
    if need("mask", path):
        p = properties()
        model = rdm.MaskRefModel()
        model.dq = p.mask_dq
        _ref_meta(model, detector, size, "Simulated bad pixels; the border is REFERENCE_PIXEL")
        model.save(path)
    path = _reference_path(directory, detector, "saturation", size)
    if need("saturation", path):
        p = properties()
        model = rdm.SaturationRefModel()
        model.data = p.saturation
        model.dq = np.zeros((full, full), np.uint32)
        _ref_meta(model, detector, size, "Simulated saturation level (raw DN, bias included)")
        model.save(path)
    path = _reference_path(directory, detector, "linearity", size)
    ipath = _reference_path(directory, detector, "inverselinearity", size)
    if need("linearity", path) | need("inverselinearity", ipath):
        p = properties()
        model = rdm.LinearityRefModel()
        model.coeffs = linearity_raw(p)
        model.dq = np.zeros((full, full), np.uint32)
        _ref_meta(model, detector, size, "Simulated non-linearity: raw DN (bias included) -> linear DN above bias")
        model.save(path)
        model = rdm.InverselinearityRefModel()
        model.coeffs = _inverse_linearity(p.linearity_signal, p.superbias, p.saturation_clip)
        model.dq = np.zeros((full, full), np.uint32)
        _ref_meta(model, detector, size, "Simulated inverse non-linearity: linear DN -> raw DN")
        model.save(ipath)
    path = _reference_path(directory, detector, "gain", size)
    if need("gain", path):
        model = rdm.GainRefModel()
        model.data = properties().gain
        _ref_meta(model, detector, size, "Simulated gain (electron/DN)")
        model.save(path)
    path = _reference_path(directory, detector, "readnoise", size)
    if need("readnoise", path):
        model = rdm.ReadnoiseRefModel()
        model.data = properties().readnoise
        _ref_meta(model, detector, size, "Simulated single-read noise (DN)", exposure=True)
        model.save(path)
    path = _reference_path(directory, detector, "dark", size)
    if need("dark", path):
        p = properties()
        model = rdm.DarkRefModel()
        model.dark_slope = p.dark_rate_dn.astype(np.float32)
        model.dark_slope_error = (0.01 * p.dark_rate_dn + 1e-4).astype(np.float32)
        dq = np.zeros((full, full), np.uint32)
        dq[p.hot] |= rflags.pixel["HOT"]
        dq[p.warm] |= rflags.pixel["WARM"]
        model.dq = dq
        _ref_meta(model, detector, size, "Simulated dark current (DN/s)", optical_element="F158", exposure=True)
        model.meta.instrument.optical_element = "F158"
        model.save(path)
    path = _reference_path(directory, detector, "refpix", size)
    if need("refpix", path):
        nfreq = (full * (CHANNEL_WIDTH + CHANNEL_PAD)) // 2 + 1
        length = full * (CHANNEL_WIDTH + CHANNEL_PAD)
        nchan = full // CHANNEL_WIDTH
        model = rdm.RefpixRefModel()
        model.gamma = np.zeros((nchan, nfreq), np.complex128)
        model.zeta = np.zeros((nchan, nfreq), np.complex128)
        # Subtract amp33 exactly: the correction multiplies by 2 (nfreq) = length + 2.
        model.alpha = np.full((nchan, nfreq), length / (length + 2.0), np.complex128)
        _ref_meta(model, detector, size, "Simulated refpix weights: subtract the amp33 common noise")
        model.save(path)
    for element in optical_elements:
        element = element.upper()
        path = _reference_path(directory, detector, "flat", size, element)
        if need(f"flat_{element}", path):
            p = properties()
            area, _pixar = _pixel_area(detector, size)
            inner = (slice(BORDER, -BORDER), slice(BORDER, -BORDER))
            flat = p.qe[inner].astype(np.float64) * area
            dead = p.dead[inner]
            flat[dead] = 1.0
            model = rdm.FlatRefModel()
            model.data = flat.astype(np.float32)
            dq = np.zeros(flat.shape, np.uint32)
            dq[dead] = rflags.pixel["NO_FLAT_FIELD"] | rflags.DO_NOT_USE
            model.dq = dq
            model.err = np.full(flat.shape, 1e-3, np.float32)
            _ref_meta(model, detector, size, "Simulated flat: response x relative pixel area", element)
            model.save(path)
        path = _reference_path(directory, detector, "area", size, element)
        if need(f"area_{element}", path):
            area, pixar = _pixel_area(detector, size)
            model = rdm.PixelareaRefModel()
            model.data = area.astype(np.float32)
            _ref_meta(model, detector, size, "Simulated relative pixel area", element)
            model.meta.photometry.pixelarea_steradians = pixar
            model.meta.photometry.pixelarea_arcsecsq = pixar * (180 / math.pi * 3600) ** 2
            model.save(path)
        path = _reference_path(directory, detector, "distortion", size, element)
        if need(f"distortion_{element}", path):
            from astropy import units as u
            from astropy.modeling import bind_bounding_box

            n = size
            transform = roman_distortion(detector, size)
            bind_bounding_box(transform, ((-0.5, n - 0.5), (-0.5, n - 0.5)), order="F")
            model = rdm.DistortionRefModel()
            model.coordinate_distortion_transform = transform
            _ref_meta(model, detector, size, "Simulated distortion: science pixels -> V2/V3 (arcsec)", element)
            model.meta.input_units = u.pixel.to_string()
            model.meta.output_units = u.arcsec.to_string()
            model.save(path)
    path = _reference_path(directory, detector, "photom", size)
    if need("photom", path):
        model = rdm.WfiImgPhotomRefModel()
        table = {}
        _area, pixar = _pixel_area(detector, size)
        for element, (pivot, width, _t) in ROMAN_FILTERS.items():
            wave = np.linspace(pivot - width / 2, pivot + width / 2, 5).astype(np.float32)
            table[element] = {
                "photmjsr": roman_photmjsr(detector, element, size),
                "uncertainty": 0.01 * roman_photmjsr(detector, element, size),
                "pixelareasr": pixar,
                "collecting_area": ROMAN_AREA,
                "wavelength": wave,
                "effective_area": np.full(5, ROMAN_AREA * ROMAN_FILTERS[element][2], np.float32),
            }
        wave = np.linspace(0.75, 1.95, 5).astype(np.float32)
        for element in ("GRISM", "PRISM"):
            table[element] = {"photmjsr": None, "uncertainty": None, "pixelareasr": None,
                              "collecting_area": ROMAN_AREA, "wavelength": wave,
                              "effective_area": np.full(5, ROMAN_AREA * 0.5, np.float32)}
        table["DARK"] = {"photmjsr": None, "uncertainty": None, "pixelareasr": None, "collecting_area": None,
                         "wavelength": None, "effective_area": None}
        model.phot_table = table
        _ref_meta(model, detector, size, "Simulated flux calibration (MJy/sr per DN/s)")
        model.save(path)
    return out


# ----------------------------------------------------------------------
# the exposure
# ----------------------------------------------------------------------
@dataclass
class RomanTruth:
    """What a simulated Roman exposure was made from (science pixels unless noted).

    Attributes
    ----------
    rate : ndarray (n, n)
        DN/s the ramp fit should measure: scene through the pixel response
        plus dark current.
    rate_cal : ndarray (n, n)
        DN/s of the calibrated image: ``(rate - dark) / flat``.
    dark, flat, gain : ndarray (n, n)
        Dark current (DN/s), flat field, gain (e-/DN).
    read_noise : ndarray (n, n)
        Single-read noise (DN).
    saturated_group : ndarray (n, n)
        First resultant with a saturated read, -1 if none.
    cosmic_rays : structured ndarray
        ``event, frame, y, x, electrons, resultant`` (science-pixel y, x).
    sources : structured ndarray
        ``id, ra, dec, flux (Jy), x, y (true science pixel), flux_dn (DN/s), type (point/sersic)``.
    read_pattern, frame_time, photmjsr, pixar_sr, commanded, true_pointing, seed
    """

    rate: np.ndarray
    rate_cal: np.ndarray
    dark: np.ndarray
    flat: np.ndarray
    gain: np.ndarray
    read_noise: np.ndarray
    saturated_group: np.ndarray
    cosmic_rays: np.ndarray
    sources: np.ndarray
    read_pattern: list
    frame_time: float
    photmjsr: float
    pixar_sr: float
    commanded: dict = field(default_factory=dict)
    true_pointing: dict = field(default_factory=dict)
    seed: int = 0

    def save(self, path):
        """Write the truth as ASDF (plain arrays and values)."""
        import asdf

        tree = {k: (np.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}
        tree["read_pattern"] = [list(map(int, r)) for r in self.read_pattern]
        asdf.AsdfFile({"roman_truth": tree}).write_to(path)
        return path


def load_roman_truth(path) -> RomanTruth:
    """Read a truth file written with the exposure."""
    import asdf

    with asdf.open(path, lazy_load=False) as af:
        tree = {k: (np.array(v) if hasattr(v, "dtype") else v) for k, v in af.tree["roman_truth"].items()}
    return RomanTruth(**tree)


def _default_scene(attitude, size, seed):
    from photoncal.sim.scene import make_scene

    radius = size * PIXEL_SCALE * 0.75
    n = max(10, int(60 * (size / 4088.0) ** 2 * 50))
    return make_scene(attitude.ra_ref, attitude.dec_ref, radius=radius, n_stars=n // 2, n_galaxies=n // 2,
                      mag_range=(18.0, 26.0), seed=seed)


def _correlated_noise(nreads, ny, rng, amplitude):
    """Noise common to all channels at each time of the read sequence (1/f-like), per read."""
    length = ny * (CHANNEL_WIDTH + CHANNEL_PAD)
    freq = np.fft.rfftfreq(length)
    shape = np.zeros_like(freq)
    shape[1:] = 1.0 / np.sqrt(freq[1:] * length)
    out = np.empty((nreads, length), dtype=np.float32)
    for r in range(nreads):
        spectrum = (rng.standard_normal(freq.size) + 1j * rng.standard_normal(freq.size)) * shape
        noise = np.fft.irfft(spectrum, n=length)
        out[r] = (amplitude * noise / max(noise.std(), 1e-30)).astype(np.float32)
    return out


def simulate_roman_exposure(detector="WFI01", optical_element="F158", *, size=None, ma_table_number=None,
                            read_pattern=None, scene=None, ra=80.0, dec=-69.5, roll=20.0,
                            pointing_error=(0.0, 0.0, 0.0), sky_rate=None, effects=None,
                            correlated_noise=2.0, channel_drift=1.5, seed=0, output_dir=".", filename=None,
                            reference_dir=None, write_references=True, start_time=None, exposure=1,
                            cosmic_rays=None, truth_file=True):
    """Simulate one Roman WFI exposure and write its ``_uncal.asdf`` (and reference files).

    Parameters
    ----------
    detector, optical_element : str
        WFI01-18; F062 ... F213.
    size : int, optional
        Science pixels per side (default 4088, the full detector; tests use
        248 for a 256 x 256 array).
    ma_table_number : int, optional
        MA table (:data:`MA_TABLES`, default 1: 9 resultants from 44 reads);
        or give ``read_pattern`` directly.
    scene : photoncal.sim.Scene, optional
        Sources and sky; default a random field of stars and galaxies.
    ra, dec, roll : float
        Commanded pointing of the detector centre (deg; roll = V3 position angle).
    pointing_error : (d_east, d_north, d_roll)
        True minus commanded pointing (arcsec, arcsec, deg).
    sky_rate : float, optional
        Sky background in electrons/s/pixel (default zodiacal light).
    effects : photoncal.sim.Effects, preset name or dict, optional
        Switches of the signal chain (``ipc``, ``reset_anomaly``, ``rscd``
        and ``first_last_frame`` do not apply to Roman).
    correlated_noise, channel_drift : float
        DN rms of the common (amp33-tracked) noise and of the per-channel
        offsets drifting along the read (with ``refpix_offsets``).
    seed : int
    output_dir : path or None
        Where the exposure goes; ``None`` returns the model instead of a path.
    reference_dir : path, optional
        Where the reference files go (default: the default reference directory).
    write_references : bool
        Write the reference set if missing.
    cosmic_rays : array (N, 5), optional
        Explicit hits ``(0, frame, y, x, electrons)`` in array pixels, replacing the random ones.

    Returns
    -------
    (path or ScienceRawModel, RomanTruth)
    """
    from astropy.time import Time, TimeDelta

    from photoncal.roman import datamodels as rdm
    from photoncal.sim.effects import Effects
    from photoncal.sim.pointing import Attitude
    from photoncal.sim.psf import airy_psf
    from photoncal.sim.ramps import simulate_ramps
    from photoncal.sim.scene import render_scene
    from photoncal.wcs.pointing import imaging_wcs

    detector = str(detector).upper()
    optical_element = str(optical_element).upper()
    if optical_element not in ROMAN_FILTERS:
        raise ValueError(f"unknown optical element {optical_element!r}; expected one of {', '.join(ROMAN_FILTERS)}")
    size = _check_size(size)
    eff = Effects.coerce(effects) if effects is not None else Effects()
    table = ma_table(read_pattern if read_pattern is not None else ma_table_number)
    pattern = [list(r) for r in table.read_pattern]
    nres = len(pattern)
    info = wfi_detector_info(detector, size)
    full = info.shape[0]
    inner = (slice(BORDER, full - BORDER), slice(BORDER, full - BORDER))

    if write_references:
        ensure_roman_reference_set(detector, size=size, optical_elements=(optical_element,),
                                   directory=reference_dir)

    # Pointing: the detector centre is the aperture reference point.
    commanded = Attitude(info.v2_ref, info.v3_ref, float(ra), float(dec), float(roll))
    true = commanded.perturbed(*pointing_error) if any(pointing_error) else commanded
    distortion = roman_distortion(detector, size)
    box = ((-0.5, size - 0.5), (-0.5, size - 0.5))
    true_wcs = imaging_wcs(distortion, true.wcsinfo(), bounding_box=box)

    props = roman_properties(detector, size)
    area, pixar = _pixel_area(detector, size)
    photmjsr = roman_photmjsr(detector, optical_element, size)
    gain = props.gain.astype(np.float64)
    gain_sci = gain[inner]

    # Scene (DN/s at the detector, through the geometric pixel area) and sky.
    if scene is None:
        scene = _default_scene(true, size, seed)
    source_dn = np.zeros((size, size))
    placed = np.zeros(0, dtype=[("id", "<i8"), ("x", "<f8"), ("y", "<f8"), ("flux_dn", "<f8"),
                                ("on_image", "?")])
    dn_per_jy_mean = _electrons_per_jansky(optical_element) / info.gain
    if eff.sources and len(scene.sources):
        psf = airy_psf(ROMAN_FILTERS[optical_element][0], diameter=ROMAN_DIAMETER, obscuration=ROMAN_OBSCURATION)
        source_dn, placed = render_scene(scene, true_wcs, (size, size), dn_per_jy_mean, psf)
    # Sky in DN/s at the nominal pixel, through the geometric pixel area.
    if sky_rate is not None:
        sky_nominal = float(sky_rate) / info.gain
    elif scene.sky_background is not None:
        sky_nominal = float(scene.sky_background) / photmjsr
    else:
        sky_nominal = _default_sky_rate(optical_element) / info.gain
    sky_dn = sky_nominal * area if eff.sky else np.zeros((size, size))
    qe = props.qe[inner].astype(np.float64) if (eff.flat or eff.bad_pixels) else np.ones((size, size))
    if not eff.bad_pixels:
        qe = props.response[inner].astype(np.float64) if eff.flat else np.ones((size, size))
    elif not eff.flat:
        qe = props.bad_pixel_response[inner].astype(np.float64)
    # DN/s through the pixel response; each pixel's gain turns them into electrons, so the
    # DN rate the pipeline measures does not depend on the gain.
    scene_dn = (sky_dn + source_dn) * qe
    dark_e = props.dark_rate[inner].astype(np.float64) if eff.dark else np.zeros((size, size))
    if eff.dark and not eff.bad_pixels:
        dark_e = np.full((size, size), info.dark_current)
    dark_dn = dark_e / gain_sci
    rate_e = np.zeros((full, full))
    rate_e[inner] = (scene_dn + dark_dn) * gain_sci

    # Cosmic rays (the JWST simulator's events, on the science pixels).
    if cosmic_rays is not None:
        cr_table = np.asarray(cosmic_rays, dtype=np.float64).reshape(-1, 5)
    elif eff.cosmic_rays:
        from photoncal.sim.exposure import _cosmic_rays

        setup = types.SimpleNamespace(
            det=info, sub=types.SimpleNamespace(xsize=full, ysize=full), seed=seed, read_pattern=pattern,
            timing={"frame_time": FRAME_TIME}, effects=eff, nints=1)
        refmask = props.reference_pixels
        events = _cosmic_rays(setup, refmask, None)
        cr_table = np.stack([events["integration"], events["frame"], events["y"], events["x"],
                             events["electrons"]], axis=1).astype(np.float64) if events.size else np.zeros((0, 5))
    else:
        cr_table = np.zeros((0, 5))

    read_noise = props.readnoise.astype(np.float64) if eff.read_noise else 0.0
    bias = props.superbias.astype(np.float64) if eff.superbias else np.full((full, full), info.bias)
    sim = simulate_ramps(
        rate_e, frame_time=FRAME_TIME, read_pattern=pattern, nints=1, gain=gain, read_noise=read_noise,
        bias=bias, nonlinearity=props.linearity_signal if eff.nonlinearity else None,
        saturation=props.saturation_clip if eff.saturation else None,
        cosmic_rays=cr_table if len(cr_table) else None, poisson=eff.poisson, seed=seed,
        nonlinearity_per_read=True,
    )
    data = sim.data[0]  # (nres, full, full) float32
    saturated_group = sim.saturated_group[0][inner].astype(np.int16)
    crs = sim.cosmic_rays
    del sim

    # Correlated read noise seen by the reference pixels and amp33.
    amp33 = np.empty((nres, full, CHANNEL_WIDTH), dtype=np.float64)
    amp_bias = (info.bias + 30.0 * _rng(seed + 7, "amp33_bias").standard_normal((full, CHANNEL_WIDTH))
                if eff.superbias else np.full((full, CHANNEL_WIDTH), info.bias))
    amp33[:] = amp_bias[None]
    if eff.refpix_offsets:
        rng = _rng(seed, "refpix_noise")
        nreads = pattern[-1][-1]
        common = _correlated_noise(nreads, full, rng, correlated_noise) if eff.read_noise else np.zeros(
            (nreads, full * (CHANNEL_WIDTH + CHANNEL_PAD)), np.float32)
        nchan = full // CHANNEL_WIDTH + 1
        length = full * (CHANNEL_WIDTH + CHANNEL_PAD)
        offsets = rng.normal(0.0, channel_drift, (nreads, nchan))
        slopes = rng.normal(0.0, channel_drift, (nreads, nchan)) / length
        tmap, cmap = _channel_maps(full, full)
        tmap = tmap.astype(np.int32)
        tcentre = (tmap - 0.5 * (length - 1)).astype(np.float32)
        t33, _c = _channel_maps(full, CHANNEL_WIDTH)
        t33c = t33 - 0.5 * (length - 1)
        for g, reads in enumerate(pattern):
            idx = np.asarray(reads) - 1
            mean_common = common[idx].mean(axis=0)
            mean_off = offsets[idx].mean(axis=0).astype(np.float32)
            mean_slope = slopes[idx].mean(axis=0).astype(np.float32)
            data[g] += mean_common[tmap]
            data[g] += mean_off[cmap]
            data[g] += mean_slope[cmap] * tcentre
            amp33[g] += mean_common[t33] + mean_off[-1] + mean_slope[-1] * t33c
        del tmap, cmap, tcentre, common
    raw = np.empty(data.shape, dtype=np.uint16)
    for g in range(nres):
        raw[g] = np.clip(np.rint(data[g]), 0, 65535)
    del data
    amp33 = np.clip(np.rint(amp33), 0, 65535).astype(np.uint16)

    # The level-1 model.
    start = Time(start_time) if start_time is not None else Time("2027-03-01T00:00:00", scale="utc") + \
        TimeDelta(float(exposure) * 300.0 + 3600.0 * (seed % 1000), format="sec")
    exposure_time = pattern[-1][-1] * FRAME_TIME
    model = rdm.ScienceRawModel()
    model.data = raw
    model.amp33 = amp33
    meta = model.meta
    meta.origin = SIMULATED_ORIGIN
    meta.product_type = "l1"
    meta.instrument.name = "WFI"
    meta.instrument.detector = detector
    meta.instrument.optical_element = optical_element
    meta.exposure.type = "WFI_IMAGE"
    meta.exposure.start_time = start
    meta.exposure.end_time = start + TimeDelta(exposure_time, format="sec")
    meta.exposure.frame_time = FRAME_TIME
    meta.exposure.exposure_time = exposure_time
    meta.exposure.effective_exposure_time = (np.mean(pattern[-1]) - np.mean(pattern[0])) * FRAME_TIME
    meta.exposure.nresultants = nres
    meta.exposure.ma_table_name = table.name
    meta.exposure.ma_table_number = table.number
    meta.exposure.ma_table_id = f"SIMMA{table.number:04d}"
    meta.exposure.read_pattern = pattern
    meta.exposure.truncated = False
    meta.exposure.data_problem = None
    meta.observation.program = 1
    meta.observation.execution_plan = 1
    meta.observation.observation = 1
    meta.observation.visit = 1
    meta.observation.visit_file_group = 1
    meta.observation.visit_file_sequence = 1
    meta.observation.visit_file_activity = "01"
    meta.observation.exposure = int(exposure)
    meta.observation.observation_id = f"r00001{1:03d}{1:03d}{1:03d}01{1:03d}01"
    meta.visit.start_time = start
    meta.guide_star.window_xstart = -999999
    wcsinfo = commanded.wcsinfo()
    meta.wcsinfo.aperture_name = f"{detector}_FULL"
    meta.wcsinfo.v2_ref = wcsinfo["v2_ref"]
    meta.wcsinfo.v3_ref = wcsinfo["v3_ref"]
    meta.wcsinfo.roll_ref = wcsinfo["roll_ref"]
    meta.wcsinfo.ra_ref = wcsinfo["ra_ref"]
    meta.wcsinfo.dec_ref = wcsinfo["dec_ref"]
    meta.wcsinfo.vparity = VPARITY
    meta.wcsinfo.v3yangle = V3_IDL_YANG
    meta.pointing.ra_v1 = commanded.ra_v1
    meta.pointing.dec_v1 = commanded.dec_v1
    meta.pointing.pa_v3 = commanded.pa_v3
    meta.pointing.target_ra = float(ra)
    meta.pointing.target_dec = float(dec)
    meta.velocity_aberration.scale_factor = 1.0
    meta.velocity_aberration.ra_reference = float(ra)
    meta.velocity_aberration.dec_reference = float(dec)
    sub = roman_subarray_name(size)
    if sub:
        model._instance["meta"]["subarray"] = {"name": sub}
    name = filename or f"r0000101001001001001_{int(exposure):04d}_{detector.lower()}_uncal.asdf"
    meta.filename = name

    # Truth, in science pixels.
    rate = scene_dn + dark_dn
    flat = qe * area
    dead = props.dead[inner] if eff.bad_pixels else np.zeros((size, size), bool)
    flat_safe = np.where(dead, 1.0, flat)
    rate_cal = (rate - dark_dn) / flat_safe
    cr_out = np.zeros(len(crs), dtype=[("frame", "<i4"), ("y", "<i4"), ("x", "<i4"), ("electrons", "<f8"),
                                        ("resultant", "<i4")])
    if len(crs):
        cr_out["frame"] = crs["frame"]
        cr_out["y"] = crs["y"] - BORDER
        cr_out["x"] = crs["x"] - BORDER
        cr_out["electrons"] = crs["electrons"]
        cr_out["resultant"] = crs["group"]
    sources = np.zeros(len(placed), dtype=[("id", "<i8"), ("ra", "<f8"), ("dec", "<f8"), ("flux", "<f8"),
                                           ("x", "<f8"), ("y", "<f8"), ("flux_dn", "<f8"), ("type", "U6")])
    if len(placed):
        lookup = {int(i): k for k, i in enumerate(scene.sources["id"])}
        rows = [lookup[int(i)] for i in placed["id"]]
        sources["id"] = placed["id"]
        sources["ra"] = scene.sources["ra"][rows]
        sources["dec"] = scene.sources["dec"][rows]
        sources["flux"] = scene.sources["flux"][rows]
        sources["x"] = placed["x"]
        sources["y"] = placed["y"]
        sources["flux_dn"] = placed["flux_dn"]
        sources["type"] = scene.sources["type"][rows]
    truth = RomanTruth(
        rate=rate.astype(np.float32), rate_cal=rate_cal.astype(np.float32), dark=dark_dn.astype(np.float32),
        flat=flat_safe.astype(np.float32), gain=gain_sci.astype(np.float32),
        read_noise=(props.readnoise[inner] if eff.read_noise else np.zeros((size, size))).astype(np.float32),
        saturated_group=saturated_group, cosmic_rays=cr_out, sources=sources,
        read_pattern=pattern, frame_time=FRAME_TIME, photmjsr=photmjsr, pixar_sr=pixar,
        commanded=dict(commanded.wcsinfo()), true_pointing=dict(true.wcsinfo()), seed=int(seed),
    )
    if output_dir is None:
        return model, truth
    os.makedirs(os.fspath(output_dir), exist_ok=True)
    path = os.path.join(os.fspath(output_dir), name)
    model.save(path)
    if truth_file:
        truth.save(path.replace("_uncal.asdf", "_truth.asdf"))
    return path, truth


def simulate_and_calibrate_roman(size=248, output_dir=".", seed=0, detector="WFI01", optical_element="F158",
                                 **kwargs) -> dict:
    """Simulate one Roman exposure and run the exposure pipeline on it (the demo).

    Returns a dict with the ``uncal``, ``cal``, ``cat``, ``segm`` and ``wcs``
    paths, the ``truth`` and simple accuracy numbers: the median relative
    error of the calibrated rate on clean pixels and the robust scatter of
    (measured - true) / error.
    """
    from photoncal.roman import datamodels as rdm
    from photoncal.roman.pipeline import ExposurePipeline
    from photoncal.sim.evaluate import rate_accuracy

    path, truth = simulate_roman_exposure(detector, optical_element, size=size, seed=seed,
                                          output_dir=output_dir, **kwargs)
    ExposurePipeline.call(path, output_dir=output_dir, save_results=True)
    base = path.replace("_uncal.asdf", "")
    out = {"uncal": path, "cal": base + "_cal.asdf", "cat": base + "_cat.ecsv", "segm": base + "_segm.asdf",
           "wcs": base + "_wcs.asdf", "truth": truth}
    with rdm.open(out["cal"]) as cal:
        accuracy = rate_accuracy(np.asarray(cal.data), np.asarray(cal.err), np.asarray(cal.dq), truth,
                                 rate=truth.rate_cal)
    out["median_relative_error"] = accuracy.median_relative_error
    out["pull_scatter"] = accuracy.normalized_scatter
    return out
