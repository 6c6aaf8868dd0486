"""Source detection shared by tweakreg and source_catalog (photutils-based).

The image is background-subtracted with a 2-D mesh background
(sigma-clipped medians in ``bkg_boxsize`` boxes, 3x3 median filter), the
detection threshold is ``snr_threshold`` times the background RMS, and one
of three finders runs on it, as in the established pipeline:

* ``'iraf'`` - photutils ``IRAFStarFinder`` (the TweakRegStep default);
* ``'dao'`` - photutils ``DAOStarFinder`` (DAOFIND, Stetson 1987);
* ``'segmentation'`` - photutils ``SourceFinder`` on the image convolved
  with a Gaussian of ``kernel_fwhm``, then ``SourceCatalog`` (the
  SourceCatalogStep default).

The two star finders take one threshold value: the median of the
threshold image.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
from astropy.stats import SigmaClip, gaussian_fwhm_to_sigma
from astropy.table import QTable, Table
from astropy.utils.exceptions import AstropyUserWarning

from photoncal.dqflags import pixel as _pixel

__all__ = [
    "STARFINDERS",
    "DEFAULT_BAD_BITS",
    "estimate_background",
    "detect",
    "find_sources",
]

STARFINDERS = ("iraf", "dao", "segmentation")

#: DQ bits that keep a pixel out of source finding (no coverage)
DEFAULT_BAD_BITS = _pixel["DO_NOT_USE"] | _pixel["NON_SCIENCE"]

#: extra SourceCatalog columns the established pipeline asks for
SEGMENT_EXTRA_COLUMNS = ("ellipticity", "sky_bbox_ll", "sky_bbox_ul", "sky_bbox_lr", "sky_bbox_ur")


def _have_watershed():
    try:
        import skimage.segmentation  # noqa: F401  (photutils' deblender needs it)
    except ImportError:
        return False
    return True


_HAVE_WATERSHED = _have_watershed()
_WARNED = []


def _warn_no_deblend():
    if not _WARNED:
        _WARNED.append(True)
        warnings.warn(
            "source deblending needs scikit-image (photutils uses its watershed); it is not "
            "installed, so overlapping sources are not deblended",
            RuntimeWarning,
            stacklevel=3,
        )


def _photutils_future_names():
    try:
        from photutils import use_future_column_names
    except ImportError:  # older photutils: names already final or unchanged
        from contextlib import nullcontext

        return nullcontext()
    return use_future_column_names()


def estimate_background(data, box_size=400, coverage_mask=None):
    """2-D background and background RMS of an image.

    Sigma-clipped (3 sigma) medians in boxes of ``box_size`` pixels,
    smoothed by a 3x3 median filter and interpolated.  When the image is
    too small or too masked for the mesh, the whole unmasked image is one
    box.

    Parameters
    ----------
    data : (ny, nx) ndarray
    box_size : int or (int, int)
        Box size in pixels (``bkg_boxsize``).
    coverage_mask : bool ndarray, optional
        ``True`` where there is no data.

    Returns
    -------
    background, background_rms : ndarray
    """
    from photutils.background import Background2D, MedianBackground

    box = np.asarray(box_size).astype(int)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=AstropyUserWarning)
        kw = {"filter_size": (3, 3), "coverage_mask": coverage_mask,
              "sigma_clip": SigmaClip(sigma=3.0), "bkg_estimator": MedianBackground()}
        try:
            bkg = Background2D(data, box, **kw)
        except ValueError:
            bkg = Background2D(data, data.shape, exclude_percentile=100.0, **kw)
        # Background2D's own expansion of the mesh (a cubic-spline zoom of both axes
        # at once) costs seconds on large frames; the zoom is linear and separable,
        # so the same image is W_y . mesh . W_x^T with the 1-D zoom weights.
        shape = data.shape
        out = []
        for mesh in (bkg.background_mesh, bkg.background_rms_mesh):
            image = _zoom_mesh(np.asarray(mesh), np.atleast_1d(bkg.box_size), shape)
            if coverage_mask is not None:
                image[np.asarray(coverage_mask, dtype=bool)] = bkg.fill_value
            out.append(image)
    return out[0], out[1]


def _zoom_mesh(mesh, box_size, shape):
    """Cubic-spline expansion of a background mesh to the image, as photutils' zoom interpolator."""
    from scipy.ndimage import zoom

    if np.ptp(mesh) == 0:
        return np.full(shape, np.min(mesh), dtype=np.float64)
    fy, fx = (int(box_size[0]), int(box_size[-1]))

    def weights(n, factor, size):
        # column j: the zoom of the j-th unit impulse, i.e. the weight of mesh node j
        return np.stack([zoom(np.eye(n)[j], factor, order=3, mode="reflect", grid_mode=True)[:size]
                         for j in range(n)], axis=1)

    mesh = np.asarray(mesh, dtype=np.float64)
    image = weights(mesh.shape[0], fy, shape[0]) @ mesh @ weights(mesh.shape[1], fx, shape[1]).T
    np.clip(image, np.min(mesh), np.max(mesh), out=image)
    return image


