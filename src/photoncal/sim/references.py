"""The default simulated reference-file set, written from the simulator's own arrays.

:func:`ensure_reference_set` writes, for one detector, every reference file
the stage-1 and stage-2 imaging steps use, in the genuine formats (FITS with
an empty primary and named extensions, DQ_DEF tables; ASDF for the WCS
types) with the header keywords reference selection uses.  The arrays come
from :func:`photoncal.sim.detector.detector_properties` - the very arrays the
simulated exposures were made with - so calibrating a simulated exposure
with this set undoes exactly what the simulator did.

Full-frame references (SUBARRAY = FULL) serve every subarray (the steps cut
them).  DARK and RESET, which the steps do not cut, are written per
subarray (and, for DARK when a frame-by-frame file would exceed
:data:`MAX_FRAME_DARK_BYTES`, pre-averaged for the readout pattern with its
NFRAMES/GROUPGAP, as the established dark step accepts; for one-frame
patterns it is cut at that size and the dark step extrapolates it, exactly,
since the simulated dark current is linear in time).

The files are deterministic (fixed seed, fixed DATE), so writing them twice
gives the same bytes.  File names are
``photoncal_sim_v{N}_{detector}_{reftype}[_{qualifier}].{fits|asdf}``; files
of another generator version ``N`` for the same detector are removed when
the set is (re)written.
"""

from __future__ import annotations

import glob
import os
import re

import numpy as np

from photoncal import dqflags
from photoncal.config import SIMULATED_ORIGIN, default_reference_dir
from photoncal.sim.detector import RESET_NGROUPS, RESET_NINTS, detector_properties
from photoncal.sim.distortion import distortion_model, filter_offsets
from photoncal.sim.instruments import (
    FILTERS,
    READOUT_PATTERNS,
    SUBARRAYS,
    DetectorInfo,
    frame_time,
    get_detector,
    get_readout_pattern,
    get_subarray,
)
from photoncal.sim.photometry import ARCSEC2_PER_SR, photmjsr

__all__ = [
    "REFERENCE_SET_VERSION",
    "MAX_FRAME_DARK_BYTES",
    "REFERENCE_TYPES",
    "ensure_reference_set",
    "ensure_stage3_references",
    "encircled_energy_radii",
    "vega_ab_offset",
    "reference_path",
    "dark_frames_needed",
]

#: Version of the generator; bump it when the simulated arrays change.
REFERENCE_SET_VERSION = 1
#: Largest frame-by-frame (NFRAMES=1) dark SCI array written (bytes).
MAX_FRAME_DARK_BYTES = 256 * 1024**2
#: Date written into every reference file (files are byte-reproducible).
_FILE_DATE = "2024-06-01T00:00:00.000"
_USEAFTER = "2000-01-01T00:00:00"
_AUTHOR = "photoncal.sim"
_PEDIGREE = "SIMULATION"

#: The reference types of the set (MIRI adds reset, rscd and filteroffset and
#: lacks superbias and the persistence types; drizpars serves resample).
REFERENCE_TYPES = (
    "mask", "saturation", "superbias", "linearity", "dark", "gain", "readnoise", "ipc",
    "trapdensity", "trappars", "persat", "reset", "rscd", "flat", "photom", "area",
    "distortion", "filteroffset", "drizpars", "apcorr", "abvegaoffset",
)

#: Encircled-energy fractions tabulated in the APCORR files.
APCORR_EE_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def _fmt_name(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "", str(text).lower())


def reference_path(directory, detector: str, reftype: str, qualifier: str | None = None) -> str:
    """The path of one file of the simulated set."""
    ext = "asdf" if reftype in ("distortion", "filteroffset", "abvegaoffset") else "fits"
    name = f"photoncal_sim_v{REFERENCE_SET_VERSION}_{detector.lower()}_{reftype}"
    if qualifier:
        name += f"_{_fmt_name(qualifier)}"
    return os.path.join(os.fspath(directory), f"{name}.{ext}")


def dark_frames_needed(readpatt_nframes: int, groupgap: int, ngroups: int) -> int:
    """Frames a frame-by-frame dark must hold for ``ngroups`` groups of a pattern."""
    return ngroups * readpatt_nframes + (ngroups - 1) * groupgap


