"""Simulated observations written to disk: single exposures and dithered sets.

:func:`simulate_exposure` runs the signal chain of
:mod:`photoncal.sim.exposure`, writes the Level-1b file (``_uncal.fits``,
``DATAMODL = 'Level1bModel'``, uint16 SCI, GROUP and INT_TIMES tables, the
genuine primary and SCI keywords, ``ORIGIN = 'PHOTONCAL-SIM'``), the truth
beside it (``_truth.asdf``), and makes sure the default simulated reference
set that matches it exists.

:func:`simulate_dither_set` observes one field several times with dither
offsets, small recorded pointing errors and per-exposure sky offsets, and
writes a truth catalog (ECSV) and image2/image3 associations.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
from astropy import units as u
from astropy.time import Time

from photoncal import __version__
from photoncal.config import SIMULATED_ORIGIN
from photoncal.sim.distortion import distortion_model
from photoncal.sim.exposure import (
    SimulatedExposure,
    aperture_reference,
    default_attitude,
    exposure_filename,
    setup_exposure,
    simulate_arrays,
)
from photoncal.sim.instruments import get_detector, get_subarray
from photoncal.sim.scene import Scene, make_scene
from photoncal.sim.truth import Truth, truth_path_for
from photoncal.wcs.pointing import imaging_wcs, tangent_plane_keywords

__all__ = [
    "build_level1b",
    "simulate_exposure",
    "simulate_dither_set",
    "DitherSet",
    "dither_pattern",
    "aperture_name",
    "load_truth",
]

_TEMPLATES = {
    "NIRCAM": "NIRCam Imaging",
    "NIRISS": "NIRISS Imaging",
    "FGS": "FGS External Calibration",
    "MIRI": "MIRI Imaging",
}


def aperture_name(detector: str, subarray: str) -> str:
    """The science aperture name (APERNAME) of a detector and subarray."""
    det = detector.upper()
    sub = subarray.upper()
    if det.startswith("NRC"):
        det = det.replace("LONG", "5")
        return f"{det}_{sub}"
    if det == "NIS":
        return "NIS_CEN" if sub == "FULL" else f"NIS_{sub}"
    if det.startswith("GUIDER"):
        return f"FGS{det[-1]}_{sub}"
    return f"MIRIM_{sub}"


def _position_angle_of(attitude, dv2, dv3) -> float:
    """Position angle (deg, east of north) of the V-frame direction (dv2, dv3) at the reference."""
    eps = 1.0  # arcsec
    norm = math.hypot(dv2, dv3)
    ra0, dec0 = attitude.sky(attitude.v2_ref, attitude.v3_ref)
    ra1, dec1 = attitude.sky(attitude.v2_ref + eps * dv2 / norm, attitude.v3_ref + eps * dv3 / norm)
    east = ((ra1 - ra0 + 180.0) % 360.0 - 180.0) * math.cos(math.radians(dec0))
    north = dec1 - dec0
    return float(np.mod(np.degrees(np.arctan2(east, north)), 360.0))


def _group_and_int_tables(setup, start: Time):
    """GROUP and INT_TIMES tables of the exposure."""
    timing = setup.timing
    tframe = timing["frame_time"]
    rows = []
    int_rows = []
    for i in range(setup.nints):
        t_int = start + (setup.nresets_at_start * tframe + i * timing["integration_duration"]) * u.s
        for g, reads in enumerate(setup.read_pattern):
            end = t_int + reads[-1] * tframe * u.s
            day_of_year = int(end.datetime.timetuple().tm_yday)
            seconds = (end.datetime - end.datetime.replace(hour=0, minute=0, second=0, microsecond=0))
            ms = int(seconds.total_seconds() * 1000)
            rows.append((i + 1, g + 1, day_of_year, ms, 0, end.isot, setup.sub.xsize, setup.sub.ysize,
                         0, 0, "Normal Completion", end.tdb.mjd, end.tdb.mjd))
        int_start = t_int
        int_end = t_int + setup.read_pattern[-1][-1] * tframe * u.s
        int_mid = int_start + (int_end - int_start) / 2
        int_rows.append((i + 1, int_start.mjd, int_mid.mjd, int_end.mjd,
                         int_start.tdb.mjd, int_mid.tdb.mjd, int_end.tdb.mjd))
    group = np.array(rows, dtype=[
        ("integration_number", "<i4"), ("group_number", "<i2"), ("end_day", "<i2"),
        ("end_milliseconds", "<i4"), ("end_submilliseconds", "<i2"), ("group_end_time", "S26"),
        ("number_of_columns", "<i2"), ("number_of_rows", "<i2"), ("number_of_gaps", "<i2"),
        ("completion_code_number", "<i2"), ("completion_code_text", "S36"),
        ("bary_end_time", "<f8"), ("helio_end_time", "<f8")])
    int_times = np.array(int_rows, dtype=[
        ("integration_number", "<i4"), ("int_start_MJD_UTC", "<f8"), ("int_mid_MJD_UTC", "<f8"),
        ("int_end_MJD_UTC", "<f8"), ("int_start_BJD_TDB", "<f8"), ("int_mid_BJD_TDB", "<f8"),
        ("int_end_BJD_TDB", "<f8")])
    return group, int_times


def build_level1b(sim: SimulatedExposure, filename: str | None = None, dither: dict | None = None):
    """Wrap simulated arrays into a Level1bModel with the genuine metadata.

    Parameters
    ----------
    sim : SimulatedExposure
        Output of :func:`photoncal.sim.exposure.simulate_arrays`.
    filename : str, optional
        FILENAME (default the DMS name of the exposure).
    dither : dict, optional
        ``primary_type``, ``position_number``, ``total_points``.

    Returns
    -------
    photoncal.datamodels.Level1bModel
    """
    from photoncal import datamodels

    setup = sim.setup
    det, sub = setup.det, setup.sub
    model = datamodels.Level1bModel(data=sim.data)
    if sim.refout is not None:
        model.refout = sim.refout
    meta = model.meta
    ids = setup.ids
    start = setup.start_time
    timing = setup.timing
    end = start + timing["duration"] * u.s
    mid = start + timing["duration"] / 2 * u.s

    meta.date = end.isot
    meta.origin = SIMULATED_ORIGIN
    meta.time_sys = "UTC"
    meta.time_unit = "s"
    meta.filename = filename or exposure_filename(**ids, detector=det.name)
    meta.filetype = "uncalibrated"
    meta.model_type = "Level1bModel"
    meta.telescope = "JWST"
    meta.data_processing_software_version = f"photoncal.sim {__version__}"
    meta.program.pi_name = "Simulated, Photoncal"
    meta.program.category = "GO"
    meta.program.science_category = "Simulated data"

    obs = meta.observation
    visit_id = f"{ids['program']:05d}{ids['observation']:03d}{ids['visit']:03d}"
    act36 = exposure_filename(**ids, detector="x").split("_")[1][3:5]
    obs.date = start.isot[:10]
    obs.time = start.isot[11:23]
    obs.date_beg = start.isot
    obs.date_end = end.isot
    obs.visit_id = visit_id
    obs.obs_id = f"V{visit_id}P00000000{ids['visit_group']:02d}{ids['parallel']}{act36}"
    obs.program_number = f"{ids['program']:05d}"
    obs.observation_number = f"{ids['observation']:03d}"
    obs.visit_number = f"{ids['visit']:03d}"
    obs.visit_group = f"{ids['visit_group']:02d}"
    obs.sequence_id = f"{ids['parallel']}"
    obs.activity_id = act36
    obs.exposure_number = f"{ids['exposure']:05d}"
    obs.template = _TEMPLATES[det.instrument]
    obs.observation_label = "photoncal simulation"
    obs.bkgdtarg = False

    meta.visit.type = "PRIME_TARGETED_FIXED"
    meta.visit.start_time = start.isot.replace("T", " ")
    meta.visit.status = "SUCCESSFUL"
    meta.visit.internal_target = False
    meta.visit.too_visit = False
    meta.visit.tsovisit = False
    meta.visit.engineering_quality = "OK"
    meta.visit.crowded_field = False

    tgt = meta.target
    tgt.proposer_name = "SIMULATED-FIELD"
    tgt.catalog_name = "SIMULATED-FIELD"
    tgt.type = "FIXED"
    tgt.ra = float(setup.scene.ra if setup.scene.sources.size else setup.commanded.ra_ref)
    tgt.dec = float(setup.scene.dec if setup.scene.sources.size else setup.commanded.dec_ref)
    tgt.source_type_apt = "EXTENDED"

    ins = meta.instrument
    ins.name = det.instrument
    ins.detector = det.name
    if det.module:
        ins.module = det.module
    if det.channel:
        ins.channel = det.channel
    ins.filter = setup.filter_keyword
    if det.instrument in ("NIRCAM", "NIRISS"):
        ins.pupil = setup.pupil_keyword

    exp = meta.exposure
    exp.type = det.exp_type
    exp.count = ids["exposure"]
    exp.prime_parallel = "PRIME" if ids["parallel"] == 1 else "PARALLEL"
    exp.start_time = start.mjd
    exp.mid_time = mid.mjd
    exp.end_time = end.mjd
    exp.start_time_mjd = start.mjd
    exp.mid_time_mjd = mid.mjd
    exp.end_time_mjd = end.mjd
    exp.start_time_tdb = start.tdb.mjd
    exp.mid_time_tdb = mid.tdb.mjd
    exp.end_time_tdb = end.tdb.mjd
    exp.readpatt = setup.readpatt
    exp.noutputs = 5 if det.is_miri else sub.noutputs
    exp.nints = setup.nints
    exp.integration_start = 1
    exp.integration_end = setup.nints
    exp.ngroups = setup.ngroups
    exp.nframes = setup.nframes
    exp.groupgap = setup.groupgap
    exp.drop_frames1 = setup.drop_frames1
    exp.drop_frames3 = 0
    exp.frame_divisor = sim.truth.frame_divisor
    exp.nsamples = 1
    exp.sample_time = 10.0
    exp.frame_time = timing["frame_time"]
    exp.group_time = timing["group_time"]
    exp.integration_time = timing["integration_time"]
    exp.exposure_time = timing["exposure_time"]
    exp.effective_exposure_time = timing["exposure_time"]
    exp.measurement_time = timing["exposure_time"]
    exp.duration = timing["duration"]
    exp.elapsed_exposure_time = timing["duration"]
    exp.nresets_at_start = setup.nresets_at_start
    exp.nresets_between_ints = setup.nresets_between_ints
    exp.zero_frame = False
    exp.data_problem = False
    exp.gain_factor = 1.0

    sa = meta.subarray
    sa.name = sub.name
    sa.xstart = sub.xstart
    sa.ystart = sub.ystart
    sa.xsize = sub.xsize
    sa.ysize = sub.ysize
    sa.fastaxis = det.fastaxis
    sa.slowaxis = det.slowaxis

    # Pointing (the commanded one: the truth has the real one).
    att = setup.commanded
    x_ref, y_ref, _, _ = aperture_reference(det, sub)
    ang = math.radians(det.v3_idl_yang)
    pa_aper = _position_angle_of(att, math.sin(ang), math.cos(ang))
    meta.aperture.name = aperture_name(det.name, sub.name)
    meta.aperture.pps_name = meta.aperture.name
    meta.aperture.position_angle = pa_aper
    meta.pointing.ra_v1 = att.ra_v1
    meta.pointing.dec_v1 = att.dec_v1
    meta.pointing.pa_v3 = att.pa_v3
    meta.velocity_aberration.scale_factor = 1.0
    meta.velocity_aberration.ra_reference = att.ra_ref
    meta.velocity_aberration.dec_reference = att.dec_ref
    meta.coordinates.reference_frame = "ICRS"

    wi = meta.wcsinfo
    wi.v2_ref = att.v2_ref
    wi.v3_ref = att.v3_ref
    wi.vparity = det.vparity
    wi.v3yangle = det.v3_idl_yang
    wi.ra_ref = att.ra_ref
    wi.dec_ref = att.dec_ref
    wi.roll_ref = att.roll_ref
    x_sub = x_ref - (sub.xstart - 1)
    y_sub = y_ref - (sub.ystart - 1)
    wi.siaf_xref_sci = x_sub + 1.0
    wi.siaf_yref_sci = y_sub + 1.0
    wcs = imaging_wcs(distortion_model(det), att.wcsinfo(), subarray_origin=(sub.xstart, sub.ystart))
    for key, value in tangent_plane_keywords(wcs, (x_sub, y_sub)).items():
        if key == "RADESYS":
            continue
        setattr(wi, key.lower(), value)
    corners_x = np.array([-0.5, sub.xsize - 0.5, sub.xsize - 0.5, -0.5])
    corners_y = np.array([-0.5, -0.5, sub.ysize - 0.5, sub.ysize - 0.5])
    ra, dec = wcs(corners_x, corners_y, with_bounding_box=False)
    wi.s_region = "POLYGON ICRS " + " ".join(f"{a:.9f} {d:.9f}" for a, d in zip(ra, dec))

    dth = meta.dither
    dither = dither or {}
    dth.primary_type = dither.get("primary_type", "NONE")
    dth.position_number = int(dither.get("position_number", 1))
    dth.total_points = int(dither.get("total_points", 1))
    dth.x_offset = float(setup.dither_offset[0])
    dth.y_offset = float(setup.dither_offset[1])
    meta.bunit_data = "DN"

    group, int_times = _group_and_int_tables(setup, start)
    model.group = group
    model.int_times = int_times
    return model


def simulate_exposure(instrument=None, detector="NRCA1", subarray="FULL", readpatt=None,
                      ngroups=5, nints=1, *, filter=None, scene=None, effects=None, seed=0,
                      output_dir=".", ra=53.16, dec=-27.79, roll=45.0, attitude=None,
                      pointing_error=(0.0, 0.0, 0.0), dither_offset=(0.0, 0.0), sky_offset=0.0,
                      program=1234, observation=1, visit=1, visit_group=1, parallel=1,
                      activity=1, exposure=1, start_time=None, filename=None,
                      reference_dir=None, write_references=True, keep_ramp=False,
                      dither=None, dither_applied=False):
    """Simulate one Level-1b exposure with a known truth.

    Parameters
    ----------
    instrument : str, optional
        NIRCAM, NIRISS, FGS or MIRI (checked against ``detector``).
    detector : str
        DETECTOR: NRCA1-4, NRCALONG, NRCB1-4, NRCBLONG, NIS, GUIDER1/2, MIRIMAGE.
    subarray : str
        SUBARRAY (``FULL`` or one of :data:`photoncal.sim.instruments.SUBARRAYS`).
    readpatt : str, optional
        READPATT (default RAPID, NISRAPID, FGSRAPID or FAST).
    ngroups, nints : int
        Groups per integration and integrations.
    filter : str, optional
        Filter name (default F200W/F444W/F150W/F770W; FGS has none).
    scene : Scene, optional
        The sky; default a random field of stars and galaxies from ``seed``.
    effects : Effects, str or dict, optional
        Signal-chain switches (:class:`~photoncal.sim.effects.Effects`).
    seed : int
        Every random draw of the exposure derives from it.
    output_dir : path or None
        Directory of the files; ``None`` writes nothing and returns the model.
    ra, dec, roll : float
        Commanded RA_REF, DEC_REF, ROLL_REF (deg) at the aperture reference
        point (ignored when ``attitude`` is given).
    attitude : photoncal.sim.pointing.Attitude, optional
        Commanded attitude (re-referenced to this aperture).
    pointing_error : tuple
        ``(d_east, d_north[, d_roll])``: true minus commanded pointing (arcsec, deg).
    dither_offset : (float, float)
        Ideal-frame offset (arcsec) applied to the commanded attitude.
    sky_offset : float
        MJy/sr added to the scene's sky in this exposure.
    program, observation, visit, visit_group, parallel, activity, exposure : int
        Observation identifiers (they make the file name).
    start_time : str or astropy.time.Time, optional
        UTC start of the exposure.
    filename : str, optional
        Override the DMS file name.
    reference_dir : path, optional
        Where the matching reference set is written (default
        :func:`photoncal.config.default_reference_dir`).
    write_references : bool
        Make sure the reference set exists.
    keep_ramp : bool
        Keep the unquantised groups in ``truth.ramp``.
    dither : dict, optional
        Dither keywords (``primary_type``, ``position_number``, ``total_points``).
    dither_applied : bool
        ``attitude`` already includes the dither slew; ``dither_offset`` is
        only recorded (XOFFSET/YOFFSET).

    Returns
    -------
    (path, Truth)
        The path of the ``_uncal.fits`` file (or the Level1bModel when
        ``output_dir`` is None) and the truth, also saved as ``*_truth.asdf``.
    """
    setup = setup_exposure(
        instrument=instrument, detector=detector, subarray=subarray, readpatt=readpatt,
        ngroups=ngroups, nints=nints, filter=filter, scene=scene, attitude=attitude, ra=ra,
        dec=dec, roll=roll, pointing_error=pointing_error, dither_offset=dither_offset,
        sky_offset=sky_offset, effects=effects, seed=seed, start_time=start_time,
        program=program, observation=observation, visit=visit, visit_group=visit_group,
        parallel=parallel, activity=activity, exposure=exposure, dither_applied=dither_applied,
    )
    if write_references:
        from photoncal.sim.references import ensure_reference_set

        ensure_reference_set(setup.det.instrument, setup.det.name, subarray=setup.sub.name,
                             readpatt=setup.readpatt, ngroups=setup.ngroups,
                             filters=[setup.filter_name], directory=reference_dir)
    sim = simulate_arrays(setup, keep_ramp=keep_ramp)
    model = build_level1b(sim, filename=filename, dither=dither)
    truth = sim.truth
    truth.filename = model.meta.filename
    if output_dir is None:
        return model, truth
    os.makedirs(os.fspath(output_dir), exist_ok=True)
    path = os.path.join(os.fspath(output_dir), model.meta.filename)
    model.to_fits(path)
    truth.save(truth_path_for(path))
    return path, truth


# --------------------------------------------------------------------------
# dithered sets


def dither_pattern(n_exposures: int, size: float, pixel_scale: float) -> list[tuple[float, float]]:
    """Ideal-frame offsets (arcsec) of an ``n_exposures``-point dither.

    Points lie on a circle of radius ``size`` (the first at the origin),
    with sub-pixel steps of 1/n pixel added so that the set samples the
    pixel phase.
    """
    offsets = [(0.0, 0.0)]
    for i in range(1, n_exposures):
        angle = 2 * math.pi * (i - 1) / max(n_exposures - 1, 1) + math.pi / 4
        sub = i / n_exposures * pixel_scale
        offsets.append((size * math.cos(angle) + sub, size * math.sin(angle) + 0.5 * sub))
    return offsets


def dither_offsets_for(n_exposures: int, field_size: float, pixel_scale: float, dither_offsets=None,
                       dither_size=None) -> list[tuple[float, float]]:
    """The offsets of a dithered set: ``dither_offsets`` checked against
    ``n_exposures``, or a :func:`dither_pattern` of radius ``dither_size``
    (default 4 % of ``field_size``, arcsec)."""
    if n_exposures < 1:
        raise ValueError(f"n_exposures must be >= 1, got {n_exposures}")
    if dither_offsets is None:
        size = 0.04 * field_size if dither_size is None else dither_size
        dither_offsets = dither_pattern(n_exposures, size, pixel_scale)
    if len(dither_offsets) != n_exposures:
        raise ValueError(f"{len(dither_offsets)} dither offsets given for {n_exposures} exposures")
    return dither_offsets


@dataclass
class DitherSet:
    """The files of a simulated dithered observation.

    Attributes
    ----------
    exposures : list of str
        ``_uncal.fits`` paths (dither positions x detectors).
    truths : list of Truth
    catalog : str
        The truth catalog (ECSV: id, ra, dec, flux [Jy], abmag, type, ...).
    image2_asn, image3_asn : str
        Level-2 (one product per exposure, ``_rate`` members) and level-3
        (``_cal`` members) associations.
    scene : Scene
    """

    exposures: list = field(default_factory=list)
    truths: list = field(default_factory=list)
    catalog: str = ""
    image2_asn: str = ""
    image3_asn: str = ""
    scene: Scene | None = None


def _write_associations(dataset: DitherSet, output_dir, program, observation, start, filter_name,
                        instrument, pupil):
    from photoncal.associations import asn_from_list

    stamp = start.strftime("%Y%m%dt%H%M%S")
    prefix = f"jw{program:05d}-o{observation:03d}_{stamp}"
    rates = [p.replace("_uncal.fits", "_rate.fits") for p in dataset.exposures]
    cals = [p.replace("_uncal.fits", "_cal.fits") for p in dataset.exposures]
    opt = filter_name.lower() if not pupil or pupil.upper() in ("N/A", "") else f"{pupil}-{filter_name}".lower()
    product = f"jw{program:05d}-o{observation:03d}_t001_{instrument.lower()}_{opt}"

    asn2 = asn_from_list(rates, rule="DMSLevel2bBase", asn_dir=output_dir, acid=f"o{observation:03d}")
    asn3 = asn_from_list(cals, product_name=product, asn_dir=output_dir, acid=f"o{observation:03d}")
    paths = []
    for asn, kind in ((asn2, "image2"), (asn3, "image3")):
        asn.data["asn_type"] = kind
        asn.data["program"] = f"{program:05d}"
        asn.data["asn_id"] = f"o{observation:03d}"
        asn.data["asn_pool"] = f"jw{program:05d}_{stamp}_pool"
        if kind == "image3":
            asn.data["target"] = "t001"
        _, text = asn.dump()
        path = os.path.join(os.fspath(output_dir), f"{prefix}_{kind}_00001_asn.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
        paths.append(path)
    return paths


def simulate_dither_set(n_exposures: int = 4, *, instrument=None, detector="NRCA1", detectors=None,
                        subarray="FULL", readpatt=None, ngroups=5, nints=1, filter=None,
                        scene=None, ra=53.16, dec=-27.79, roll=45.0, dither_offsets=None,
                        dither_size=None, pointing_error=0.05, roll_error=0.0,
                        sky_offset_amplitude=None, effects=None, seed=0, output_dir=".",
                        program=1234, observation=1, visit=1, start_time=None,
                        reference_dir=None, write_references=True, n_stars=40,
                        n_galaxies=40) -> DitherSet:
    """Observe one field ``n_exposures`` times with dithers and small pointing errors.

    Parameters
    ----------
    n_exposures : int
        Dither positions.
    detector, detectors : str or list of str
        One detector, or several read at each position (same exposure number).
    dither_offsets : list of (float, float), optional
        Ideal-frame offsets (arcsec); default :func:`dither_pattern` with
        ``dither_size`` (default 4 % of the field).
    pointing_error : float
        Largest pointing error (arcsec): the true pointing of each exposure
        differs from the commanded (header) one by a random offset within
        this radius, recorded in the truth.
    roll_error : float
        Largest roll error (deg).
    sky_offset_amplitude : float, optional
        Per-exposure sky offsets are uniform in +-this (MJy/sr); default 5 %
        of the sky level.  The first exposure has none.
    n_stars, n_galaxies : int
        Size of the default scene.
    Other parameters are those of :func:`simulate_exposure`.

    Returns
    -------
    DitherSet
    """
    names = [detector] if detectors is None else list(detectors)
    dets = [get_detector(name, instrument) for name in names]
    primary = dets[0]
    sub = get_subarray(primary.instrument, subarray)
    rng = np.random.default_rng(seed)
    field_size = max(sub.xsize, sub.ysize) * primary.pixel_scale
    dither_offsets = dither_offsets_for(n_exposures, field_size, primary.pixel_scale, dither_offsets, dither_size)
    base = default_attitude(primary, sub, ra, dec, roll)
    if scene is None:
        # n_stars and n_galaxies around each detector, over every dither position.
        radius = 0.75 * field_size + max(math.hypot(*o) for o in dither_offsets)
        parts = []
        for d in dets:
            centre = base.at(*aperture_reference(d, sub)[2:])
            parts.append(make_scene(centre.ra_ref, centre.dec_ref, radius=radius, n_stars=n_stars,
                                    n_galaxies=n_galaxies, seed=int(rng.integers(2**31))).sources)
        sources = np.concatenate(parts)
        sources["id"] = np.arange(1, sources.size + 1)
        scene = Scene(sources, None, float(ra), float(dec))
    start = Time(start_time or "2025-01-15T03:00:00.000", scale="utc")
    dataset = DitherSet(scene=scene)
    output_dir = os.fspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    t = start
    for k, (dx, dy) in enumerate(dither_offsets):
        r = pointing_error * math.sqrt(rng.uniform())
        theta = rng.uniform(0, 2 * math.pi)
        error = (r * math.cos(theta), r * math.sin(theta), rng.uniform(-roll_error, roll_error))
        sky = 0.0
        if k > 0:
            amp = sky_offset_amplitude
            if amp is None:
                from photoncal.sim.instruments import default_filter, get_filter
                from photoncal.sim.photometry import sky_surface_brightness

                f = get_filter(primary.instrument, filter or default_filter(primary))
                amp = 0.05 * (scene.sky_background or sky_surface_brightness(primary, f))
            sky = float(rng.uniform(-amp, amp))
        # One telescope slew for all detectors, in the primary detector's ideal frame.
        ang = math.radians(primary.v3_idl_yang)
        dv2 = primary.vparity * dx * math.cos(ang) + dy * math.sin(ang)
        dv3 = -primary.vparity * dx * math.sin(ang) + dy * math.cos(ang)
        commanded = base.slew(dv2, dv3)
        exp_seed = int(rng.integers(2**31))
        for det in dets:
            path, truth = simulate_exposure(
                det.instrument, det.name, subarray, readpatt, ngroups, nints, filter=filter,
                scene=scene, effects=effects, seed=exp_seed + _detector_seed_offset(det.name),
                output_dir=output_dir, attitude=commanded, pointing_error=error,
                dither_offset=(dx, dy), dither_applied=True, sky_offset=sky, program=program,
                observation=observation, visit=visit,
                exposure=k + 1, start_time=t, reference_dir=reference_dir,
                write_references=write_references,
                dither={"primary_type": "FULLBOX" if n_exposures > 1 else "NONE",
                        "position_number": k + 1, "total_points": n_exposures},
            )
            dataset.exposures.append(path)
            dataset.truths.append(truth)
        t = t + (truth.frame_time * (truth.nframes + truth.groupgap) * ngroups * nints + 60.0) * u.s
    catalog = os.path.join(output_dir, f"jw{program:05d}-o{observation:03d}_truth_catalog.ecsv")
    dataset.catalog = scene.write_catalog(catalog)
    f0 = dataset.truths[0]
    dataset.image2_asn, dataset.image3_asn = _write_associations(
        dataset, output_dir, program, observation, start, f0.filter if f0.filter != "CLEAR" else f0.pupil,
        primary.instrument, f0.pupil if primary.instrument == "NIRCAM" else "")
    return dataset


def _detector_seed_offset(detector: str) -> int:
    """Distinct, stable seeds for the detectors read in one exposure."""
    import zlib

    return zlib.crc32(detector.encode()) % 1000


def load_truth(path) -> Truth:
    """Load the truth of an exposure (its ``_uncal.fits`` path or the ``_truth.asdf`` path)."""
    path = os.fspath(path)
    if not path.endswith("_truth.asdf"):
        path = truth_path_for(path)
    return Truth.load(path)
