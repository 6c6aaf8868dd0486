"""Detector geometry, subarrays, readout patterns and frame timing of the simulated instruments.

The facts here (detector names, full-frame sizes, reference-pixel borders,
readout-pattern frame averaging, the NIR frame-time rule, subarray names)
follow the JWST instruments.  Reference points in the V2/V3 frame, ideal-frame
angles and subarray positions are close to the real apertures but are not
copied from the science instrument aperture file: the simulation only needs a
self-consistent, realistic layout, and the reference files photoncal.sim
writes carry the same numbers.

Orientation
-----------
Arrays are in the DMS ("science") orientation, numpy order ``(y, x)``.  The
detector ("readout") orientation is reached with :func:`science_to_detector`,
driven by the ``FASTAXIS``/``SLOWAXIS`` keywords: ``|fastaxis| == 1`` means the
fast readout direction runs along DMS x, a negative value that it runs toward
decreasing index.  In the detector orientation the NIR amplifiers are vertical
stripes of 512 columns and the fast direction runs along the columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DetectorInfo",
    "FilterInfo",
    "ReadoutPattern",
    "Subarray",
    "DETECTORS",
    "READOUT_PATTERNS",
    "SUBARRAYS",
    "FILTERS",
    "get_detector",
    "get_readout_pattern",
    "get_subarray",
    "get_filter",
    "default_filter",
    "frame_time",
    "frame_divisor",
    "exposure_timing",
    "reference_pixel_mask",
    "science_to_detector",
    "detector_to_science",
    "amplifier_map",
    "detector_column_map",
    "detector_row_map",
]

# --------------------------------------------------------------------------
# Readout patterns


@dataclass(frozen=True)
class ReadoutPattern:
    """A MULTIACCUM readout pattern.

    Attributes
    ----------
    name : str
        READPATT value.
    nframes : int
        Frames averaged into each group (NFRAMES).
    groupgap : int
        Frames dropped between groups (GROUPGAP).
    max_ngroups : int
        Largest number of groups the pattern allows in flight operations.
    """

    name: str
    nframes: int
    groupgap: int
    max_ngroups: int = 10


READOUT_PATTERNS: dict[str, dict[str, ReadoutPattern]] = {
    "NIRCAM": {
        p.name: p
        for p in (
            ReadoutPattern("RAPID", 1, 0, 10),
            ReadoutPattern("BRIGHT1", 1, 1, 10),
            ReadoutPattern("BRIGHT2", 2, 0, 10),
            ReadoutPattern("SHALLOW2", 2, 3, 10),
            ReadoutPattern("SHALLOW4", 4, 1, 10),
            ReadoutPattern("MEDIUM2", 2, 8, 10),
            ReadoutPattern("MEDIUM8", 8, 2, 10),
            ReadoutPattern("DEEP2", 2, 18, 20),
            ReadoutPattern("DEEP8", 8, 12, 20),
        )
    },
    "NIRISS": {
        p.name: p
        for p in (
            ReadoutPattern("NISRAPID", 1, 0, 200),
            ReadoutPattern("NIS", 4, 0, 200),
        )
    },
    "FGS": {
        p.name: p
        for p in (
            ReadoutPattern("FGSRAPID", 1, 0, 200),
            # Averaging of 6 frames is not a power of two: group_scale matters.
            ReadoutPattern("FGS60", 6, 0, 200),
            ReadoutPattern("FGS840", 8, 40, 200),
            ReadoutPattern("FGS8370", 8, 370, 200),
        )
    },
    "MIRI": {
        p.name: p
        for p in (
            ReadoutPattern("FAST", 1, 0, 1000),
            ReadoutPattern("FASTR1", 1, 0, 1000),
            ReadoutPattern("SLOW", 1, 0, 1000),
            ReadoutPattern("SLOWR1", 1, 0, 1000),
        )
    },
}


def get_readout_pattern(instrument: str, readpatt: str) -> ReadoutPattern:
    """Return the readout pattern ``readpatt`` of ``instrument``.

    Raises
    ------
    ValueError
        If the instrument has no such pattern; the message lists the valid ones.
    """
    table = READOUT_PATTERNS.get(instrument.upper())
    if table is None:
        raise ValueError(
            f"unknown instrument {instrument!r}; expected one of {', '.join(READOUT_PATTERNS)}"
        )
    try:
        return table[readpatt.upper()]
    except KeyError:
        raise ValueError(
            f"unknown READPATT {readpatt!r} for {instrument.upper()}; expected one of "
            f"{', '.join(table)}"
        ) from None


def frame_divisor(nframes: int) -> int:
    """Return FRMDIVSR: the power of two the onboard frame sum is divided by (>= nframes)."""
    divisor = 1
    while divisor < nframes:
        divisor *= 2
    return divisor


# --------------------------------------------------------------------------
# Filters


@dataclass(frozen=True)
class FilterInfo:
    """A filter: the FILTER/PUPIL keyword values and its bandpass.

    Attributes
    ----------
    name : str
        The filter's common name (``F200W``).
    filter : str
        FILTER keyword value.
    pupil : str
        PUPIL keyword value (``N/A`` where the instrument has none).
    pivot_um : float
        Pivot wavelength in micron.
    width_um : float
        Bandwidth in micron.
    throughput : float
        Mean end-to-end throughput (telescope, instrument, detector QE) in the band.
    """

    name: str
    filter: str
    pupil: str
    pivot_um: float
    width_um: float
    throughput: float


def _nircam_filters():
    rows = [
        ("F070W", 0.704, 0.128, 0.25), ("F090W", 0.901, 0.194, 0.32),
        ("F115W", 1.154, 0.225, 0.36), ("F140M", 1.404, 0.142, 0.40),
        ("F150W", 1.501, 0.318, 0.42), ("F162M", 1.626, 0.168, 0.42),
        ("F182M", 1.845, 0.238, 0.44), ("F200W", 1.990, 0.461, 0.45),
        ("F210M", 2.093, 0.205, 0.43), ("F250M", 2.503, 0.181, 0.35),
        ("F277W", 2.786, 0.672, 0.40), ("F300M", 2.996, 0.318, 0.38),
        ("F335M", 3.365, 0.347, 0.42), ("F356W", 3.563, 0.787, 0.48),
        ("F360M", 3.621, 0.372, 0.46), ("F410M", 4.092, 0.436, 0.46),
        ("F444W", 4.421, 1.024, 0.50), ("F460M", 4.624, 0.228, 0.40),
        ("F480M", 4.834, 0.303, 0.40),
    ]
    return {n: FilterInfo(n, n, "CLEAR", p, w, t) for n, p, w, t in rows}


def _niriss_filters():
    # Short-wave NIRISS filters sit in the pupil wheel (FILTER=CLEAR), long-wave
    # ones in the filter wheel (PUPIL=CLEARP).
    pupil_wheel = [
        ("F090W", 0.901, 0.200, 0.27), ("F115W", 1.150, 0.250, 0.30),
        ("F140M", 1.404, 0.140, 0.32), ("F150W", 1.494, 0.320, 0.34),
        ("F158M", 1.582, 0.200, 0.34), ("F200W", 1.990, 0.450, 0.36),
    ]
    filter_wheel = [
        ("F277W", 2.776, 0.700, 0.38), ("F356W", 3.593, 0.800, 0.40),
        ("F380M", 3.828, 0.200, 0.36), ("F430M", 4.283, 0.200, 0.36),
        ("F444W", 4.440, 1.000, 0.40), ("F480M", 4.817, 0.300, 0.34),
    ]
    out = {n: FilterInfo(n, "CLEAR", n, p, w, t) for n, p, w, t in pupil_wheel}
    out.update({n: FilterInfo(n, n, "CLEARP", p, w, t) for n, p, w, t in filter_wheel})
    return out


def _miri_filters():
    rows = [
        ("F560W", 5.635, 1.00, 0.20), ("F770W", 7.639, 1.95, 0.30),
        ("F1000W", 9.953, 1.80, 0.30), ("F1130W", 11.309, 0.73, 0.30),
        ("F1280W", 12.810, 2.47, 0.30), ("F1500W", 15.064, 2.92, 0.30),
        ("F1800W", 17.984, 2.95, 0.25), ("F2100W", 20.795, 4.58, 0.20),
        ("F2550W", 25.365, 3.67, 0.12),
    ]
    return {n: FilterInfo(n, n, "N/A", p, w, t) for n, p, w, t in rows}


FILTERS: dict[str, dict[str, FilterInfo]] = {
    "NIRCAM": _nircam_filters(),
    "NIRISS": _niriss_filters(),
    # FGS has no filter: one broad band (0.6-5 micron).
    "FGS": {"N/A": FilterInfo("N/A", "N/A", "N/A", 2.5, 3.5, 0.45)},
    "MIRI": _miri_filters(),
}

_NIRCAM_SW_FILTERS = {n for n, f in FILTERS["NIRCAM"].items() if f.pivot_um < 2.4}


def get_filter(instrument: str, name: str | None) -> FilterInfo:
    """Return the filter ``name`` of ``instrument`` (``None``: FGS's single band).

    Raises
    ------
    ValueError
        For an unknown filter; the message lists the valid names.
    """
    table = FILTERS[instrument.upper()]
    key = "N/A" if name is None else name.upper()
    if key not in table:
        raise ValueError(
            f"unknown filter {name!r} for {instrument.upper()}; expected one of {', '.join(table)}"
        )
    return table[key]


# --------------------------------------------------------------------------
# Detectors


@dataclass(frozen=True)
class DetectorInfo:
    """Geometry and typical detector properties of one science detector.

    Attributes
    ----------
    instrument, name : str
        INSTRUME and DETECTOR keyword values.
    exp_type : str
        EXP_TYPE of imaging exposures.
    shape : tuple of int
        Full-frame (ny, nx) including reference pixels.
    refpix : tuple of int
        Reference-pixel border widths (bottom, top, left, right) of the full frame.
    pixel_scale : float
        Mean pixel scale in arcsec.
    v2_ref, v3_ref : float
        V2/V3 (arcsec) of the full-frame aperture reference point.
    v3_idl_yang : float
        Angle (deg) from V3 to the ideal-frame Y axis (V3I_YANG).
    vparity : int
        Ideal-frame parity relative to V2/V3 (VPARITY).
    x_ref, y_ref : float
        0-based full-frame pixel of the reference point.
    fastaxis, slowaxis : int
        Readout directions in the DMS orientation (FASTAXIS/SLOWAXIS).
    namps : int
        Readout outputs at full frame (NOUTPUTS).
    channel, module : str
        CHANNEL and MODULE keyword values (``None`` when not defined).
    gain : float
        Mean gain (e-/DN).
    readnoise_cds : float
        Mean correlated-double-sampling read noise (DN), the READNOISE
        reference value.
    dark_current : float
        Mean dark current (e-/s).
    bias : float
        Mean bias level (DN).
    full_well : float
        Mean full well, raw DN above bias.
    pixel_size_um : float
        Physical pixel pitch in micron (cosmic-ray hit rates scale with its area).
    ipc_alpha, ipc_beta : float
        Forward IPC coupling to the 4 side neighbours and to the 4 corners.
    distortion : float
        Fractional radial distortion at the corner of the full frame.
    """

    instrument: str
    name: str
    exp_type: str
    shape: tuple[int, int]
    refpix: tuple[int, int, int, int]
    pixel_scale: float
    v2_ref: float
    v3_ref: float
    v3_idl_yang: float
    vparity: int
    x_ref: float
    y_ref: float
    fastaxis: int
    slowaxis: int
    namps: int = 4
    channel: str | None = None
    module: str | None = None
    gain: float = 2.0
    readnoise_cds: float = 7.0
    dark_current: float = 0.005
    bias: float = 12000.0
    full_well: float = 45000.0
    pixel_size_um: float = 18.0
    ipc_alpha: float = 0.006
    ipc_beta: float = 0.0006
    distortion: float = 0.012
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_miri(self) -> bool:
        return self.instrument == "MIRI"


def _nircam_detectors():
    dets = {}
    # Module centres in V2/V3 (arcsec); the four SW detectors sit around them
    # with a ~5" gap, module B rotated by 180 deg with respect to module A.
    centres = {"A": (86.10, -493.23), "B": (-89.36, -493.33)}
    sw_offsets = {
        "A": {"1": (34.5, -34.5), "2": (34.5, 34.5), "3": (-34.5, -34.5), "4": (-34.5, 34.5)},
        "B": {"1": (-34.5, 34.5), "2": (-34.5, -34.5), "3": (34.5, 34.5), "4": (34.5, -34.5)},
    }
    yang = {"A": -0.57, "B": -0.16}
    axes = {
        "NRCA1": (-1, 2), "NRCA2": (1, -2), "NRCA3": (-1, 2), "NRCA4": (1, -2), "NRCALONG": (-1, 2),
        "NRCB1": (1, -2), "NRCB2": (-1, 2), "NRCB3": (1, -2), "NRCB4": (-1, 2), "NRCBLONG": (1, -2),
    }
    for module, centre in centres.items():
        for k, (dv2, dv3) in sw_offsets[module].items():
            name = f"NRC{module}{k}"
            dets[name] = DetectorInfo(
                "NIRCAM", name, "NRC_IMAGE", (2048, 2048), (4, 4, 4, 4), 0.0311,
                centre[0] + dv2, centre[1] + dv3, yang[module], -1, 1023.5, 1023.5,
                *axes[name], namps=4, channel="SHORT", module=module,
                gain=2.05, readnoise_cds=7.2, dark_current=0.0035, bias=12000.0,
                full_well=50000.0, pixel_size_um=18.0, ipc_alpha=0.0055, ipc_beta=0.0005,
                distortion=0.010,
            )
        name = f"NRC{module}LONG"
        dets[name] = DetectorInfo(
            "NIRCAM", name, "NRC_IMAGE", (2048, 2048), (4, 4, 4, 4), 0.0630,
            centre[0], centre[1], yang[module] + 0.13, -1, 1023.5, 1023.5,
            *axes[name], namps=4, channel="LONG", module=module,
            gain=1.82, readnoise_cds=6.5, dark_current=0.027, bias=11500.0,
            full_well=55000.0, pixel_size_um=18.0, ipc_alpha=0.0060, ipc_beta=0.0006,
            distortion=0.014,
        )
    return dets


DETECTORS: dict[str, DetectorInfo] = {
    **_nircam_detectors(),
    "NIS": DetectorInfo(
        "NIRISS", "NIS", "NIS_IMAGE", (2048, 2048), (4, 4, 4, 4), 0.0656,
        -290.10, -697.50, -0.57, -1, 1023.5, 1023.5, -2, -1, namps=4,
        gain=1.61, readnoise_cds=11.5, dark_current=0.0213, bias=13500.0, full_well=55000.0,
        ipc_alpha=0.0055, ipc_beta=0.0005, distortion=0.012,
    ),
    "GUIDER1": DetectorInfo(
        "FGS", "GUIDER1", "FGS_IMAGE", (2048, 2048), (4, 4, 4, 4), 0.0690,
        207.19, -697.50, -1.24, 1, 1023.5, 1023.5, -2, -1, namps=4,
        gain=2.20, readnoise_cds=9.0, dark_current=0.02, bias=12500.0, full_well=52000.0,
        ipc_alpha=0.005, ipc_beta=0.0005, distortion=0.011,
    ),
    "GUIDER2": DetectorInfo(
        "FGS", "GUIDER2", "FGS_IMAGE", (2048, 2048), (4, 4, 4, 4), 0.0680,
        24.43, -697.60, -0.13, -1, 1023.5, 1023.5, 2, -1, namps=4,
        gain=2.40, readnoise_cds=9.5, dark_current=0.02, bias=12500.0, full_well=52000.0,
        ipc_alpha=0.005, ipc_beta=0.0005, distortion=0.011,
    ),
    # MIRI: 1032 columns of which 4 on each side are reference columns; the
    # imager aperture's reference point is in the illuminated right part.
    "MIRIMAGE": DetectorInfo(
        "MIRI", "MIRIMAGE", "MIR_IMAGE", (1024, 1032), (0, 0, 4, 4), 0.1108,
        -453.56, -373.81, 4.45, -1, 691.5, 511.5, 1, 2, namps=4,
        gain=4.0, readnoise_cds=32.0, dark_current=0.2, bias=10000.0, full_well=45000.0,
        pixel_size_um=25.0, ipc_alpha=0.015, ipc_beta=0.002, distortion=0.008,
    ),
}


def get_detector(detector: str, instrument: str | None = None) -> DetectorInfo:
    """Return the :class:`DetectorInfo` of ``detector`` (checked against ``instrument``).

    Raises
    ------
    ValueError
        For an unknown detector, or one that does not belong to ``instrument``.
    """
    key = detector.upper()
    if key not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; expected one of {', '.join(DETECTORS)}")
    info = DETECTORS[key]
    if instrument is not None and info.instrument != instrument.upper():
        raise ValueError(
            f"detector {key} belongs to {info.instrument}, not {instrument.upper()}"
        )
    return info


def default_filter(detector: DetectorInfo) -> str:
    """Return a sensible default filter for imaging with ``detector``."""
    if detector.instrument == "NIRCAM":
        return "F200W" if detector.channel == "SHORT" else "F444W"
    if detector.instrument == "NIRISS":
        return "F150W"
    if detector.instrument == "MIRI":
        return "F770W"
    return "N/A"


def check_filter_detector(detector: DetectorInfo, filt: FilterInfo) -> None:
    """Raise ValueError if ``filt`` cannot be used with ``detector`` (NIRCam SW vs LW)."""
    if detector.instrument != "NIRCAM":
        return
    short = filt.name in _NIRCAM_SW_FILTERS
    if short != (detector.channel == "SHORT"):
        raise ValueError(
            f"filter {filt.name} is a NIRCam {'short' if short else 'long'}-wave filter and "
            f"cannot be used with {detector.name} ({detector.channel} channel)"
        )


# --------------------------------------------------------------------------
# Subarrays


@dataclass(frozen=True)
class Subarray:
    """A subarray in full-frame DMS coordinates (1-based xstart/ystart, as SUBSTRT1/2)."""

    name: str
    xstart: int
    ystart: int
    xsize: int
    ysize: int
    noutputs: int = 1

    @property
    def slices(self) -> tuple[slice, slice]:
        """The 0-based (y, x) slices of the subarray within the full frame."""
        return (
            slice(self.ystart - 1, self.ystart - 1 + self.ysize),
            slice(self.xstart - 1, self.xstart - 1 + self.xsize),
        )


def _sq(name, xstart, ystart, size, noutputs=1):
    return Subarray(name, xstart, ystart, size, size, noutputs)


SUBARRAYS: dict[str, dict[str, Subarray]] = {
    "NIRCAM": {
        s.name: s
        for s in (
            Subarray("FULL", 1, 1, 2048, 2048, 4),
            _sq("SUB160", 1, 1, 160), _sq("SUB320", 1, 1, 320), _sq("SUB640", 1, 1, 640),
            _sq("SUB64P", 1985, 1985, 64), _sq("SUB160P", 1889, 1889, 160),
            _sq("SUB400P", 1649, 1649, 400),
        )
    },
    "NIRISS": {
        s.name: s
        for s in (
            Subarray("FULL", 1, 1, 2048, 2048, 4),
            _sq("SUB64", 1, 1985, 64), _sq("SUB128", 1, 1921, 128), _sq("SUB256", 1, 1793, 256),
            Subarray("SUBSTRIP96", 1, 1803, 2048, 96, 1),
            Subarray("SUBSTRIP256", 1, 1793, 2048, 256, 1),
        )
    },
    "FGS": {
        s.name: s
        for s in (
            Subarray("FULL", 1, 1, 2048, 2048, 4),
            _sq("SUB128LL", 1, 1, 128), _sq("SUB128CNTR", 961, 961, 128),
            _sq("SUB32LL", 1, 1, 32), _sq("SUB32CNTR", 1009, 1009, 32),
            _sq("SUB8LL", 1, 1, 8), _sq("SUB8CNTR", 1021, 1021, 8),
        )
    },
    "MIRI": {
        s.name: s
        for s in (
            Subarray("FULL", 1, 1, 1032, 1024, 4),
            Subarray("BRIGHTSKY", 457, 51, 512, 512, 4),
            Subarray("SUB256", 413, 51, 256, 256, 4),
            Subarray("SUB128", 1, 889, 136, 128, 4),
            Subarray("SUB64", 1, 779, 72, 64, 4),
            Subarray("MASK1065", 1, 19, 288, 224, 4),
            Subarray("MASK1140", 1, 245, 288, 224, 4),
            Subarray("MASK1550", 1, 467, 288, 224, 4),
            Subarray("MASKLYOT", 1, 717, 320, 304, 4),
            Subarray("SLITLESSPRISM", 1, 529, 72, 416, 4),
        )
    },
}

# MIRI frame times (s) in FAST mode; SLOW reads each pixel ~8.6x longer.
_MIRI_FAST_TFRAME = {
    "FULL": 2.77504, "BRIGHTSKY": 0.86528, "SUB256": 0.29952, "SUB128": 0.11904,
    "SUB64": 0.08500, "MASK1065": 0.24088, "MASK1140": 0.24088, "MASK1550": 0.24088,
    "MASKLYOT": 0.49200, "SLITLESSPRISM": 0.15904,
}
_MIRI_SLOW_FACTOR = 23.88 / 2.77504


def get_subarray(instrument: str, name: str) -> Subarray:
    """Return the subarray ``name`` of ``instrument``.

    Raises
    ------
    ValueError
        For an unknown subarray; the message lists the valid names.
    """
    table = SUBARRAYS[instrument.upper()]
    key = name.upper()
    if key not in table:
        raise ValueError(
            f"unknown SUBARRAY {name!r} for {instrument.upper()}; expected one of {', '.join(table)}"
        )
    return table[key]


# --------------------------------------------------------------------------
# Timing


def frame_time(detector: DetectorInfo, subarray: Subarray, readpatt: str = "") -> float:
    """Return TFRAME (s) for ``detector`` read through ``subarray``.

    NIR detectors: ``(nfast / noutputs + 12) * (nslow + 1) * 10 us``, where
    ``nfast``/``nslow`` are the subarray sizes along the fast and slow
    readout directions (10 us per pixel, 12 pixels of overhead per row, one
    extra row per frame).  MIRI: tabulated per subarray, SLOW patterns ~8.6x
    longer.
    """
    if detector.is_miri:
        t = _MIRI_FAST_TFRAME[subarray.name]
        if readpatt.upper().startswith("SLOW"):
            t = round(t * _MIRI_SLOW_FACTOR, 5)
        return t
    if abs(detector.fastaxis) == 1:
        nfast, nslow = subarray.xsize, subarray.ysize
    else:
        nfast, nslow = subarray.ysize, subarray.xsize
    return round((nfast / subarray.noutputs + 12) * (nslow + 1) * 1.0e-5, 5)


def exposure_timing(tframe: float, pattern: ReadoutPattern, ngroups: int, nints: int,
                    nresets_at_start: int = 1, nresets_between_ints: int = 1,
                    drop_frames1: int = 0) -> dict:
    """Return the exposure timing keywords (seconds) of a MULTIACCUM exposure.

    Returns
    -------
    dict
        ``frame_time``, ``group_time`` (TGROUP = (nframes + groupgap) * tframe),
        ``integration_time`` (effective, EFFINTTM = (ngroups - 1) * tgroup),
        ``exposure_time`` (EFFEXPTM = nints * EFFINTTM), ``duration``
        (total elapsed time including resets), ``frames_per_integration``
        (frames read or dropped from the first read to the last) and
        ``integration_duration``.
    """
    tgroup = (pattern.nframes + pattern.groupgap) * tframe
    frames = drop_frames1 + ngroups * pattern.nframes + (ngroups - 1) * pattern.groupgap
    int_duration = (frames + nresets_between_ints) * tframe
    duration = nresets_at_start * tframe + nints * int_duration - nresets_between_ints * tframe
    return {
        "frame_time": tframe,
        "group_time": tgroup,
        "integration_time": (ngroups - 1) * tgroup,
        "exposure_time": nints * (ngroups - 1) * tgroup,
        "duration": duration,
        "frames_per_integration": frames,
        "integration_duration": int_duration,
    }


# --------------------------------------------------------------------------
# Orientation and amplifiers


def science_to_detector(data: np.ndarray, fastaxis: int, slowaxis: int) -> np.ndarray:
    """View ``data`` (..., y, x) in DMS orientation in the detector (readout) orientation.

    In the result the fast readout direction runs along the last axis toward
    increasing index and the slow direction along the second-to-last one.
    """
    if abs(fastaxis) == 1:
        return data[..., :: int(np.sign(slowaxis)), :: int(np.sign(fastaxis))]
    flipped = data[..., :: int(np.sign(fastaxis)), :: int(np.sign(slowaxis))]
    return np.swapaxes(flipped, -2, -1)


def detector_to_science(data: np.ndarray, fastaxis: int, slowaxis: int) -> np.ndarray:
    """Inverse of :func:`science_to_detector`."""
    if abs(fastaxis) == 1:
        return data[..., :: int(np.sign(slowaxis)), :: int(np.sign(fastaxis))]
    swapped = np.swapaxes(data, -2, -1)
    return swapped[..., :: int(np.sign(fastaxis)), :: int(np.sign(slowaxis))]


def _full_index_grids(detector: DetectorInfo, subarray: Subarray):
    ys, xs = subarray.slices
    y = np.arange(ys.start, ys.stop)
    x = np.arange(xs.start, xs.stop)
    return np.meshgrid(y, x, indexing="ij")


def detector_column_map(detector: DetectorInfo, subarray: Subarray) -> np.ndarray:
    """Full-frame detector-orientation column (fast-direction index) of every subarray pixel."""
    ny, nx = detector.shape
    yy, xx = _full_index_grids(detector, subarray)
    if abs(detector.fastaxis) == 1:
        return xx if detector.fastaxis > 0 else (nx - 1 - xx)
    return yy if detector.fastaxis > 0 else (ny - 1 - yy)


def detector_row_map(detector: DetectorInfo, subarray: Subarray) -> np.ndarray:
    """Full-frame detector-orientation row (slow-direction index) of every subarray pixel."""
    ny, nx = detector.shape
    yy, xx = _full_index_grids(detector, subarray)
    if abs(detector.slowaxis) == 2:
        return yy if detector.slowaxis > 0 else (ny - 1 - yy)
    return xx if detector.slowaxis > 0 else (nx - 1 - xx)


def amplifier_map(detector: DetectorInfo, subarray: Subarray) -> np.ndarray:
    """Index (0-3) of the readout amplifier of every subarray pixel, DMS orientation.

    NIR detectors read through 4 outputs in vertical stripes of 512 detector
    columns; a one-output subarray is read through the output of its first
    pixel.  MIRI interleaves its 4 outputs column by column.
    """
    cols = detector_column_map(detector, subarray)
    if detector.is_miri:
        return (cols % 4).astype(np.int8)
    stripe = detector.shape[1] // detector.namps
    if subarray.noutputs == 1:
        return np.full(cols.shape, int(cols.min()) // stripe, dtype=np.int8)
    return (cols // stripe).astype(np.int8)


def reference_pixel_mask(detector: DetectorInfo, subarray: Subarray) -> np.ndarray:
    """Boolean (ysize, xsize) mask of the reference pixels within ``subarray``."""
    ny, nx = detector.shape
    bottom, top, left, right = detector.refpix
    full_y = np.zeros(ny, bool)
    full_x = np.zeros(nx, bool)
    full_y[:bottom] = True
    full_y[ny - top:] = True
    full_x[:left] = True
    full_x[nx - right:] = True
    ys, xs = subarray.slices
    return full_y[ys][:, None] | full_x[xs][None, :]