# --------------------------------------------------------------------------
# common metadata


def _common_meta(model, det: DetectorInfo, reftype: str, description: str = "", subarray="FULL"):
    meta = model.meta
    meta.date = _FILE_DATE
    meta.origin = SIMULATED_ORIGIN
    meta.telescope = "JWST"
    meta.reftype = reftype.upper()
    meta.pedigree = _PEDIGREE
    meta.useafter = _USEAFTER
    meta.author = _AUTHOR
    meta.description = description
    meta.model_type = type(model).__name__
    meta.instrument.name = det.instrument
    meta.instrument.detector = det.name
    if det.channel:
        meta.instrument.channel = det.channel
    if det.module:
        meta.instrument.module = det.module
    sub = get_subarray(det.instrument, subarray)
    meta.subarray.name = sub.name
    meta.subarray.xstart = sub.xstart
    meta.subarray.ystart = sub.ystart
    meta.subarray.xsize = sub.xsize
    meta.subarray.ysize = sub.ysize
    meta.subarray.fastaxis = det.fastaxis
    meta.subarray.slowaxis = det.slowaxis


def _dq_def(dq: np.ndarray | None, extra=()) -> np.ndarray:
    present = int(np.bitwise_or.reduce(dq.ravel())) if dq is not None and dq.size else 0
    for value in extra:
        present |= int(value)
    values = [1 << b for b in range(32) if present & (1 << b)]
    return dqflags.dqdef_table(values)


def _write(model, path) -> str:
    """Write atomically with the model's own metadata (no creation timestamp)."""
    model.meta.filename = os.path.basename(path)
    if path.endswith(".asdf"):
        model.to_asdf(path)
    else:
        model.to_fits(path)
    return path


# --------------------------------------------------------------------------
# one writer per reference type


def _write_mask(dm, det, props, path):
    model = dm.MaskModel(dq=props.mask_dq)
    model.dq_def = _dq_def(props.mask_dq)
    _common_meta(model, det, "mask", subarray=props.region.name, description="Simulated bad-pixel mask (hot, warm, dead, low QE, reference pixels)")
    return _write(model, path)


def _write_saturation(dm, det, props, path):
    dq = np.zeros(props.shape, dtype=np.uint32)
    model = dm.SaturationModel(data=props.saturation, dq=dq)
    model.dq_def = _dq_def(dq, [dqflags.pixel["NO_SAT_CHECK"]])
    _common_meta(model, det, "saturation", subarray=props.region.name, description="Simulated saturation threshold (raw DN, bias included)")
    return _write(model, path)


def _write_superbias(dm, det, props, path):
    dq = np.zeros(props.shape, dtype=np.uint32)
    err = np.full(props.shape, 0.5, dtype=np.float32)
    model = dm.SuperBiasModel(data=props.superbias, err=err, dq=dq)
    model.dq_def = _dq_def(dq, [dqflags.pixel["UNRELIABLE_BIAS"]])
    _common_meta(model, det, "superbias", subarray=props.region.name, description="Simulated superbias")
    model.meta.exposure.readpatt = "ANY"
    return _write(model, path)


def _write_linearity(dm, det, props, path):
    model = dm.LinearityModel(coeffs=props.linearity, dq=props.linearity_dq)
    model.dq_def = _dq_def(props.linearity_dq, [dqflags.pixel["NO_LIN_CORR"]])
    _common_meta(model, det, "linearity", subarray=props.region.name, description=
                 "Simulated linearity correction: linear = sum c_i raw**i, raw bias-subtracted DN")
    return _write(model, path)


def _write_gain(dm, det, props, path):
    model = dm.GainModel(data=props.gain)
    _common_meta(model, det, "gain", subarray=props.region.name, description="Simulated gain (electrons/DN)")
    model.meta.bunit_data = "electrons/DN"
    return _write(model, path)


