"""Compare pipeline products with a simulation's truth.

One place for the accuracy measures that the demo, the tests and the
benchmarks report: count-rate bias and error honesty, the fraction of cosmic
rays found, and the astrometric and photometric accuracy of a catalog.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from photoncal import dqflags

__all__ = [
    "RateAccuracy",
    "CosmicRayRecovery",
    "CatalogAccuracy",
    "robust_std",
    "clean_pixel_mask",
    "rate_accuracy",
    "cosmic_ray_recovery",
    "roman_cosmic_ray_significance",
    "roman_cosmic_ray_recovery",
    "catalog_accuracy",
]

_BAD = dqflags.pixel["DO_NOT_USE"] | dqflags.pixel["SATURATED"] | dqflags.pixel["JUMP_DET"]


def robust_std(values) -> float:
    """1.4826 x the median absolute deviation: the standard deviation of a Gaussian core."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


@dataclass
class RateAccuracy:
    """Count-rate accuracy on clean pixels.

    Attributes
    ----------
    n_pixels : int
        Clean pixels compared.
    median_relative_error : float
        Median of (measured - true) / true.
    normalized_scatter : float
        Robust standard deviation of (measured - true) / ERR; 1 for honest errors.
    mean_difference, mean_difference_error : float
        Mean of (measured - true) (DN/s) and its standard error.  At low
        counts the median relative error is pulled below zero by the skew of
        Poisson noise (a Poisson variable's median is below its mean); the
        mean difference is the unbiased test of bias there.
    """

    n_pixels: int
    median_relative_error: float
    normalized_scatter: float
    mean_difference: float = float("nan")
    mean_difference_error: float = float("nan")

    def as_dict(self) -> dict:
        return asdict(self)


def clean_pixel_mask(truth, dq=None) -> np.ndarray:
    """Pixels with light, no cosmic ray, no saturation and (given ``dq``) no bad flag.

    Parameters
    ----------
    truth : photoncal.sim.truth.Truth or photoncal.sim.roman.RomanTruth
    dq : ndarray, optional
        The product's DQ array (ny, nx).
    """
    rate = np.asarray(truth.rate)
    mask = np.isfinite(rate) & (rate > 0)
    # First saturated (or clipped) group per integration (nints, ny, nx), or
    # per pixel (ny, nx) for a single-integration Roman truth; -1 if none.
    for first in (getattr(truth, "saturated_group", None), getattr(truth, "clipped_group", None)):
        if first is not None:
            mask &= np.all(np.asarray(first).reshape((-1,) + mask.shape) < 0, axis=0)
    crs = truth.cosmic_rays
    if crs is not None and len(crs):
        mask[np.asarray(crs["y"]), np.asarray(crs["x"])] = False
    if dq is not None:
        mask &= (np.asarray(dq) & _BAD) == 0
    return mask


def rate_accuracy(data, err, dq, truth, *, rate=None) -> RateAccuracy:
    """Compare a ``_rate`` product's SCI/ERR with the true count rate.

    Parameters
    ----------
    data, err, dq : ndarray (ny, nx)
        The product's SCI (DN/s), ERR and DQ.
    truth : Truth
    rate : ndarray, optional
        The true rate to compare with; default ``truth.rate``.
    """
    true = np.asarray(truth.rate if rate is None else rate, dtype=np.float64)
    mask = clean_pixel_mask(truth, dq) & np.isfinite(data) & np.isfinite(err) & (err > 0)
    measured = np.asarray(data, dtype=np.float64)[mask]
    expected = true[mask]
    sigma = np.asarray(err, dtype=np.float64)[mask]
    if measured.size == 0:
        return RateAccuracy(0, float("nan"), float("nan"))
    difference = measured - expected
    return RateAccuracy(
        n_pixels=int(measured.size),
        median_relative_error=float(np.median(difference / expected)),
        normalized_scatter=robust_std(difference / sigma),
        mean_difference=float(difference.mean()),
        mean_difference_error=float(difference.std() / np.sqrt(difference.size)),
    )


@dataclass
class CosmicRayRecovery:
    """Cosmic rays above a significance, and the fraction flagged."""

    n_cosmic_rays: int
    found_fraction: float
    nsigma: float

    def as_dict(self) -> dict:
        return asdict(self)


