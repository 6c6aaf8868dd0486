"""Calibrated (``_cal``-like) dithered exposures with a known truth, for stage-3 work.

Stage 3 (tweakreg, skymatch, outlier detection, resample, source catalog)
starts from calibrated images in MJy/sr with a gwcs.  Running the whole
detector and stage-2 chain on simulated ramps is slow and mixes the errors
of every step into the stage-3 tests, so this module writes the images
stage 2 would produce directly, from the same scene, instruments, PSF,
distortion and photometric calibration as :mod:`photoncal.sim.observe`:

* the scene is rendered through the *true* WCS (commanded pointing plus a
  recorded pointing error); the header and the gwcs carry the *commanded*
  pointing, so tweakreg has a real error to find;
* surface brightness is what flat_field + photom give: ``sky + sky_offset``
  (uniform, MJy/sr) plus ``source DN/s x PHOTMJSR / AREA``, so a source's
  flux is ``sum(SB * PIXAR_SR * AREA)``;
* noise: Poisson (with the exposure time and gain) and read noise (the
  ramp-fit variance of the readout pattern), drawn from a seeded generator
  and reported in ``VAR_POISSON``, ``VAR_RNOISE`` and ``ERR``;
* reference pixels and a small fraction of bad pixels are ``DO_NOT_USE``
  with NaN data, as in real ``_cal`` products;
* cosmic rays that stage 1 missed: sharp hits of 10-300 sigma, 40 % of them
  spilling 5-15 % of their charge into the 4 side neighbours, recorded in
  the truth (``cosmic_rays``) and *not* flagged.

:func:`simulate_cal_set` writes ``n`` dithered ``_cal.fits`` files, their
truths (``_caltruth.asdf``), the truth catalog and a level-3 (``image3``)
association; the references stage 3 uses (DRIZPARS, APCORR, ABVEGAOFFSET)
are written to the reference directory.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields

import numpy as np

from photoncal import __version__, dqflags
from photoncal.config import SIMULATED_ORIGIN
from photoncal.fileio import atomic_write

__all__ = ["CalTruth", "CalSet", "simulate_cal_exposure", "simulate_cal_set", "cal_truth_path_for",
           "load_cal_truth"]

_CR_DTYPE = [("event", "<i4"), ("y", "<i4"), ("x", "<i4"), ("excess", "<f4"), ("snr", "<f4"),
             ("primary", "?")]
_SOURCE_DTYPE = [("id", "<i8"), ("ra", "<f8"), ("dec", "<f8"), ("flux", "<f8"), ("abmag", "<f8"),
                 ("type", "U6"), ("x", "<f8"), ("y", "<f8"), ("on_image", "?")]


def cal_truth_path_for(cal_path) -> str:
    """``jw..._cal.fits`` -> ``jw..._caltruth.asdf`` (same directory)."""
    path = os.fspath(cal_path)
    base = path[:-5] if path.endswith(".fits") else path
    if base.endswith("_cal"):
        base = base[:-4]
    return base + "_caltruth.asdf"


@dataclass
class CalTruth:
    """The truth behind one simulated calibrated exposure.

    Attributes
    ----------
    filename : str
    detector, filter, pupil : str
    subarray : dict
        ``name``, ``xstart``, ``ystart`` (1-based), ``xsize``, ``ysize``.
    commanded_pointing, true_pointing : dict
        ``v2_ref``, ``v3_ref``, ``ra_ref``, ``dec_ref``, ``roll_ref``.
    pointing_error : dict
        ``d_east``, ``d_north`` (arcsec), ``d_roll`` (deg): true minus commanded.
    sky_background, sky_offset : float
        MJy/sr: the scene's sky and this exposure's extra offset (the image's
        sky is their sum).
    photmjsr, pixar_sr, exposure_time : float
    sources : structured ndarray
        ``id, ra, dec, flux [Jy], abmag, type, x, y`` (true 0-based pixel), ``on_image``.
    cosmic_rays : structured ndarray
        One row per affected pixel: ``event, y, x, excess`` (MJy/sr),
        ``snr`` (excess / ERR), ``primary`` (the hit pixel, not a neighbour).
    noiseless : ndarray or None
        The surface brightness before noise and cosmic rays (not saved).
    """

    filename: str = ""
    detector: str = ""
    filter: str = ""
    pupil: str = ""
    subarray: dict = field(default_factory=dict)
    commanded_pointing: dict = field(default_factory=dict)
    true_pointing: dict = field(default_factory=dict)
    pointing_error: dict = field(default_factory=dict)
    sky_background: float = 0.0
    sky_offset: float = 0.0
    photmjsr: float = 0.0
    pixar_sr: float = 0.0
    exposure_time: float = 0.0
    sources: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=_SOURCE_DTYPE))
    cosmic_rays: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=_CR_DTYPE))
    noiseless: np.ndarray | None = None

    def save(self, path) -> str:
        """Write the truth (without ``noiseless``) as ASDF, atomically."""
        import asdf

        path = os.fspath(path)
        tree = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "noiseless"}
        return atomic_write(path, asdf.AsdfFile({"photoncal_cal_truth": tree}).write_to)

    @classmethod
    def load(cls, path) -> "CalTruth":
        """Read a truth written by :meth:`save`."""
        import asdf

        with asdf.open(os.fspath(path), lazy_load=False, memmap=False) as af:
            if "photoncal_cal_truth" not in af.tree:
                raise ValueError(f"{path} is not a photoncal calibrated-exposure truth file")
            tree = dict(af.tree["photoncal_cal_truth"])
            for key in ("sources", "cosmic_rays"):
                tree[key] = np.array(tree[key])
        return cls(**{f.name: tree[f.name] for f in fields(cls) if f.name in tree})


def load_cal_truth(path) -> CalTruth:
    """The truth of a simulated ``_cal`` file (its path or the ``_caltruth.asdf`` path)."""
    path = os.fspath(path)
    if not path.endswith("_caltruth.asdf"):
        path = cal_truth_path_for(path)
    return CalTruth.load(path)


@dataclass
class CalSet:
    """The files of a simulated set of calibrated dithered exposures.

    Attributes
    ----------
    exposures : list of str
        ``_cal.fits`` paths, in exposure order.
    truths : list of CalTruth
    catalog : str
        The truth catalog (ECSV).
    image3_asn : str
        The level-3 association of the exposures.
    product_name : str
        Its product name.
    scene : Scene
    """

    exposures: list = field(default_factory=list)
    truths: list = field(default_factory=list)
    catalog: str = ""
    image3_asn: str = ""
    product_name: str = ""
    scene: object = None


def _ramp_read_variance(readnoise_cds: float, ngroups: int, group_time: float) -> float:
    """Variance (DN/s)^2 of an unweighted ramp slope from read noise alone.

    The per-read noise is ``readnoise_cds / sqrt(2)``; a least-squares slope
    over ``N`` equally spaced groups has variance ``12 sigma^2 / (N^3 - N) / tgroup^2``.
    """
    n = max(int(ngroups), 2)
    sigma2 = readnoise_cds**2 / 2.0
    return 12.0 * sigma2 / (n**3 - n) / group_time**2


def simulate_cal_exposure(setup, *, rng, cosmic_ray_count=0, cosmic_ray_snr=(10.0, 300.0),
                          bad_pixel_fraction=5e-4, keep_noiseless=False):
    """Simulate one calibrated exposure from an :class:`~photoncal.sim.exposure.ExposureSetup`.

    Parameters
    ----------
    setup : ExposureSetup
        From :func:`photoncal.sim.exposure.setup_exposure` (pointing, dither,
        scene, sky offset, timing).
    rng : numpy.random.Generator
        Noise, bad pixels and cosmic rays.
    cosmic_ray_count : int
        Unflagged cosmic-ray events.
    cosmic_ray_snr : (float, float)
        Range of the hit pixel's excess in units of its ERR (log-uniform).
    bad_pixel_fraction : float
        Fraction of science pixels flagged DO_NOT_USE (NaN).
    keep_noiseless : bool
        Keep the noise-free image in the truth.

    Returns
    -------
    (ImageModel, CalTruth)
    """
    from photoncal import datamodels
    from photoncal.sim.distortion import distortion_model, filter_offsets, pixel_area_map
    from photoncal.sim.exposure import SimulatedExposure, exposure_filename, true_wcs
    from photoncal.sim.instruments import frame_divisor, get_filter, reference_pixel_mask
    from photoncal.sim.observe import build_level1b
    from photoncal.sim.photometry import (
        ARCSEC2_PER_SR,
        electrons_per_jansky,
        jy_to_abmag,
        photmjsr,
        photuja2,
        sky_surface_brightness,
    )
    from photoncal.sim.psf import airy_psf
    from photoncal.sim.scene import render_scene
    from photoncal.sim.truth import Truth
    from photoncal.wcs.pointing import imaging_wcs

    det, sub = setup.det, setup.sub
    ny, nx = sub.ysize, sub.xsize
    filt = get_filter(det.instrument, setup.filter_name)
    conversion = photmjsr(det, filt)
    area, pixar = pixel_area_map(det, (slice(sub.ystart - 1, sub.ystart - 1 + ny),
                                       slice(sub.xstart - 1, sub.xstart - 1 + nx)))
    area = np.asarray(area, dtype=np.float64)
    refmask = reference_pixel_mask(det, sub)

    sky = setup.scene.sky_background
    if sky is None:
        sky = sky_surface_brightness(det, filt)
    sky = float(sky)
    dn_per_jy = electrons_per_jansky(filt) / det.gain
    wcs_true = true_wcs(det, sub, setup.true, setup.filter_name)
    source_dn, placed = render_scene(setup.scene, wcs_true, (ny, nx), dn_per_jy,
                                     airy_psf(filt.pivot_um))
    noiseless = (sky + setup.sky_offset) + source_dn * conversion / area

    # Noise, in DN/s of the pixel, then in MJy/sr.
    texp = setup.timing["exposure_time"]
    to_sb = conversion / area
    rate_dn = np.maximum(noiseless, 0.0) / to_sb
    var_poisson = rate_dn / (det.gain * texp) * to_sb**2
    var_rnoise = _ramp_read_variance(det.readnoise_cds, setup.ngroups, setup.timing["group_time"]) \
        / setup.nints * to_sb**2
    err = np.sqrt(var_poisson + var_rnoise)
    data = noiseless + rng.standard_normal((ny, nx)) * err

    dq = np.zeros((ny, nx), dtype=np.uint32)
    flag = dqflags.pixel
    dq[refmask] = flag["REFERENCE_PIXEL"] | flag["DO_NOT_USE"]
    bad = (rng.uniform(size=(ny, nx)) < bad_pixel_fraction) & ~refmask
    dq[bad] |= flag["DO_NOT_USE"] | flag["DEAD"]

    # Cosmic rays missed by the jump step: sharp excesses, some spilling sideways.
    rows = []
    science = np.flatnonzero((dq == 0).ravel())
    lo, hi = cosmic_ray_snr
    for event in range(int(cosmic_ray_count)):
        k = science[rng.integers(science.size)]
        y, x = divmod(int(k), nx)
        snr = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        excess = snr * err[y, x]
        rows.append((event, y, x, excess, snr, True))
        if rng.uniform() < 0.4:
            for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                yy, xx = y + dy, x + dx
                if 0 <= yy < ny and 0 <= xx < nx and dq[yy, xx] == 0:
                    side = excess * rng.uniform(0.05, 0.15)
                    rows.append((event, yy, xx, side, side / err[yy, xx], False))
    cosmic = np.array(rows, dtype=_CR_DTYPE)
    for row in cosmic:
        data[row["y"], row["x"]] += row["excess"]

    unusable = (dq & flag["DO_NOT_USE"]) != 0
    data[unusable] = np.nan
    err[unusable] = np.nan

    # Metadata: everything a Level-1b product of this setup carries, then stage-2 keywords.
    fake = SimulatedExposure(setup, np.zeros((1, 1, ny, nx), dtype=np.uint16), None,
                             Truth(frame_divisor=frame_divisor(setup.nframes)))
    raw = build_level1b(fake)
    model = datamodels.ImageModel(data=data.astype(np.float32))
    model.update(raw)
    model.dq = dq
    model.err = err.astype(np.float32)
    model.var_poisson = np.where(unusable, np.nan, var_poisson).astype(np.float32)
    model.var_rnoise = np.where(unusable, np.nan, var_rnoise).astype(np.float32)
    model.var_flat = np.where(unusable, np.nan, 0.0).astype(np.float32)
    model.area = area.astype(np.float32)
    meta = model.meta
    meta.filename = exposure_filename(**setup.ids, detector=det.name, suffix="cal")
    meta.filetype = "calibrated"
    meta.origin = SIMULATED_ORIGIN
    meta.data_processing_software_version = f"photoncal.sim {__version__}"
    meta.calibration_software_version = f"photoncal.sim {__version__}"
    meta.bunit_data = "MJy/sr"
    meta.bunit_err = "MJy/sr"
    meta.photometry.conversion_megajanskys = float(conversion)
    meta.photometry.conversion_microjanskys = photuja2(conversion)
    meta.photometry.pixelarea_steradians = float(pixar)
    meta.photometry.pixelarea_arcsecsq = float(pixar * ARCSEC2_PER_SR)
    for step in ("group_scale", "dq_init", "saturation", "ipc", "superbias", "refpix", "linearity",
                 "dark_sub", "jump", "ramp_fit", "gain_scale", "assign_wcs", "flat_field", "photom"):
        setattr(meta.cal_step, step, "COMPLETE")
    offset = filter_offsets(det).get(setup.filter_name) if det.is_miri else None
    meta.wcs = imaging_wcs(distortion_model(det), setup.commanded.wcsinfo(),
                           subarray_origin=(sub.xstart, sub.ystart), filter_offset=offset,
                           bounding_box=((-0.5, nx - 0.5), (-0.5, ny - 0.5)))

    sources = np.zeros(placed.size, dtype=_SOURCE_DTYPE)
    if placed.size:
        index = {int(i): k for k, i in enumerate(setup.scene.sources["id"])}
        src = setup.scene.sources[[index[int(i)] for i in placed["id"]]]
        for name in ("id", "ra", "dec", "flux", "type"):
            sources[name] = src[name]
        sources["abmag"] = jy_to_abmag(src["flux"])
        for name in ("x", "y", "on_image"):
            sources[name] = placed[name]
    err_pointing = setup.pointing_error
    truth = CalTruth(
        filename=meta.filename, detector=det.name, filter=setup.filter_keyword,
        pupil=setup.pupil_keyword,
        subarray={"name": sub.name, "xstart": sub.xstart, "ystart": sub.ystart,
                  "xsize": sub.xsize, "ysize": sub.ysize},
        commanded_pointing=setup.commanded.wcsinfo(), true_pointing=setup.true.wcsinfo(),
        pointing_error={"d_east": err_pointing[0], "d_north": err_pointing[1],
                        "d_roll": err_pointing[2]},
        sky_background=sky, sky_offset=float(setup.sky_offset), photmjsr=float(conversion),
        pixar_sr=float(pixar), exposure_time=float(texp), sources=sources, cosmic_rays=cosmic,
        noiseless=noiseless.astype(np.float32) if keep_noiseless else None,
    )
    return model, truth


def simulate_cal_set(n_exposures: int = 4, *, detector: str = "NRCA1", subarray: str = "SUB640",
                     readpatt: str | None = "DEEP8", ngroups: int = 8, nints: int = 1, filter=None,
                     scene=None, ra: float = 53.16, dec: float = -27.79, roll: float = 45.0,
                     dither_offsets=None, dither_size=None, pointing_error: float = 0.1,
                     roll_error: float = 0.0, sky_offset_amplitude=None, n_stars: int = 60,
                     n_galaxies: int = 30, mag_range=(18.0, 25.0), cosmic_rays: int = 50,
                     cosmic_ray_snr=(10.0, 300.0), bad_pixel_fraction: float = 5e-4, seed: int = 0,
                     output_dir=".", program: int = 1234, observation: int = 1, visit: int = 1,
                     start_time=None, reference_dir=None, write_references: bool = True,
                     keep_noiseless: bool = False) -> CalSet:
    """Write ``n_exposures`` dithered calibrated exposures of one field, with a truth.

    Parameters
    ----------
    n_exposures : int
        Dither positions (one exposure each).
    detector, subarray, readpatt, ngroups, nints, filter
        The exposure setup (see :func:`photoncal.sim.simulate_exposure`).
    scene : Scene, optional
        Default: ``n_stars`` point sources and ``n_galaxies`` galaxies of AB
        magnitudes ``mag_range`` covering every dither position.
    ra, dec, roll : float
        Commanded pointing of the first exposure.
    dither_offsets : list of (float, float), optional
        Ideal-frame offsets (arcsec); default
        :func:`photoncal.sim.observe.dither_pattern` of ``dither_size``
        (default 4 % of the field).
    pointing_error : float
        Largest true-minus-commanded pointing offset (arcsec), random per
        exposure; the first exposure is perturbed as well.
    roll_error : float
        Largest roll error (deg).
    sky_offset_amplitude : float, optional
        Per-exposure sky offsets uniform in +-this (MJy/sr); default 5 % of
        the sky.  The first exposure has none.
    cosmic_rays : int
        Unflagged cosmic-ray events per exposure.
    cosmic_ray_snr, bad_pixel_fraction
        See :func:`simulate_cal_exposure`.
    seed : int
        Every random draw derives from it.
    output_dir : path
    program, observation, visit, start_time
        Identifiers and time of the first exposure.
    reference_dir : path, optional
        Where the stage-3 references (DRIZPARS, APCORR, ABVEGAOFFSET) go;
        default :func:`photoncal.config.default_reference_dir`.
    write_references : bool
        Write them (if absent).
    keep_noiseless : bool
        Keep each exposure's noise-free image in its truth (memory).

    Returns
    -------
    CalSet
    """
    from astropy import units as u
    from astropy.time import Time

    from photoncal.sim.exposure import aperture_reference, default_attitude, setup_exposure
    from photoncal.sim.instruments import default_filter, get_detector, get_filter, get_subarray
    from photoncal.sim.observe import dither_offsets_for
    from photoncal.sim.photometry import sky_surface_brightness
    from photoncal.sim.scene import Scene, make_scene

    det = get_detector(detector)
    sub = get_subarray(det.instrument, subarray)
    filt = get_filter(det.instrument, filter or default_filter(det))
    rng = np.random.default_rng(seed)
    field_size = max(sub.xsize, sub.ysize) * det.pixel_scale
    dither_offsets = dither_offsets_for(n_exposures, field_size, det.pixel_scale, dither_offsets, dither_size)
    base = default_attitude(det, sub, ra, dec, roll)
    if scene is None:
        radius = 0.75 * field_size + max(math.hypot(*o) for o in dither_offsets)
        centre = base.at(*aperture_reference(det, sub)[2:])
        scene = make_scene(centre.ra_ref, centre.dec_ref, radius=radius, n_stars=n_stars,
                           n_galaxies=n_galaxies, mag_range=mag_range,
                           seed=int(rng.integers(2**31)))
        scene = Scene(scene.sources, None, float(ra), float(dec))
    sky = scene.sky_background if scene.sky_background is not None else sky_surface_brightness(det, filt)
    amp = 0.05 * sky if sky_offset_amplitude is None else float(sky_offset_amplitude)

    output_dir = os.fspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    if write_references:
        from photoncal.sim.references import ensure_stage3_references

        ensure_stage3_references(det.instrument, det.name, directory=reference_dir)
    start = Time(start_time or "2025-01-15T03:00:00.000", scale="utc")
    result = CalSet(scene=scene)
    t = start
    for k, (dx, dy) in enumerate(dither_offsets):
        r = pointing_error * math.sqrt(rng.uniform())
        theta = rng.uniform(0, 2 * math.pi)
        error = (r * math.cos(theta), r * math.sin(theta), rng.uniform(-roll_error, roll_error))
        sky_offset = 0.0 if k == 0 else float(rng.uniform(-amp, amp))
        setup = setup_exposure(
            detector=det.name, subarray=sub.name, readpatt=readpatt, ngroups=ngroups, nints=nints,
            filter=filt.name, scene=scene, attitude=base, pointing_error=error,
            dither_offset=(dx, dy), sky_offset=sky_offset, seed=int(rng.integers(2**31)),
            start_time=t, program=program, observation=observation, visit=visit, exposure=k + 1,
        )
        model, truth = simulate_cal_exposure(
            setup, rng=np.random.default_rng(setup.seed), cosmic_ray_count=cosmic_rays,
            cosmic_ray_snr=cosmic_ray_snr, bad_pixel_fraction=bad_pixel_fraction,
            keep_noiseless=keep_noiseless)
        model.meta.dither.primary_type = "FULLBOX" if n_exposures > 1 else "NONE"
        model.meta.dither.position_number = k + 1
        model.meta.dither.total_points = n_exposures
        path = os.path.join(output_dir, model.meta.filename)
        model.save(path)
        truth.save(cal_truth_path_for(path))
        result.exposures.append(path)
        result.truths.append(truth)
        t = t + (setup.timing["duration"] + 60.0) * u.s

    result.catalog = scene.write_catalog(
        os.path.join(output_dir, f"jw{program:05d}-o{observation:03d}_truth_catalog.ecsv"))
    result.product_name, result.image3_asn = _write_image3_association(
        result.exposures, output_dir, program, observation, start, filt, det)
    return result


def _write_image3_association(exposures, output_dir, program, observation, start, filt, det):
    from photoncal.associations import asn_from_list

    stamp = start.strftime("%Y%m%dt%H%M%S")
    if det.instrument == "NIRCAM":
        optical = f"{filt.pupil}-{filt.filter}" if filt.pupil else filt.filter
    elif det.instrument == "NIRISS":
        optical = "-".join(sorted(x for x in (filt.filter, filt.pupil) if x))
    else:
        optical = filt.filter
    product = f"jw{program:05d}-o{observation:03d}_t001_{det.instrument.lower()}_{optical.lower()}"
    asn = asn_from_list(list(exposures), product_name=product,
                        asn_dir=output_dir, acid=f"o{observation:03d}")
    asn.data["asn_type"] = "image3"
    asn.data["program"] = f"{program:05d}"
    asn.data["asn_id"] = f"o{observation:03d}"
    asn.data["asn_pool"] = f"jw{program:05d}_{stamp}_pool"
    asn.data["target"] = "t001"
    _, text = asn.dump()
    path = os.path.join(output_dir, f"jw{program:05d}-o{observation:03d}_{stamp}_image3_00001_asn.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return product, path