def _write_readnoise(dm, det, props, path):
    model = dm.ReadnoiseModel(data=props.readnoise)
    _common_meta(model, det, "readnoise", subarray=props.region.name, description=
                 "Simulated read noise: CDS noise in DN (single-frame noise x sqrt(2))")
    model.meta.bunit_data = "DN"
    return _write(model, path)


def _write_ipc(dm, det, props, path):
    model = dm.IPCModel(data=props.ipc_kernel)
    _common_meta(model, det, "ipc", subarray="FULL", description="Simulated IPC deconvolution kernel (3x3, sum 1)")
    return _write(model, path)


def _write_trapdensity(dm, det, props, path):
    dq = np.zeros(props.shape, dtype=np.uint32)
    model = dm.TrapDensityModel(data=props.trapdensity, dq=dq)
    model.dq_def = _dq_def(dq)
    _common_meta(model, det, "trapdensity", subarray=props.region.name, description="Simulated relative trap density (median 1)")
    return _write(model, path)


def _write_trappars(dm, det, props, path):
    model = dm.TrapParsModel()
    model.trappars_table = props.trappars
    _common_meta(model, det, "trappars", subarray="FULL", description="Simulated persistence trap parameters (3 families)")
    return _write(model, path)


def _write_persat(dm, det, props, path):
    dq = np.zeros(props.shape, dtype=np.uint32)
    model = dm.PersistenceSatModel(data=props.persat, dq=dq)
    model.dq_def = _dq_def(dq)
    _common_meta(model, det, "persat", subarray=props.region.name, description="Simulated persistence saturation (full well above bias, DN)")
    return _write(model, path)


def _write_flat(dm, det, props, path, filt):
    err = np.full(props.shape, 0.002, dtype=np.float32)
    model = dm.FlatModel(data=props.flat, err=err, dq=props.flat_dq)
    model.dq_def = _dq_def(props.flat_dq)
    _common_meta(model, det, "flat", subarray=props.region.name, description=
                 f"Simulated flat field for {filt.name}: pixel response x relative pixel area")
    model.meta.instrument.filter = filt.filter
    if det.instrument in ("NIRCAM", "NIRISS"):
        model.meta.instrument.pupil = filt.pupil
    model.meta.exposure.type = det.exp_type
    return _write(model, path)


def _write_area(dm, det, props, path):
    model = dm.PixelAreaModel(data=props.area)
    _common_meta(model, det, "area", subarray=props.region.name, description="Simulated pixel area map (relative to PIXAR_SR)")
    model.meta.exposure.type = det.exp_type
    model.meta.instrument.filter = "ANY"
    if det.instrument in ("NIRCAM", "NIRISS"):
        model.meta.instrument.pupil = "ANY"
    model.meta.photometry.pixelarea_steradians = float(props.pixar_sr)
    model.meta.photometry.pixelarea_arcsecsq = float(props.pixar_sr * ARCSEC2_PER_SR)
    return _write(model, path)


def _write_photom(dm, det, props, path):
    filters = FILTERS[det.instrument]
    if det.instrument == "NIRCAM":
        cls = dm.NircamPhotomModel
        rows = [(f.filter, f.pupil, photmjsr(det, f), 0.02 * photmjsr(det, f))
                for f in filters.values() if _nircam_channel_ok(det, f)]
        dtype = [("filter", "S12"), ("pupil", "S12"), ("photmjsr", "<f4"), ("uncertainty", "<f4")]
    elif det.instrument == "NIRISS":
        cls = dm.NirissPhotomModel
        rows = [(f.filter, f.pupil, photmjsr(det, f), 0.02 * photmjsr(det, f)) for f in filters.values()]
        dtype = [("filter", "S12"), ("pupil", "S12"), ("photmjsr", "<f4"), ("uncertainty", "<f4")]
    elif det.instrument == "FGS":
        cls = dm.FgsPhotomModel
        f = filters["N/A"]
        rows = [(photmjsr(det, f), 0.02 * photmjsr(det, f))]
        dtype = [("photmjsr", "<f4"), ("uncertainty", "<f4")]
    else:
        cls = dm.MiriImgPhotomModel
        subs = list(SUBARRAYS["MIRI"])
        rows = [(f.filter, sub, photmjsr(det, f), 0.02 * photmjsr(det, f))
                for f in filters.values() for sub in subs]
        dtype = [("filter", "S12"), ("subarray", "S17"), ("photmjsr", "<f4"), ("uncertainty", "<f4")]
    model = cls()
    model.phot_table = np.array(rows, dtype=dtype)
    _common_meta(model, det, "photom", subarray="FULL", description="Simulated photometric calibration (MJy/sr per DN/s)")
    model.meta.exposure.type = det.exp_type
    model.meta.photometry.pixelarea_steradians = float(props.pixar_sr)
    model.meta.photometry.pixelarea_arcsecsq = float(props.pixar_sr * ARCSEC2_PER_SR)
    return _write(model, path)