def cosmic_ray_recovery(jump_flags, truth, gain, readnoise, *, nsigma=10.0) -> CosmicRayRecovery:
    """Fraction of the truth's cosmic rays above ``nsigma`` that were flagged.

    A cosmic ray counts when it lands after the first group (a jump in group 0
    is not detectable), in a pixel hit once and never saturated, and its charge
    exceeds ``nsigma`` times the noise of one group difference (Poisson noise
    of the true rate plus the CDS read noise, in electrons).

    Parameters
    ----------
    jump_flags : ndarray of bool
        Either (ny, nx) - e.g. ``rate.dq & JUMP_DET`` - or
        (nints, ngroups, ny, nx) - ``groupdq & JUMP_DET`` of a ramp; the group
        form requires the flag in the cosmic ray's own group.
    truth : Truth
    gain, readnoise : ndarray (ny, nx)
        GAIN (e-/DN) and READNOISE (CDS, DN) reference arrays of the exposure.
    """
    crs = truth.cosmic_rays
    if crs is None or len(crs) == 0:
        return CosmicRayRecovery(0, float("nan"), nsigma)
    y, x = np.asarray(crs["y"]), np.asarray(crs["x"])
    group = np.asarray(crs["group"])
    hits = np.zeros(np.shape(truth.rate), dtype=np.int32)
    np.add.at(hits, (y, x), 1)
    noise_e = np.sqrt(np.maximum(np.asarray(truth.rate)[y, x], 0) * truth.group_time * gain[y, x]
                      + (readnoise[y, x] * gain[y, x]) ** 2)
    unsaturated = np.ones(y.size, dtype=bool)
    if truth.saturated_group is not None:
        unsaturated = np.all(np.asarray(truth.saturated_group)[:, y, x] < 0, axis=0)
    strong = (group >= 1) & (hits[y, x] == 1) & unsaturated & (np.asarray(crs["electrons"]) > nsigma * noise_e)
    if not strong.any():
        return CosmicRayRecovery(0, float("nan"), nsigma)
    flags = np.asarray(jump_flags, dtype=bool)
    if flags.ndim == 4:
        found = flags[np.asarray(crs["integration"])[strong], group[strong], y[strong], x[strong]]
    else:
        found = flags[y[strong], x[strong]]
    return CosmicRayRecovery(int(strong.sum()), float(found.mean()), nsigma)


def roman_cosmic_ray_significance(truth, crs) -> np.ndarray:
    """Significance of each Roman cosmic ray's jump in the resultants it shows in.

    The charge arriving before read ``f`` of resultant ``r`` shows in ``r``
    as ``charge * (reads of r at or after f) / n_r`` and fully from ``r + 1``
    on; the significance is the largest of that jump over the noise of the
    single (r-1, r), (r, r+1) and double (r-1, r+1) resultant differences.

    Parameters
    ----------
    truth : photoncal.sim.roman.RomanTruth
    crs : structured ndarray
        Rows of ``truth.cosmic_rays``.
    """
    pattern = truth.read_pattern
    n = np.array([len(reads) for reads in pattern], float)
    tbar = np.array([np.mean(reads) for reads in pattern]) * truth.frame_time
    y, x, r = crs["y"], crs["x"], crs["resultant"]
    rn2 = truth.read_noise[y, x].astype(np.float64) ** 2
    rate = truth.rate[y, x].astype(np.float64)
    charge = crs["electrons"] / truth.gain[y, x]
    frac = np.array([np.mean(np.asarray(pattern[k]) >= f) if k >= 0 else 0.0 for k, f in zip(r, crs["frame"])])
    best = np.zeros(len(crs))

    def sigma(i, j):
        return np.sqrt(rn2 * (1 / n[i] + 1 / n[j]) + rate * (tbar[j] - tbar[i]))

    for k in range(len(pattern)):
        sel = r == k
        if not sel.any():
            continue
        candidates = []
        if k >= 1:
            candidates.append(charge[sel] * frac[sel] / sigma(k - 1, k)[sel])
        if k + 1 < len(pattern):
            candidates.append(charge[sel] * (1 - frac[sel]) / sigma(k, k + 1)[sel])
        if k >= 1 and k + 1 < len(pattern):
            candidates.append(charge[sel] / sigma(k - 1, k + 1)[sel])
        if candidates:
            best[sel] = np.max(candidates, axis=0)
    return best


def roman_cosmic_ray_recovery(dq, truth, *, nsigma=10.0) -> CosmicRayRecovery:
    """Fraction of a Roman truth's cosmic rays above ``nsigma`` flagged JUMP_DET in ``dq``.

    Counted: hits inside the image, in a resultant, on pixels neither
    DO_NOT_USE/SATURATED in ``dq`` nor saturated in the truth, whose jump
    (:func:`roman_cosmic_ray_significance`) exceeds ``nsigma``.
    """
    dq = np.asarray(dq)
    crs = truth.cosmic_rays
    ny, nx = dq.shape
    inside = (crs["resultant"] >= 0) & (crs["y"] >= 0) & (crs["x"] >= 0) & (crs["y"] < ny) & (crs["x"] < nx)
    crs = crs[inside]
    y, x = crs["y"], crs["x"]
    bad = dqflags.pixel["DO_NOT_USE"] | dqflags.pixel["SATURATED"]
    usable = ((dq[y, x] & bad) == 0) & (np.asarray(truth.saturated_group)[y, x] < 0)
    strong = usable & (roman_cosmic_ray_significance(truth, crs) > nsigma)
    if not strong.any():
        return CosmicRayRecovery(0, float("nan"), nsigma)
    found = (dq[y[strong], x[strong]] & dqflags.pixel["JUMP_DET"]) != 0
    return CosmicRayRecovery(int(strong.sum()), float(found.mean()), nsigma)