def _select_kwargs(func, kwargs):
    names = set(inspect.signature(func).parameters)
    return {k: v for k, v in kwargs.items() if k in names}


def _convolve(data, kernel_fwhm, mask=None):
    from astropy.convolution import Gaussian2DKernel, convolve

    kernel = Gaussian2DKernel(kernel_fwhm * gaussian_fwhm_to_sigma)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=AstropyUserWarning)
        return convolve(data, kernel, mask=mask)


def detect(data, threshold_image, kernel_fwhm, starfinder="iraf", mask=None, **kwargs):
    """Run one source finder on background-subtracted data.

    Parameters
    ----------
    data : ndarray
        Background-subtracted image.
    threshold_image : ndarray
        Per-pixel detection threshold.
    kernel_fwhm : float
        Gaussian kernel FWHM in pixels.
    starfinder : {'iraf', 'dao', 'segmentation'}
    mask : bool ndarray, optional
        ``True`` for pixels to ignore.
    **kwargs
        Passed to the photutils finder (and, for ``segmentation``, to
        ``SourceCatalog``): photutils 2/3 names such as ``n_brightest``,
        ``peak_max``, ``min_separation``, ``sharpness_range``,
        ``roundness_range``, ``sigma_radius``, ``n_pixels``,
        ``connectivity``, ``n_levels``, ``contrast``, ``mode``,
        ``deblend``, ``error``, ``wcs``, ``local_bkg_width``,
        ``aperture_mask_method``, ``kron_params``.  Unknown names are
        ignored.

    Returns
    -------
    sources : astropy.table.QTable or None
        photutils columns (``x_centroid``, ``y_centroid``, ``flux``, ...).
    segmentation : photutils SegmentationImage or None
    """
    from photutils.detection import DAOStarFinder, IRAFStarFinder
    from photutils.segmentation import SourceCatalog, SourceFinder
    from photutils.segmentation.catalog import DEFAULT_COLUMNS
    from photutils.utils import NoDetectionsWarning

    name = str(starfinder).lower()
    aliases = {"daostarfinder": "dao", "irafstarfinder": "iraf", "sourcefinder": "segmentation"}
    name = aliases.get(name, name)
    if name not in STARFINDERS:
        raise ValueError(f"unknown starfinder {starfinder!r}; expected one of {', '.join(STARFINDERS)}")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NoDetectionsWarning)
        warnings.filterwarnings("ignore", category=AstropyUserWarning)
        with _photutils_future_names():
            if name in ("iraf", "dao"):
                cls = IRAFStarFinder if name == "iraf" else DAOStarFinder
                threshold = float(np.nanmedian(threshold_image))
                finder = cls(threshold, kernel_fwhm, **_select_kwargs(cls, kwargs))
                return finder(data, mask=mask), None
            kw = {"n_pixels": 10, "progress_bar": False, **kwargs}
            if kw.get("kron_params") is None:
                kw["kron_params"] = (2.5, 1.4, 0.0)
            if kw.get("deblend", True) and not _HAVE_WATERSHED:
                _warn_no_deblend()
                kw["deblend"] = False
            conv = _convolve(data, kernel_fwhm, mask=mask) if kernel_fwhm > 0 else data
            seg = SourceFinder(**_select_kwargs(SourceFinder, kw))(conv, threshold_image, mask=mask)
            if seg is None:
                return None, None
            cat = SourceCatalog(data, seg, mask=mask, convolved_data=conv,
                                **_select_kwargs(SourceCatalog, kw))
            cols = list(DEFAULT_COLUMNS) + list(SEGMENT_EXTRA_COLUMNS)
            return cat.to_table(columns=cols), seg