def _nircam_channel_ok(det, f):
    short = f.pivot_um < 2.4
    return short == (det.channel == "SHORT")


def _write_distortion(dm, det, path):
    from astropy import units as u

    model = dm.DistortionModel(model=distortion_model(det), input_units=u.pix, output_units=u.arcsec)
    _common_meta(model, det, "distortion",
                 "Simulated distortion: 0-based full-frame detector pixels to V2/V3 (arcsec)")
    model.meta.exposure.type = det.exp_type
    model.meta.exposure.p_exptype = f"{det.exp_type}|"
    model.meta.instrument.filter = "ANY"
    if det.instrument in ("NIRCAM", "NIRISS"):
        model.meta.instrument.pupil = "ANY"
        model.meta.instrument.p_pupil = "ANY|"
    return _write(model, path)


def _write_filteroffset(dm, det, path):
    offsets = filter_offsets(det)
    filters = [{"filter": name, "column_offset": float(c), "row_offset": float(r)}
               for name, (c, r) in offsets.items()]
    model = dm.FilteroffsetModel(filters=filters)
    _common_meta(model, det, "filteroffset", "Simulated filter offsets (pixels)")
    model.meta.exposure.type = det.exp_type
    model.meta.input_units = "pixel"
    return _write(model, path)


def _write_drizpars(dm, det, path):
    dtype = [("numimages", "<i4"), ("filter", "S40"), ("pixfrac", "<f4"), ("kernel", "S40"),
             ("fillval", "S40"), ("wht_type", "S40"), ("stepsize", "<i4")]
    rows = [(1, "ANY", 1.0, "square", "NAN", "ivm", 10),
            (2, "ANY", 1.0, "square", "NAN", "ivm", 10),
            (4, "ANY", 1.0, "square", "NAN", "ivm", 10)]
    model = dm.DrizParsModel()
    model.drizpars_table = np.array(rows, dtype=dtype)
    _common_meta(model, det, "drizpars", "Simulated drizzle parameters by number of images and filter")
    return _write(model, path)


def _pixel_scale_for(det: DetectorInfo, filt) -> float:
    """Pixel scale (arcsec) of the detectors that see ``filt`` (NIRCam: SW or LW channel)."""
    if det.instrument != "NIRCAM":
        return det.pixel_scale
    from photoncal.sim.instruments import DETECTORS

    channel = "SHORT" if filt.pivot_um < 2.4 else "LONG"
    return next(d.pixel_scale for d in DETECTORS.values()
                if d.instrument == "NIRCAM" and d.channel == channel)