@dataclass
class CatalogAccuracy:
    """A source catalog against the truth catalog.

    Attributes
    ----------
    n_truth : int
        Truth sources inside the image and brighter than the 10-sigma limit.
    completeness : float
        Fraction of those matched.
    n_isolated : int
        Matched point sources with no other truth source within the
        isolation radius: the astrometry and photometry sample.
    astrometric_rms_mas : float
        RMS separation of those isolated point sources (mas).
    flux_ratio_median, flux_ratio_scatter : float
        Median and robust scatter of measured / true flux for them.
    flux_limit_jy : float
        The 10-sigma flux limit used.
    """

    n_truth: int
    completeness: float
    n_isolated: int
    astrometric_rms_mas: float
    flux_ratio_median: float
    flux_ratio_scatter: float
    flux_limit_jy: float

    def as_dict(self) -> dict:
        return asdict(self)


def catalog_accuracy(catalog, truth_catalog, *, footprint=None, match_radius=0.1, nsigma=10.0,
                     flux_column="aper_total_flux", isolation=1.0) -> CatalogAccuracy:
    """Match a ``_cat`` table to the truth catalog on the sky.

    Parameters
    ----------
    catalog : astropy.table.Table
        The pipeline's catalog (``sky_centroid``, ``<flux_column>``,
        ``<flux_column>_err``; fluxes in Jy).
    truth_catalog : astropy.table.Table
        ``ra``, ``dec`` (deg), ``flux`` (Jy), ``type`` ('point' / 'sersic').
    footprint : callable, optional
        ``footprint(ra, dec) -> bool array``: which truth sources lie on the
        image (e.g. through the mosaic's WCS); default all.
    match_radius : float
        Arcsec; half the effective radius where that is larger (``r_eff``
        column of extended sources).
    nsigma : float
        Significance of the limit: ``nsigma`` times the catalog's median flux
        error (its typical source's noise).
    flux_column : str
        The catalog's flux column (Jy).
    isolation : float
        Arcsec: point sources with another truth source (of any flux) closer
        than this are left out of the astrometry and photometry; a blend's
        centroid and aperture flux measure the pair, not the star.
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    flux = np.asarray(_value(catalog[flux_column]), dtype=np.float64)
    flux_err = np.asarray(_value(catalog[f"{flux_column}_err"]), dtype=np.float64)
    sky = catalog["sky_centroid"]
    ok = np.isfinite(flux) & np.isfinite(flux_err) & (flux_err > 0) & (flux > 0)
    limit = float(nsigma * np.median(flux_err[ok])) if ok.any() else float("inf")

    t_ra = np.asarray(truth_catalog["ra"], dtype=np.float64)
    t_dec = np.asarray(truth_catalog["dec"], dtype=np.float64)
    t_flux = np.asarray(_value(truth_catalog["flux"]), dtype=np.float64)
    t_point = np.asarray(truth_catalog["type"]).astype(str) == "point"
    inside = np.ones(t_ra.size, dtype=bool) if footprint is None else np.asarray(footprint(t_ra, t_dec))
    wanted = inside & (t_flux >= limit)
    if not wanted.any() or not ok.any():
        return CatalogAccuracy(int(wanted.sum()), float("nan"), 0, float("nan"), float("nan"),
                               float("nan"), limit)
    truth_sky = SkyCoord(t_ra[wanted] * u.deg, t_dec[wanted] * u.deg)
    measured_sky = SkyCoord(sky.ra[ok], sky.dec[ok])
    index, separation, _ = truth_sky.match_to_catalog_sky(measured_sky)
    # A galaxy's centroid may sit off its profile centre by a fraction of its size.
    radius = match_radius
    if "r_eff" in truth_catalog.colnames:
        r_eff = np.nan_to_num(np.asarray(_value(truth_catalog["r_eff"]), dtype=np.float64)[wanted])
        radius = np.maximum(match_radius, 0.5 * r_eff)
    matched = separation.arcsec <= radius
    all_sky = SkyCoord(t_ra * u.deg, t_dec * u.deg)
    _, neighbour, _ = truth_sky.match_to_catalog_sky(all_sky, nthneighbor=2)
    point = t_point[wanted] & matched & (neighbour.arcsec >= isolation)
    sep_mas = separation.to_value(u.mas)[point]
    ratio = flux[ok][index[point]] / t_flux[wanted][point]
    return CatalogAccuracy(
        n_truth=int(wanted.sum()),
        completeness=float(matched.mean()),
        n_isolated=int(point.sum()),
        astrometric_rms_mas=float(np.sqrt(np.mean(sep_mas**2))) if sep_mas.size else float("nan"),
        flux_ratio_median=float(np.median(ratio)) if ratio.size else float("nan"),
        flux_ratio_scatter=robust_std(ratio),
        flux_limit_jy=limit,
    )


def _value(column):
    return getattr(column, "value", column)