def find_sources(
    data,
    *,
    dq=None,
    mask=None,
    error=None,
    snr_threshold=10.0,
    kernel_fwhm=2.5,
    bkg_boxsize=400,
    starfinder="iraf",
    minsep_fwhm=0.0,
    sigma_radius=1.5,
    sharplo=0.5,
    sharphi=2.0,
    roundlo=0.0,
    roundhi=0.2,
    brightest=200,
    peakmax=None,
    npixels=10,
    connectivity=8,
    nlevels=32,
    contrast=0.001,
    multithresh_mode="exponential",
    localbkg_width=0,
    apermask_method="correct",
    kron_params=None,
    deblend=True,
    bad_bits=DEFAULT_BAD_BITS,
):
    """Point sources of one image for tweakreg.

    Parameter names and defaults are the established TweakRegStep's.

    Parameters
    ----------
    data : (ny, nx) ndarray
        The image (``SCI``).
    dq : (ny, nx) integer ndarray, optional
        Its DQ array; pixels with any of ``bad_bits`` are not searched.
    mask : bool ndarray, optional
        Extra ``True``-means-excluded pixels (ORed with the DQ mask).
    error : ndarray, optional
        ``ERR`` array, used by the segmentation finder's photometry.
    snr_threshold, kernel_fwhm, bkg_boxsize, starfinder
        Detection: threshold in units of the background RMS, kernel FWHM
        (pixels), background box size (pixels), ``'iraf'``, ``'dao'`` or
        ``'segmentation'``.
    minsep_fwhm, sigma_radius, sharplo, sharphi, roundlo, roundhi, brightest, peakmax
        Star-finder options (``min_separation = max(2, int(minsep_fwhm *
        kernel_fwhm + 0.5))``).
    npixels, connectivity, nlevels, contrast, multithresh_mode, localbkg_width,
    apermask_method, kron_params, deblend
        Segmentation options.
    bad_bits : int
        DQ bits that exclude a pixel.

    Returns
    -------
    astropy.table.Table
        Columns ``id``, ``x``, ``y`` (0-based pixels), ``flux``; empty
        (with those columns) when nothing is found or the background
        cannot be estimated.
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"find_sources needs a 2-D image, got shape {data.shape}")
    coverage = ~np.isfinite(data)
    if dq is not None:
        dq = np.asarray(dq)
        if dq.shape != data.shape:
            raise ValueError(f"dq shape {dq.shape} does not match data shape {data.shape}")
        coverage |= (dq.astype(np.uint32, copy=False) & np.uint32(bad_bits)) != 0
    if mask is not None:
        coverage |= np.asarray(mask, dtype=bool)
    empty = Table({"id": np.array([], dtype=int), "x": np.array([], dtype=float),
                   "y": np.array([], dtype=float), "flux": np.array([], dtype=float)})
    if coverage.all():
        return empty
    try:
        background, rms = estimate_background(data, bkg_boxsize, coverage)
    except ValueError:
        return empty
    threshold = snr_threshold * rms
    kwargs = {
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
        "error": error,
        "local_bkg_width": localbkg_width,
        "aperture_mask_method": apermask_method,
        "kron_params": kron_params,
        "deblend": deblend,
    }
    sources, _ = detect(data - background, threshold, kernel_fwhm, starfinder, coverage, **kwargs)
    if sources is None or len(sources) == 0:
        return empty
    sources = QTable(sources)
    ident = sources["label"] if "label" in sources.colnames else sources["id"]
    flux = sources["segment_flux"] if "segment_flux" in sources.colnames else sources["flux"]
    return Table({
        "id": np.asarray(ident, dtype=int),
        "x": np.asarray(sources["x_centroid"], dtype=float),
        "y": np.asarray(sources["y_centroid"], dtype=float),
        "flux": np.asarray(getattr(flux, "value", flux), dtype=float),
    })