def encircled_energy_radii(pivot_um: float, pixel_scale: float, fractions=APCORR_EE_FRACTIONS,
                           n_phases: int = 8, seed: int = 0):
    """Radii (pixels) enclosing ``fractions`` of a simulated point source in a resampled image.

    The star is rendered exactly as the simulator renders sources
    (:func:`photoncal.sim.psf.render_point_sources`: the PSF integrated over
    each detector pixel) at random sub-pixel positions, moved by a random
    sub-pixel shift with bilinear interpolation (what the square drizzle
    kernel at ``pixfrac = 1`` does onto a grid of the same scale), and
    measured with exact circular apertures, as the source catalog measures
    it.  The encircled energy is averaged over ``n_phases`` such positions.
    Returns ``(radii, truncation_radius)`` in pixels.
    """
    from scipy.ndimage import shift as nd_shift

    from photoncal.sim.psf import airy_psf, render_point_sources

    psf = airy_psf(pivot_um)
    trunc = psf.truncation / pixel_scale
    half = int(np.ceil(trunc)) + 6
    size = 2 * half + 1
    jac = np.array([[[pixel_scale, 0.0], [0.0, pixel_scale]]])
    sub = 8  # exact apertures = integrals of the piecewise-constant image, sampled 8 x 8 per pixel
    fine = (np.arange(size * sub) + 0.5) / sub - 0.5
    edges = np.arange(0.0, 6.0 + 1e-9, 0.01)
    rng = np.random.default_rng(seed)
    curves = []
    for _ in range(n_phases):
        x0, y0 = half + rng.uniform(-0.5, 0.5, 2)
        image = np.zeros((size, size))
        render_point_sources(image, [x0], [y0], [1.0], jac, psf)
        dx, dy = rng.uniform(-0.5, 0.5, 2)
        moved = nd_shift(image, (dy, dx), order=1, mode="constant")
        values = np.repeat(np.repeat(moved, sub, axis=0), sub, axis=1) / sub**2
        radius = np.hypot(fine[None, :] - (x0 + dx), fine[:, None] - (y0 + dy))
        ring, _ = np.histogram(radius, bins=edges, weights=values)
        curves.append(np.concatenate([[0.0], np.cumsum(ring)]))
    curve = np.mean(curves, axis=0)
    radii = np.interp(np.asarray(fractions), curve, edges)
    return radii, trunc


def _write_apcorr(dm, det, path):
    filters = FILTERS[det.instrument]
    rows, fracs = [], np.asarray(APCORR_EE_FRACTIONS)
    for f in filters.values():
        radii, trunc = encircled_energy_radii(f.pivot_um, _pixel_scale_for(det, f))
        # the background annulus lies beyond the PSF's truncation radius
        skyin = float(np.ceil(trunc) + 2.0)
        skyout = skyin + 8.0
        for ee, r in zip(fracs, radii):
            if det.instrument == "FGS":
                rows.append((ee, r, 1.0 / ee, skyin, skyout))
            elif det.instrument == "MIRI":
                rows.extend((f.filter, s, ee, r, 1.0 / ee, skyin, skyout) for s in SUBARRAYS["MIRI"])
            else:
                rows.append((f.filter, f.pupil, ee, r, 1.0 / ee, skyin, skyout))
    numbers = [("eefraction", "<f4"), ("radius", "<f4"), ("apcorr", "<f4"), ("skyin", "<f4"), ("skyout", "<f4")]
    if det.instrument == "FGS":
        cls, dtype = dm.FgsImgApcorrModel, numbers
    elif det.instrument == "MIRI":
        cls, dtype = dm.MirImgApcorrModel, [("filter", "S12"), ("subarray", "S15")] + numbers
    elif det.instrument == "NIRISS":
        cls, dtype = dm.NisImgApcorrModel, [("filter", "S12"), ("pupil", "S15")] + numbers
    else:
        cls, dtype = dm.NrcImgApcorrModel, [("filter", "S12"), ("pupil", "S15")] + numbers
    model = cls()
    model.apcorr_table = np.array(rows, dtype=dtype)
    _common_meta(model, det, "apcorr",
                 "Simulated aperture corrections: encircled energy of the simulated PSF in a resampled image")
    model.meta.exposure.type = det.exp_type
    return _write(model, path)


def vega_ab_offset(pivot_um: float) -> float:
    """``m_AB - m_Vega`` of the simulation: a smooth fit to Vega's AB magnitude (0.55 + 4.13 log10 lambda)."""
    return float(0.55 + 4.13 * np.log10(pivot_um))


