"""The final source catalog of a resampled image (source_catalog).

Detection is photutils image segmentation (background mesh, threshold of
``snr_threshold`` times the background RMS on the image convolved with a
Gaussian of ``kernel_fwhm``, at least ``npixels`` connected pixels,
optional deblending) through :mod:`photoncal.kernels.starfind`.  For each
source the catalog gives:

* segment properties: centroid, sky centroid, isophotal flux and area,
  second-moment ellipse (``semimajor_sigma``, ``semiminor_sigma``,
  ``ellipticity``, ``orientation``, ``sky_orientation``), sky bounding box;
* circular-aperture photometry at three radii (the encircled-energy radii
  30/50/70 % of an APCORR reference table, or 1, 2, 3 pixels), minus a
  local background (sigma-clipped median in an annulus), and an
  aperture-corrected total flux from the largest aperture;
* AB and Vega magnitudes of every flux;
* concentration indices (flux ratios of the apertures), ``is_extended``
  (both CIs above their star thresholds), DAOFIND ``sharpness`` and
  ``roundness``, nearest-neighbour label and distance.

Column names and order are those of the established ``_cat`` ECSV.
Fluxes are in the unit of the input data, which must be **Jy** for the
magnitudes to be right (the step multiplies MJy/sr data by
``1e6 * pixel area [sr]``, see :func:`mjysr_to_jy_factor`).
"""

from __future__ import annotations

import math
import warnings

import astropy.units as u
import numpy as np
from astropy.stats import SigmaClip, gaussian_fwhm_to_sigma
from astropy.table import QTable
from astropy.utils.exceptions import AstropyUserWarning
from scipy.spatial import cKDTree

from photoncal.kernels.starfind import detect, estimate_background

__all__ = [
    "FALLBACK_APERTURES",
    "mjysr_to_jy_factor",
    "aperture_parameters",
    "flux_to_abmag",
    "daofind_sharpness_roundness",
    "make_source_catalog",
]

#: apertures used without an APCORR reference file
FALLBACK_APERTURES = {
    "aperture_ee": np.array((1, 2, 3)),
    "aperture_radii": np.array((1.0, 2.0, 3.0)),
    "aperture_corrections": np.array((1.0, 1.0, 1.0)),
    "bkg_aperture_inner_radius": 5.0,
    "bkg_aperture_outer_radius": 10.0,
}


def mjysr_to_jy_factor(pixelarea_sr):
    """Factor turning MJy/sr pixel values into Jy per pixel."""
    if pixelarea_sr is None or not pixelarea_sr > 0:
        raise ValueError(
            f"cannot convert MJy/sr to Jy: the pixel area (PIXAR_SR) is {pixelarea_sr!r}"
        )
    return 1.0e6 * float(pixelarea_sr)


def aperture_parameters(apcorr_table=None, aperture_ee=(30, 50, 70), pixel_scale_ratio=1.0):
    """Aperture radii, corrections and background annulus.

    Parameters
    ----------
    apcorr_table : table-like, optional
        Rows of an APCORR reference table already selected for the
        filter/pupil (columns ``eefraction``, ``radius``, ``apcorr``,
        ``skyin``, ``skyout``; radii in native detector pixels).  Without
        it the fallback apertures (1, 2, 3 pixels, no correction) are used.
    aperture_ee : three increasing ints
        Encircled energies (percent) of the three apertures.
    pixel_scale_ratio : float
        Output / native pixel scale of the resampled image; radii are
        divided by it.

    Returns
    -------
    dict
        ``aperture_ee``, ``aperture_radii``, ``aperture_corrections``,
        ``bkg_aperture_inner_radius``, ``bkg_aperture_outer_radius``.
    """
    ee = np.asarray(aperture_ee).astype(int)
    if ee.size != 3:
        raise ValueError(f"aperture_ee must have 3 values, got {list(ee)}")
    if not np.all(ee[1:] > ee[:-1]):
        raise ValueError(f"aperture_ee values must be strictly increasing, got {list(ee)}")
    if np.any((ee <= 0) | (ee >= 100)):
        raise ValueError(f"aperture_ee values must be between 0 and 100, got {list(ee)}")
    if apcorr_table is None:
        return {k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in FALLBACK_APERTURES.items()}
    if not pixel_scale_ratio or pixel_scale_ratio <= 0:
        raise ValueError(f"pixel_scale_ratio must be positive, got {pixel_scale_ratio}")
    percent = np.round(np.asarray(apcorr_table["eefraction"], dtype=float) * 100).astype(int)
    radii, corr, skyin, skyout = [], [], [], []
    for e in ee:
        rows = np.flatnonzero(percent == e)
        if rows.size != 1:
            raise ValueError(
                f"APCORR table has {rows.size} rows for encircled energy {e}% (expected 1); "
                f"available: {sorted(set(percent.tolist()))}"
            )
        r = rows[0]
        radii.append(float(apcorr_table["radius"][r]))
        corr.append(float(apcorr_table["apcorr"][r]))
        skyin.append(float(apcorr_table["skyin"][r]))
        skyout.append(float(apcorr_table["skyout"][r]))
    if len(set(skyin)) != 1 or len(set(skyout)) != 1:
        raise ValueError("APCORR table rows disagree on skyin/skyout for this filter")
    return {
        "aperture_ee": ee,
        "aperture_radii": np.array(radii) / pixel_scale_ratio,
        "aperture_corrections": np.array(corr),
        "bkg_aperture_inner_radius": skyin[0] / pixel_scale_ratio,
        "bkg_aperture_outer_radius": skyout[0] / pixel_scale_ratio,
    }