def _write_abvegaoffset(dm, det, path):
    from astropy.table import Table

    filters = FILTERS[det.instrument]
    if det.instrument == "FGS":
        from photoncal.sim.instruments import DETECTORS

        f = filters["N/A"]
        names = [d.name for d in DETECTORS.values() if d.instrument == "FGS"]
        table = Table({"detector": names, "abvega_offset": [vega_ab_offset(f.pivot_um)] * len(names)})
    elif det.instrument == "MIRI":
        table = Table({"filter": [f.filter for f in filters.values()],
                       "abvega_offset": [vega_ab_offset(f.pivot_um) for f in filters.values()]})
    else:
        table = Table({"filter": [f.filter for f in filters.values()],
                       "pupil": [f.pupil for f in filters.values()],
                       "abvega_offset": [vega_ab_offset(f.pivot_um) for f in filters.values()]})
    table["abvega_offset"] = table["abvega_offset"].astype(np.float32)
    model = dm.ABVegaOffsetModel(abvega_offset=table)
    _common_meta(model, det, "abvegaoffset", "Simulated AB - Vega magnitude offsets")
    return _write(model, path)


def _write_rscd(dm, det, props, path):
    params = props.rscd_parameters
    subs = list(SUBARRAYS["MIRI"])
    patterns = ("FAST", "SLOW")
    table = np.array(
        [(sub, patt, rows, params[rows]["tau"], params[rows]["scale"], 0.0, 0.0)
         for sub in subs for patt in patterns for rows in ("EVEN", "ODD")],
        dtype=[("subarray", "S17"), ("readpatt", "S12"), ("rows", "S4"), ("tau1", "<f4"),
               ("scale1", "<f4"), ("tau2", "<f4"), ("scale2", "<f4")],
    )
    skip = np.array(
        [(sub, patt, 1, 4) for sub in subs for patt in patterns],
        dtype=[("subarray", "S17"), ("readpatt", "S12"), ("group_skip1", "<i4"), ("group_skip", "<i4")],
    )
    model = dm.RSCDModel()
    model.rscd_table = table
    model.rscd_group_skip_table = skip
    _common_meta(model, det, "rscd", subarray="FULL", description=
                 "Simulated RSCD: later integrations low by dn_accumulated*scale1*exp(-T/tau1), T in frames")
    return _write(model, path)


def _write_reset(dm, det, path, subarray, readpatt):
    props = detector_properties(det.name, subarray)
    data = props.reset_anomaly
    err = np.zeros_like(data)
    dq = np.zeros(props.shape, dtype=np.uint32)
    model = dm.ResetModel(data=data, err=err, dq=dq)
    model.dq_def = _dq_def(dq)
    _common_meta(model, det, "reset",
                 f"Simulated MIRI reset anomaly ({RESET_NINTS} integrations x {RESET_NGROUPS} groups)",
                 subarray=subarray)
    model.meta.exposure.readpatt = readpatt
    model.meta.exposure.nints = RESET_NINTS
    model.meta.exposure.ngroups = RESET_NGROUPS
    return _write(model, path)


def _dark_planes(dark_dn, tframe, nframes, groupgap, ngroups):
    """Dark signal (DN) of each group, zero at the first frame (ngroups, ny, nx) float32."""
    out = np.empty((ngroups,) + dark_dn.shape, dtype=np.float32)
    for g in range(ngroups):
        first = g * (nframes + groupgap)
        # Mean over the group's frames of (frame index) * tframe.
        mean_index = first + (nframes - 1) / 2.0
        out[g] = (dark_dn * (mean_index * tframe)).astype(np.float32)
    return out


def _write_dark(dm, det, path, subarray, readpatt, nframes, groupgap, ngroups):
    props = detector_properties(det.name, subarray)
    tframe = frame_time(det, get_subarray(det.instrument, subarray), readpatt or "")
    dark_dn = props.dark_rate.astype(np.float64) / props.gain
    planes = _dark_planes(dark_dn, tframe, nframes, groupgap, ngroups)
    err = np.full(planes.shape, 0.01, dtype=np.float32)
    if det.is_miri:
        data = planes[None]
        err = err[None]
        dq = props.dark_dq[None, None]
        model = dm.DarkMIRIModel(data=data, err=err, dq=dq)
    else:
        model = dm.DarkModel(data=planes, err=err, dq=props.dark_dq)
    model.dq_def = _dq_def(props.dark_dq)
    desc = (f"Simulated dark current, {ngroups} groups of NFRAMES={nframes} GROUPGAP={groupgap}, "
            "first frame subtracted")
    _common_meta(model, det, "dark", desc, subarray=subarray)
    model.meta.exposure.readpatt = readpatt if (nframes > 1 or groupgap > 0 or det.is_miri) else "ANY"
    model.meta.exposure.nframes = nframes
    model.meta.exposure.groupgap = groupgap
    model.meta.exposure.ngroups = ngroups
    model.meta.exposure.nints = 1
    model.meta.exposure.frame_time = tframe
    model.meta.exposure.group_time = tframe * (nframes + groupgap)
    return _write(model, path)


def _existing_dark_groups(path) -> int:
    """NGROUPS of an existing dark file (0 when absent or unreadable)."""
    if not os.path.exists(path):
        return 0
    try:
        from astropy.io import fits

        return int(fits.getval(path, "NGROUPS", 0))
    except Exception:
        return 0


# --------------------------------------------------------------------------


def ensure_stage3_references(instrument: str | None, detector: str, *, directory=None,
                             overwrite: bool = False) -> dict:
    """Write only the references stage 3 uses (DRIZPARS, APCORR, ABVEGAOFFSET), if absent.

    For calibrated simulated exposures (:mod:`photoncal.sim.calibrated`),
    which need none of the detector-level set.  Returns reference type -> path.
    """
    from photoncal import datamodels as dm

    det = get_detector(detector, instrument)
    directory = os.fspath(default_reference_dir() if directory is None else directory)
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for reftype, writer in (("drizpars", _write_drizpars), ("apcorr", _write_apcorr),
                            ("abvegaoffset", _write_abvegaoffset)):
        path = reference_path(directory, det.name, reftype)
        if overwrite or not os.path.exists(path):
            writer(dm, det, path)
        paths[reftype] = path
    return paths


def _remove_other_versions(directory, detector):
    pattern = os.path.join(directory, f"photoncal_sim_v*_{detector.lower()}_*")
    for path in glob.glob(pattern):
        match = re.search(r"photoncal_sim_v(\d+)_", os.path.basename(path))
        if match and int(match.group(1)) != REFERENCE_SET_VERSION:
            os.remove(path)