def flux_to_abmag(flux, flux_err=None):
    """AB magnitudes of fluxes in Jy: ``-2.5 log10(f) + 8.9``.

    The error is ``2.5 log10(1 + err / f)``; negative fluxes give NaN.
    """
    f = np.asarray(getattr(flux, "value", flux), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = -2.5 * np.log10(f) + 8.9
        if flux_err is None:
            err = np.full_like(mag, np.nan)
        else:
            e = np.asarray(getattr(flux_err, "value", flux_err), dtype=np.float64)
            err = 2.5 * np.log10(1.0 + e / f)
    neg = f < 0
    mag[neg] = np.nan
    err[neg] = np.nan
    return mag, err


def _daofind_kernel(kernel_fwhm):
    sigma = kernel_fwhm * gaussian_fwhm_to_sigma
    rad = max(2.0, 1.5 * sigma)
    size = 2 * int(rad) + 1
    c = (size - 1) // 2
    yy, xx = np.mgrid[0:size, 0:size]
    mask = (np.hypot(xx - c, yy - c) <= rad).astype(float)
    gauss = np.exp(-((xx - c) ** 2 + (yy - c) ** 2) / (2.0 * sigma**2))
    gauss = gauss / gauss.max() * mask
    npix = mask.sum()
    denom = np.sum(gauss**2) - np.sum(gauss) ** 2 / npix
    kernel = ((gauss - gauss.sum() / npix) / denom) * mask
    return kernel, mask, c


def _cutouts(data, xpos, ypos, size):
    """``(n, size, size)`` cutouts centred on the nearest pixels, zero outside."""
    half = size // 2
    ny, nx = data.shape
    out = np.zeros((len(xpos), size, size), dtype=np.float64)
    for k, (x, y) in enumerate(zip(xpos, ypos)):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        ic, jc = int(math.floor(x + 0.5)), int(math.floor(y + 0.5))
        i0, j0 = ic - half, jc - half
        a0, a1 = max(0, i0), min(nx, i0 + size)
        b0, b1 = max(0, j0), min(ny, j0 + size)
        if a0 >= a1 or b0 >= b1:
            continue
        out[k, b0 - j0:b1 - j0, a0 - i0:a1 - i0] = data[b0:b1, a0:a1]
    return out


def daofind_sharpness_roundness(data, xpos, ypos, kernel_fwhm):
    """DAOFIND sharpness and (symmetry) roundness at given positions.

    The image is convolved with the DAOFIND kernel (a circular Gaussian of
    ``kernel_fwhm``, masked to radius ``max(2, 1.5 sigma)`` and shifted to
    zero sum).  Sharpness is ``(peak - mean of the other masked pixels) /
    convolved peak``; roundness compares the convolved flux in the
    quadrants: ``2 (q2 + q4 - q1 - q3) / sum |.|``.
    """
    kernel, mask, c = _daofind_kernel(kernel_fwhm)
    size = kernel.shape[0]
    data = np.asarray(data, dtype=np.float64)
    big = _cutouts(data, xpos, ypos, 2 * size - 1)
    # convolved values on the (size x size) grid around each source
    windows = np.lib.stride_tricks.sliding_window_view(big, (size, size), axis=(1, 2))
    conv = np.einsum("nijkl,kl->nij", windows, kernel[::-1, ::-1])
    cut = big[:, c:c + size, c:c + size]
    npixels = mask.sum() - 1
    peak = cut[:, c, c]
    conv_peak = conv[:, c, c]
    mean = ((cut * mask).sum(axis=(1, 2)) - peak) / npixels
    with np.errstate(divide="ignore", invalid="ignore"):
        sharp = (peak - mean) / conv_peak
    q = conv.copy()
    q[:, c, c] = 0.0
    quad1 = q[:, 0:c + 1, c + 1:].sum(axis=(1, 2))
    quad2 = q[:, 0:c, 0:c + 1].sum(axis=(1, 2))
    quad3 = q[:, c:, 0:c].sum(axis=(1, 2))
    quad4 = q[:, c + 1:, c:].sum(axis=(1, 2))
    sum2 = -quad1 + quad2 - quad3 + quad4
    sum4 = np.abs(q).sum(axis=(1, 2))
    sum4[sum4 == 0] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        rnd = 2.0 * sum2 / sum4
    bad = ~(np.isfinite(xpos) & np.isfinite(ypos))
    sharp[bad] = np.nan
    rnd[bad] = np.nan
    return sharp, rnd


def _local_background(data, xy, r_in, r_out):
    from photutils.aperture import CircularAnnulus

    annulus = CircularAnnulus(xy, r_in, r_out)
    clip = SigmaClip(sigma=3.0)
    med, err = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        warnings.simplefilter("ignore", category=AstropyUserWarning)
        for m in annulus.to_mask(method="center"):
            vals = m.get_values(data)
            vals = vals[np.isfinite(vals)]
            vals = clip(vals, masked=False)
            n = vals.size
            med.append(np.median(vals) if n else np.nan)
            err.append(math.sqrt(math.pi / (2.0 * n)) * np.std(vals) if n else np.nan)
    return np.array(med), np.array(err)


def _sky_orientation(wcs, ref_pixel):
    """Angle (deg) from the +x axis to north at a pixel, counter-clockwise."""
    from photoncal.wcs.footprint import tangent_plane_to_sky

    x, y = ref_pixel
    ra, dec = wcs(x, y, with_bounding_box=False)
    ra_n, dec_n = tangent_plane_to_sky(0.0, 1.0 / 3600.0, float(ra), float(dec))
    xn, yn = wcs.invert(ra_n, dec_n, with_bounding_box=False)
    return math.degrees(math.atan2(float(yn) - y, float(xn) - x))


def make_source_catalog(
    data,
    err,
    *,
    wcs=None,
    coverage_mask=None,
    snr_threshold=3.0,
    kernel_fwhm=2.0,
    bkg_boxsize=1000,
    starfinder="segmentation",
    npixels=25,
    connectivity=8,
    nlevels=32,
    contrast=0.001,
    multithresh_mode="exponential",
    localbkg_width=0,
    apermask_method="correct",
    kron_params=None,
    deblend=True,
    minsep_fwhm=0.0,
    sigma_radius=1.5,
    sharplo=0.5,
    sharphi=2.0,
    roundlo=0.0,
    roundhi=0.2,
    brightest=200,
    peakmax=None,
    aperture_params=None,
    abvega_offset=0.0,
    ci_star_thresholds=(2.0, 1.8),
    ref_pixel=None,
    flux_unit=u.Jy,
):
    """Detect sources in a resampled image and measure them.

    Parameter names and defaults are those of the established
    SourceCatalogStep.

    Parameters
    ----------
    data, err : (ny, nx) ndarray
        Image and total error, in ``flux_unit`` per pixel (Jy for correct
        magnitudes).
    wcs : gwcs.WCS, optional
        For ``sky_centroid``, ``sky_bbox_*`` and ``sky_orientation``.
    coverage_mask : bool ndarray, optional
        ``True`` where the mosaic has no data (e.g. ``isnan(err) | (wht == 0)``).
    snr_threshold, kernel_fwhm, bkg_boxsize, starfinder, npixels, connectivity,
    nlevels, contrast, multithresh_mode, localbkg_width, apermask_method,
    kron_params, deblend, minsep_fwhm, sigma_radius, sharplo, sharphi,
    roundlo, roundhi, brightest, peakmax
        Detection options (see :func:`photoncal.kernels.starfind.find_sources`).
    aperture_params : dict, optional
        From :func:`aperture_parameters` (default: the fallback apertures).
    abvega_offset : float
        ``m_AB - m_Vega`` of the filter (ABVEGAOFFSET reference file).
    ci_star_thresholds : (float, float)
        Thresholds of the first two concentration indices above which a
        source is extended.
    ref_pixel : (x, y), optional
        Pixel where the north angle for ``sky_orientation`` is measured
        (the step passes CRPIX - 1); default: the image centre.
    flux_unit : astropy unit

    Returns
    -------
    catalog : astropy.table.QTable or None
        ``None`` when no source is found or the background cannot be
        estimated.
    segmentation : (ny, nx) int32 ndarray or None
        Segment labels (0 = background), for the ``_segm`` product.
    """
    data = np.asarray(data, dtype=np.float64)
    err = np.asarray(err, dtype=np.float64)
    if data.ndim != 2 or err.shape != data.shape:
        raise ValueError(f"data and err must be 2-D of the same shape, got {data.shape} and {err.shape}")
    if len(tuple(ci_star_thresholds)) != 2:
        raise ValueError("ci_star_thresholds must contain 2 values")
    coverage = ~np.isfinite(data)
    if coverage_mask is not None:
        coverage |= np.asarray(coverage_mask, dtype=bool)
    if coverage.all():
        return None, None
    params = aperture_params if aperture_params is not None else aperture_parameters()
    try:
        background, rms = estimate_background(data, bkg_boxsize, coverage)
    except ValueError:
        return None, None
    finder_kw = {
        "sigma_radius": sigma_radius,
        "min_separation": max(2, int(minsep_fwhm * kernel_fwhm + 0.5)),
        "sharpness_range": (sharplo, sharphi),
        "roundness_range": (roundlo, roundhi),
        "peak_max": peakmax,
        "n_brightest": brightest,
        "n_pixels": npixels,
        "connectivity": int(connectivity),
        "n_levels": nlevels,
        "contrast": contrast,
        "mode": multithresh_mode,
        "local_bkg_width": localbkg_width,
        "aperture_mask_method": apermask_method,
        "kron_params": kron_params,
        "deblend": deblend,
        "error": err,
        "wcs": wcs,
        "relabel": True,
    }
    sources, segm = detect(data - background, snr_threshold * rms, kernel_fwhm, starfinder,
                           coverage, **finder_kw)
    if sources is None or len(sources) == 0:
        return None, None
    n = len(sources)

    def col(name, default=np.nan):
        if name in sources.colnames:
            return sources[name]
        return np.full(n, default)

    def plain(values):
        return np.asarray(getattr(values, "value", values), dtype=np.float64)

    label = np.asarray(col("label", 0) if "label" in sources.colnames else col("id", 0), dtype=np.int64)
    xc = plain(col("x_centroid"))
    yc = plain(col("y_centroid"))
    finite = np.isfinite(xc) & np.isfinite(yc)
    xy = np.column_stack([np.where(finite, xc, -1000.0), np.where(finite, yc, -1000.0)])

    # aperture photometry on the image with a local annulus background
    from photutils.aperture import CircularAperture, aperture_photometry

    bkg, bkg_err = _local_background(data, xy, params["bkg_aperture_inner_radius"],
                                     params["bkg_aperture_outer_radius"])
    apertures = [CircularAperture(xy, r) for r in params["aperture_radii"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=AstropyUserWarning)
        phot = aperture_photometry(data, apertures, error=err)
    ee = [int(e) for e in params["aperture_ee"]]
    fluxes, flux_errs = [], []
    for k, ap in enumerate(apertures):
        fluxes.append(plain(phot[f"aperture_sum_{k}"]) - bkg * ap.area)
        flux_errs.append(plain(phot[f"aperture_sum_err_{k}"]))
    apcorr = float(params["aperture_corrections"][-1])
    total, total_err = apcorr * fluxes[-1], apcorr * flux_errs[-1]

    cat = QTable()
    cat["label"] = label
    cat["xcentroid"] = xc
    cat["ycentroid"] = yc
    if wcs is not None and "sky_centroid" in sources.colnames:
        cat["sky_centroid"] = sources["sky_centroid"]
    elif wcs is not None:
        cat["sky_centroid"] = wcs.pixel_to_world(xc, yc)
    else:
        cat["sky_centroid"] = np.array([None] * n)
    cat["aper_bkg_flux"] = bkg * flux_unit
    cat["aper_bkg_flux_err"] = bkg_err * flux_unit
    flux_names = [f"aper{e}" for e in ee] + ["aper_total"]
    all_flux = fluxes + [total]
    all_err = flux_errs + [total_err]
    for name, f, e in zip(flux_names, all_flux, all_err):
        cat[f"{name}_flux"] = f * flux_unit
        cat[f"{name}_flux_err"] = e * flux_unit
    mags = [flux_to_abmag(f, e) for f, e in zip(all_flux, all_err)]
    for name, (m, me) in zip(flux_names, mags):
        cat[f"{name}_abmag"] = m
        cat[f"{name}_abmag_err"] = me
    for name, (m, me) in zip(flux_names, mags):
        cat[f"{name}_vegamag"] = m - abvega_offset
        cat[f"{name}_vegamag_err"] = me
    with np.errstate(divide="ignore", invalid="ignore"):
        ci = [fluxes[j] / fluxes[i] for i, j in ((0, 1), (1, 2), (0, 2))]
    for (i, j), value in zip(((0, 1), (1, 2), (0, 2)), ci):
        cat[f"CI_{ee[j]}_{ee[i]}"] = value
    with np.errstate(invalid="ignore"):
        cat["is_extended"] = (ci[0] > ci_star_thresholds[0]) & (ci[1] > ci_star_thresholds[1])
    sharp, rnd = daofind_sharpness_roundness(data, np.where(finite, xc, np.nan),
                                             np.where(finite, yc, np.nan), kernel_fwhm)
    cat["sharpness"] = sharp
    cat["roundness"] = rnd
    if n > 1 and finite.sum() > 1:
        tree = cKDTree(xy[finite])
        dist, idx = tree.query(xy[finite], k=2)
        nn_label = np.full(n, -1, dtype=np.int64)
        nn_dist = np.full(n, np.nan)
        nn_label[finite] = label[np.flatnonzero(finite)[idx[:, 1]]]
        nn_dist[finite] = dist[:, 1]
    else:
        nn_label = np.full(n, -1, dtype=np.int64)
        nn_dist = np.full(n, np.nan)
    cat["nn_label"] = nn_label
    cat["nn_dist"] = nn_dist * u.pix

    iso = plain(col("segment_flux") if "segment_flux" in sources.colnames else col("flux"))
    iso_err = plain(col("segment_flux_err"))
    cat["isophotal_flux"] = iso * flux_unit
    cat["isophotal_flux_err"] = iso_err * flux_unit
    m, me = flux_to_abmag(iso, iso_err)
    cat["isophotal_abmag"] = m
    cat["isophotal_abmag_err"] = me
    cat["isophotal_vegamag"] = m - abvega_offset
    cat["isophotal_vegamag_err"] = me
    area = col("area")
    cat["isophotal_area"] = area if hasattr(area, "unit") else plain(area) * u.pix**2
    for out, src in (("semimajor_sigma", "semimajor_axis"), ("semiminor_sigma", "semiminor_axis")):
        v = col(src)
        cat[out] = v if hasattr(v, "unit") else plain(v) * u.pix
    cat["ellipticity"] = plain(col("ellipticity"))
    orient = col("orientation")
    orient = orient if hasattr(orient, "unit") else plain(orient) * u.deg
    cat["orientation"] = orient
    if wcs is not None:
        if ref_pixel is None:
            ref_pixel = (0.5 * (data.shape[1] - 1), 0.5 * (data.shape[0] - 1))
        north = _sky_orientation(wcs, ref_pixel)
        cat["sky_orientation"] = ((180.0 - north) * u.deg + orient) % (360 * u.deg)
    else:
        cat["sky_orientation"] = np.full(n, np.nan) * u.deg
    for corner in ("ll", "ul", "lr", "ur"):
        name = f"sky_bbox_{corner}"
        cat[name] = sources[name] if name in sources.colnames else np.array([None] * n)
    _describe_columns(cat, ee)
    seg = None if segm is None else np.asarray(segm.data, dtype=np.int32)
    return cat, seg


def _describe_columns(cat, ee):
    desc = {
        "label": "Unique source identification label number",
        "xcentroid": "X pixel value of the source centroid (0 indexed)",
        "ycentroid": "Y pixel value of the source centroid (0 indexed)",
        "sky_centroid": "ICRS Sky coordinate of the source centroid",
        "aper_bkg_flux": "The local background value calculated as the sigma-clipped median "
                         "value in the background annulus aperture",
        "aper_bkg_flux_err": "The standard error of the sigma-clipped median background value",
        "is_extended": "Flag indicating whether the source is extended",
        "sharpness": "The DAOFind source sharpness statistic",
        "roundness": "The DAOFind source roundness statistic",
        "nn_label": "The label number of the nearest neighbor",
        "nn_dist": "The distance in pixels to the nearest neighbor",
        "isophotal_flux": "Isophotal flux",
        "isophotal_flux_err": "Isophotal flux error",
        "isophotal_abmag": "Isophotal AB magnitude",
        "isophotal_abmag_err": "Isophotal AB magnitude error",
        "isophotal_vegamag": "Isophotal Vega magnitude",
        "isophotal_vegamag_err": "Isophotal Vega magnitude error",
        "isophotal_area": "Isophotal area",
        "semimajor_sigma": "1-sigma standard deviation along the semimajor axis of the 2D "
                           "Gaussian function that has the same second-order central moments "
                           "as the source",
        "semiminor_sigma": "1-sigma standard deviation along the semiminor axis of the 2D "
                           "Gaussian function that has the same second-order central moments "
                           "as the source",
        "ellipticity": "1 minus the ratio of the 1-sigma lengths of the semimajor and "
                       "semiminor axes",
        "orientation": "The angle (degrees) between the positive X axis and the major axis "
                       "(increases counter-clockwise)",
        "sky_orientation": "The position angle (degrees) from North of the major axis",
    }
    for corner, text in (("ll", "lower-left"), ("ul", "upper-left"), ("lr", "lower-right"),
                         ("ur", "upper-right")):
        desc[f"sky_bbox_{corner}"] = (f"Sky coordinate of the {text} vertex of the minimal "
                                      "bounding box of the source")
    for kind, word in (("flux", "Flux"), ("abmag", "AB magnitude"), ("vegamag", "Vega magnitude")):
        for e in ee:
            desc[f"aper{e}_{kind}"] = f"{word} within the {e}% encircled energy circular aperture"
            desc[f"aper{e}_{kind}_err"] = (f"{word} error within the {e}% encircled energy "
                                           "circular aperture")
        low = word if kind != "flux" else "flux"
        desc[f"aper_total_{kind}"] = (f"Total aperture-corrected {low} based on the {ee[-1]}% "
                                      "encircled energy circular aperture; should be used only "
                                      "for unresolved sources.")
        desc[f"aper_total_{kind}_err"] = (f"Total aperture-corrected {low} error based on the "
                                          f"{ee[-1]}% encircled energy circular aperture; should "
                                          "be used only for unresolved sources.")
    for i, j in ((0, 1), (1, 2), (0, 2)):
        desc[f"CI_{ee[j]}_{ee[i]}"] = (f"Concentration index calculated as (aper{ee[j]}_flux / "
                                       f"aper{ee[i]}_flux)")
    for name in cat.colnames:
        if name in desc:
            cat[name].info.description = desc[name]
        if name in ("xcentroid", "ycentroid") or name.startswith("CI_"):
            cat[name].info.format = ".4f"
        elif "flux" in name:
            cat[name].info.format = ".6e"
        elif ("abmag" in name or "vegamag" in name or name in
              ("nn_dist", "sharpness", "roundness", "semimajor_sigma", "semiminor_sigma",
               "ellipticity", "orientation", "sky_orientation")):
            cat[name].info.format = ".6f"