def ensure_reference_set(instrument: str | None, detector: str, *, subarray: str = "FULL",
                         readpatt: str | None = None, ngroups: int | None = None,
                         filters=None, directory=None, overwrite: bool = False,
                         cutout: bool = False) -> dict:
    """Write the default simulated reference set of one detector, if absent.

    Parameters
    ----------
    instrument : str or None
        INSTRUME (checked against the detector); ``None`` takes the detector's.
    detector : str
        DETECTOR, e.g. ``NRCA1``, ``NIS``, ``GUIDER1``, ``MIRIMAGE``.
    subarray : str
        The subarray of the exposures to calibrate: DARK (and MIRI RESET)
        are written for it; the other types are full frame.
    readpatt : str, optional
        The readout pattern (default the instrument's fastest).
    ngroups : int, optional
        Groups of the exposures: the DARK covers at least this many
        (default the pattern's largest).
    filters : iterable of str, optional
        Filters to write FLAT files for (default the detector's default
        imaging filter; ``"all"``: every filter the detector can use).
    directory : path, optional
        Default :func:`photoncal.config.default_reference_dir`.
    overwrite : bool
        Rewrite files that exist.
    cutout : bool
        Write every image reference at the size of ``subarray`` (SUBARRAY =
        that subarray) instead of full frame: the same pixel values, much
        smaller files (for tests).

    Returns
    -------
    dict
        Reference type -> path (``flat`` -> {filter: path}).
    """
    from photoncal import datamodels as dm

    det = get_detector(detector, instrument)
    sub = get_subarray(det.instrument, subarray)
    if readpatt is None:
        readpatt = next(iter(READOUT_PATTERNS[det.instrument]))
    pattern = get_readout_pattern(det.instrument, readpatt)
    if ngroups is None:
        ngroups = min(pattern.max_ngroups, 10)
    directory = os.fspath(default_reference_dir() if directory is None else directory)
    os.makedirs(directory, exist_ok=True)
    _remove_other_versions(directory, det.name)

    from photoncal.sim.instruments import default_filter, get_filter

    if filters is None:
        filters = [get_filter(det.instrument, default_filter(det))]
    elif isinstance(filters, str) and filters.lower() == "all":
        filters = [f for f in FILTERS[det.instrument].values()
                   if det.instrument != "NIRCAM" or _nircam_channel_ok(det, f)]
    else:
        if isinstance(filters, str):
            filters = [filters]
        filters = [get_filter(det.instrument, f) for f in filters]

    paths: dict = {}
    region = sub.name if cutout else "FULL"
    region_tag = sub.name if cutout else None
    full = None

    def props_full():
        nonlocal full
        if full is None:
            full = detector_properties(det.name, region)
        return full

    def qualify(*parts):
        tags = [p for p in (*parts, region_tag) if p]
        return "_".join(tags) if tags else None

    def need(path):
        return overwrite or not os.path.exists(path)

    simple = {
        "mask": _write_mask, "saturation": _write_saturation, "linearity": _write_linearity,
        "gain": _write_gain, "readnoise": _write_readnoise, "ipc": _write_ipc,
    }
    if not det.is_miri:
        simple.update({"superbias": _write_superbias, "trapdensity": _write_trapdensity,
                       "trappars": _write_trappars, "persat": _write_persat})
    else:
        simple["rscd"] = _write_rscd
    simple.update({"photom": _write_photom, "area": _write_area})
    for reftype, writer in simple.items():
        path = reference_path(directory, det.name, reftype,
                              None if reftype in ("ipc", "trappars", "photom", "rscd") else qualify())
        if need(path):
            writer(dm, det, props_full(), path)
        paths[reftype] = path

    flats = {}
    for filt in filters:
        qualifier = filt.name if filt.pupil in ("CLEAR", "CLEARP", "N/A") else f"{filt.filter}_{filt.pupil}"
        path = reference_path(directory, det.name, "flat", qualify(qualifier if filt.name != "N/A" else None))
        if need(path):
            _write_flat(dm, det, props_full(), path, filt)
        flats[filt.name] = path
    paths["flat"] = flats

    for reftype, writer in (("distortion", _write_distortion), ("drizpars", _write_drizpars),
                            ("apcorr", _write_apcorr), ("abvegaoffset", _write_abvegaoffset)):
        path = reference_path(directory, det.name, reftype)
        if need(path):
            writer(dm, det, path)
        paths[reftype] = path
    if det.is_miri:
        path = reference_path(directory, det.name, "filteroffset")
        if need(path):
            _write_filteroffset(dm, det, path)
        paths["filteroffset"] = path
        path = reference_path(directory, det.name, "reset", f"{sub.name}_{pattern.name}")
        if need(path):
            _write_reset(dm, det, path, sub.name, pattern.name)
        paths["reset"] = path

    # DARK: frame by frame when small enough; else averaged for the pattern
    # (NFRAMES > 1), or as many frames as the size limit allows (the dark
    # current is linear in time, so the dark step's extrapolation is exact).
    frames = dark_frames_needed(pattern.nframes, pattern.groupgap, ngroups)
    frame_bytes = sub.xsize * sub.ysize * 4
    max_frames = max(2, MAX_FRAME_DARK_BYTES // frame_bytes)
    generic = pattern.nframes == 1
    if det.is_miri or generic or frames <= max_frames:
        qualifier = f"{sub.name}_{pattern.name}" if det.is_miri else sub.name
        path = reference_path(directory, det.name, "dark", qualifier)
        have = _existing_dark_groups(path)
        want = min(frames, max_frames)
        if overwrite or have < want:
            # Never shrink a frame dark another exposure may need.
            _write_dark(dm, det, path, sub.name, pattern.name, 1, 0, max(want, have))
    else:
        path = reference_path(directory, det.name, "dark", f"{sub.name}_{pattern.name}")
        have = _existing_dark_groups(path)
        ng = max(ngroups, pattern.max_ngroups)
        if overwrite or have < ng:
            _write_dark(dm, det, path, sub.name, pattern.name, pattern.nframes, pattern.groupgap, ng)
    paths["dark"] = path
    return paths

