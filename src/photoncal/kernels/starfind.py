"""Source detection shared by tweakreg and source_catalog.

The image is background-subtracted with a 2-D mesh background
(sigma-clipped medians in ``bkg_boxsize`` boxes, 3x3 median filter), the
detection threshold is ``snr_threshold`` times the background RMS, and one
of three finders runs on it, as in the established pipeline:

* ``'iraf'`` - IRAF starfind as photutils' ``IRAFStarFinder`` (the
  TweakRegStep default);
* ``'dao'`` - DAOFIND (Stetson 1987) as photutils' ``DAOStarFinder``;
* ``'segmentation'`` - photutils ``SourceFinder`` on the image convolved
  with a Gaussian of ``kernel_fwhm``, then ``SourceCatalog`` (the
  SourceCatalogStep default).

The two star finders take one threshold value: the median of the
threshold image.

The star finders (:func:`find_stars`), the background mesh
(:func:`background_mesh`) and the segmentation finder's smoothing run in
our numba kernels (:mod:`photoncal.kernels.starfind_numba`), which follow
photutils' and astropy's algorithms operation for operation: the same
sources, meshes and smoothed images (bit for bit, except the IRAF moment
columns, equal to ~1e-13).  ``backend='photutils'`` runs photutils'
classes instead (the tests compare the two).
"""

from __future__ import annotations

import inspect
import math
import warnings

import astropy.units as u
import numpy as np
from astropy.stats import SigmaClip, gaussian_fwhm_to_sigma
from astropy.table import QTable, Table
from astropy.utils.exceptions import AstropyUserWarning

from photoncal.dqflags import pixel as _pixel
from photoncal.kernels import starfind_numba as _nb

__all__ = [
    "STARFINDERS",
    "DEFAULT_BAD_BITS",
    "estimate_background",
    "background_mesh",
    "detect",
    "find_sources",
    "find_stars",
    "StarKernel",
    "BACKENDS",
]

STARFINDERS = ("iraf", "dao", "segmentation")
#: implementations of the 'iraf' and 'dao' finders: ours (numba) or photutils' classes
BACKENDS = ("photoncal", "photutils")

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


def estimate_background(data, box_size=400, coverage_mask=None, backend="photoncal"):
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
    backend : {'photoncal', 'photutils'}
        Mesh statistics from :func:`background_mesh` (numba) or from
        photutils' ``Background2D`` - the same mesh values.

    Returns
    -------
    background, background_rms : ndarray
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown background backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    box = np.asarray(box_size).astype(int)
    if np.asarray(data).dtype.kind == "f" and np.asarray(data).dtype.itemsize not in (4, 8):
        backend = "photutils"  # float16/longdouble: our kernels take float32 and float64
    if backend == "photutils":
        mesh, rms_mesh, box = _photutils_background_mesh(data, box, coverage_mask)
    else:
        try:
            mesh, rms_mesh, box = background_mesh(data, box, coverage_mask)
        except ValueError:
            mesh, rms_mesh, box = background_mesh(np.asarray(data), np.shape(data), coverage_mask,
                                                  exclude_percentile=100.0)
    # Background2D's own expansion of the mesh (a cubic-spline zoom of both axes
    # at once) costs seconds on large frames; the zoom is linear and separable,
    # so the same image is W_y . mesh . W_x^T with the 1-D zoom weights.
    shape = np.shape(data)
    out = []
    for values in (mesh, rms_mesh):
        image = _zoom_mesh(np.asarray(values), np.atleast_1d(box), shape)
        if coverage_mask is not None:
            image[np.asarray(coverage_mask, dtype=bool)] = 0.0  # Background2D's fill_value
        out.append(image)
    return out[0], out[1]


def _photutils_background_mesh(data, box, coverage_mask):
    from photutils.background import Background2D, MedianBackground

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=AstropyUserWarning)
        kw = {"filter_size": (3, 3), "coverage_mask": coverage_mask,
              "sigma_clip": SigmaClip(sigma=3.0), "bkg_estimator": MedianBackground()}
        try:
            bkg = Background2D(data, box, **kw)
        except ValueError:
            bkg = Background2D(data, data.shape, exclude_percentile=100.0, **kw)
        return bkg.background_mesh, bkg.background_rms_mesh, bkg.box_size


def background_mesh(data, box_size, coverage_mask=None, *, exclude_percentile=10.0, sigma=3.0,
                    maxiters=5, filter_size=(3, 3)):
    """Low-resolution background and RMS meshes, as photutils' ``Background2D`` makes them.

    The image is cut into boxes of ``box_size`` (clipped to the image
    shape) from the lower-left corner, with a row and a column of partial
    boxes along the top and right edges when the size does not divide the
    shape.  In each box the pixels that are neither masked nor non-finite
    are sigma clipped (``sigma``, at most ``maxiters`` passes, median
    centre); the box's background is the median of the surviving pixels
    and its RMS their standard deviation.  A box keeping no more than
    ``(1 - exclude_percentile / 100)`` of a full box's pixels is left out
    and filled by inverse-distance interpolation from the others (10
    nearest); then both meshes go through a ``filter_size`` median filter.

    The full boxes are measured by :func:`photoncal.kernels.starfind_numba.box_statistics`
    (in parallel; the same numbers as ``Background2D``, bit for bit); the
    few partial boxes by the same astropy/numpy calls as photutils.

    Parameters
    ----------
    data : (ny, nx) ndarray
        Non-float data are measured as float32.
    box_size : int or (int, int)
    coverage_mask : bool ndarray, optional
        ``True`` where there is no data.
    exclude_percentile, sigma, maxiters, filter_size
        As ``Background2D`` (``SigmaClip(sigma, maxiters)``).

    Returns
    -------
    background_mesh, rms_mesh : ndarray
        The meshes (the data's float type).
    box_size : (2,) int ndarray
        The box size used.

    Raises
    ------
    ValueError
        When every pixel is non-finite or masked, or every box is left out.
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"the background needs a 2-D image, got shape {data.shape}")
    if data.dtype.kind != "f":
        data = data.astype(np.float32)
    if not data.dtype.isnative:  # e.g. a big-endian FITS array; same values
        data = data.astype(data.dtype.newbyteorder("="))
    finite = np.isfinite(data)
    if not finite.any():
        raise ValueError("every pixel of the image is NaN or infinite; cannot compute a background")
    box = np.atleast_1d(np.asarray(box_size))
    if box.ndim != 1 or box.size not in (1, 2) or box.dtype.kind not in "iu" or np.any(box <= 0):
        raise ValueError(f"background box size must be one or two positive integers, got {box_size!r}")
    box = np.minimum(np.resize(box, 2), data.shape).astype(int)
    excluded = ~finite
    if coverage_mask is not None:
        coverage_mask = np.asarray(coverage_mask, dtype=bool)
        if coverage_mask.shape != data.shape:
            raise ValueError(f"coverage mask shape {coverage_mask.shape} does not match the image "
                             f"shape {data.shape}")
        excluded |= coverage_mask
    if excluded.all():
        raise ValueError("every pixel of the image is masked; cannot compute a background")

    by, bx = (int(v) for v in box)
    nby, nbx = data.shape[0] // by, data.shape[1] // bx
    y1, x1 = nby * by, nbx * bx
    bkg = np.empty((nby, nbx), dtype=data.dtype)
    rms = np.empty((nby, nbx), dtype=data.dtype)
    ngood = np.empty((nby, nbx), dtype=np.int64)
    _nb.box_statistics(np.ascontiguousarray(data), np.ascontiguousarray(excluded), by, bx,
                       float(sigma), float(sigma), int(maxiters), bkg, rms, ngood)
    clip = SigmaClip(sigma=sigma, maxiters=maxiters)

    def partial_boxes(values, axis):
        # the edge boxes, pixels ordered as photutils orders them (the order sets the float sums)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = clip(values, axis=axis, masked=False, copy=False)
            return (np.nanmedian(values, axis=axis), np.nanstd(values, axis=axis),
                    np.count_nonzero(~np.isnan(values), axis=axis))

    if y1 < data.shape[0]:
        h = data.shape[0] - y1
        row = np.where(excluded[y1:, :x1], np.nan, data[y1:, :x1]).astype(data.dtype)
        row = np.ascontiguousarray(row.reshape(h, nbx, bx).transpose(1, 2, 0)).reshape(nbx, 1, bx * h)
        row_stats = [s[:, 0] for s in partial_boxes(row, -1)]
        bkg, rms, ngood = (np.vstack([a, b]) for a, b in zip((bkg, rms, ngood), row_stats))
    if x1 < data.shape[1]:
        w = data.shape[1] - x1
        col = np.where(excluded[:y1, x1:], np.nan, data[:y1, x1:]).astype(data.dtype)
        col = np.ascontiguousarray(col.reshape(nby, by, w).transpose(0, 2, 1)).reshape(nby, 1, w * by)
        col_stats = list(partial_boxes(col, -1))
        if y1 < data.shape[0]:
            corner = np.where(excluded[y1:, x1:], np.nan, data[y1:, x1:]).astype(data.dtype)
            corner_stats = partial_boxes(corner, None)
            col_stats = [np.vstack([a, np.reshape(b, (1, 1))]) for a, b in zip(col_stats, corner_stats)]
        bkg, rms, ngood = (np.hstack([a, b]) for a, b in zip((bkg, rms, ngood), col_stats))
    bkg = np.asarray(bkg, dtype=data.dtype)
    rms = np.asarray(rms, dtype=data.dtype)
    left_out = ngood <= (1 - (exclude_percentile / 100.0)) * (by * bx)
    bkg[left_out] = np.nan
    rms[left_out] = np.nan
    if np.all(np.isnan(bkg)):
        raise ValueError(f"every background box of {by}x{bx} pixels has too few unmasked finite pixels "
                         f"(more than {exclude_percentile}% excluded)")
    meshes = []
    for mesh in (bkg, rms):
        mesh = _fill_mesh_gaps(mesh)
        if tuple(filter_size) != (1, 1):
            from scipy.ndimage import generic_filter

            mesh = generic_filter(mesh, np.nanmedian, size=tuple(filter_size), mode="constant", cval=np.nan)
        meshes.append(mesh)
    return meshes[0], meshes[1], box


def _fill_mesh_gaps(mesh):
    """Left-out boxes (NaN) filled by inverse-distance weighting of the 10 nearest."""
    gaps = np.isnan(mesh)
    if not gaps.any():
        return mesh
    from photutils.utils import ShepardIDWInterpolator

    good = ~gaps
    interp = ShepardIDWInterpolator(np.column_stack(np.nonzero(good)), mesh[good])
    filled = mesh.copy()
    filled[gaps] = interp(np.column_stack(np.nonzero(gaps)), n_neighbors=10, power=1.0, eps=0.0,
                          regularization=0.0)
    return filled


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


def _convolve(data, kernel_fwhm, mask=None, backend="photoncal"):
    """The image smoothed by a Gaussian of ``kernel_fwhm`` for the segmentation finder.

    ``astropy.convolution.convolve(data, Gaussian2DKernel(sigma), mask=mask)``
    with its defaults (zero fill beyond the edges, kernel normalised to
    unit sum, masked and NaN pixels interpolated by renormalising the
    kernel over the others); ``backend='photoncal'`` runs the same loop in
    numba (:func:`photoncal.kernels.starfind_numba.convolve_fill_interpolate`,
    bit-identical, parallel), ``'photutils'`` calls astropy.
    """
    from astropy.convolution import Gaussian2DKernel, convolve

    kernel = Gaussian2DKernel(kernel_fwhm * gaussian_fwhm_to_sigma)
    if backend == "photutils":
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=AstropyUserWarning)
            return convolve(data, kernel, mask=mask)
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"the convolution needs a 2-D image, got shape {data.shape}")
    image = np.array(data, dtype=np.float64, order="C")  # a copy: masked pixels become NaN
    if mask is not None:
        image[np.asarray(mask) != 0] = np.nan
    weights = np.ascontiguousarray(kernel.array, dtype=np.float64)
    # astropy interpolates only when the image holds a NaN (its sum is NaN)
    nan_interpolate = bool(np.isnan(image.sum()))
    out = np.empty(image.shape, dtype=np.float64)
    _nb.convolve_fill_interpolate(image, weights, 0.0, nan_interpolate, out)
    if not nan_interpolate:
        out /= weights.sum()
    return out.astype(data.dtype, copy=False) if data.dtype.kind == "f" else out


# --------------------------------------------------------------------------------------------
# IRAF starfind and DAOFIND, our implementation of photutils' IRAFStarFinder/DAOStarFinder
# --------------------------------------------------------------------------------------------

#: photutils' default (sharpness, roundness) ranges of each finder
_DEFAULT_RANGES = {"iraf": ((0.5, 2.0), (0.0, 0.2)), "dao": ((0.2, 1.0), (-1.0, 1.0))}
#: finder options our implementation takes (the photutils 3 names)
_FINDER_OPTIONS = {
    "iraf": {"sigma_radius", "exclude_border", "n_brightest", "peak_max", "min_separation",
             "sharpness_range", "roundness_range"},
    "dao": {"ratio", "theta", "sigma_radius", "exclude_border", "n_brightest", "peak_max",
            "min_separation", "scale_threshold", "sharpness_range", "roundness_range"},
}
_DBL_EPSILON = np.finfo(np.float64).eps


class StarKernel:
    """The density-enhancement kernel of the IRAF and DAO star finders.

    A 2-D Gaussian of ``fwhm`` (major axis), axis ``ratio`` and position
    angle ``theta`` (degrees, counter-clockwise from +x), truncated at
    ``sigma_radius`` sigmas (or 2 pixels, whichever is larger), on an odd
    grid of at least 5x5 pixels, then shifted to zero sum inside the
    footprint and divided by ``sum(g**2) - sum(g)**2 / n`` - the same
    kernel as photutils' ``_StarFinderKernel``, value for value.

    Attributes
    ----------
    data : ndarray
        Normalised kernel (0 outside the footprint).
    mask : int ndarray
        1 inside the footprint.
    gaussian : ndarray
        The untruncated Gaussian, 1 at the centre (DAOFIND's marginal fits).
    rel_err : float
        ``1 / sqrt(sum(g**2) - sum(g)**2 / n)`` (DAOFIND scales its threshold by it).
    x_sigma, y_sigma : float
    x_radius, y_radius : int
    n_pixels : int
        Pixels in the footprint.
    """

    def __init__(self, fwhm, ratio=1.0, theta=0.0, sigma_radius=1.5):
        if np.ndim(fwhm) != 0:
            raise TypeError("fwhm must be a scalar value")
        if not fwhm > 0:
            raise ValueError(f"fwhm must be positive, got {fwhm}")
        if not 0 < ratio <= 1:
            raise ValueError(f"ratio must be > 0 and <= 1.0, got {ratio}")
        if not sigma_radius > 0:
            raise ValueError(f"sigma_radius must be positive, got {sigma_radius}")
        self.fwhm = fwhm
        self.ratio = ratio
        self.theta = theta % 360.0
        self.sigma_radius = sigma_radius
        self.x_sigma = fwhm * gaussian_fwhm_to_sigma
        self.y_sigma = self.x_sigma * ratio
        # g(x, y) = a dx^2 + 2 b dx dy + c dy^2, the exponent of the rotated Gaussian
        angle = np.deg2rad(self.theta)
        cos_t, sin_t = np.cos(angle), np.sin(angle)
        var_x, var_y = self.x_sigma**2, self.y_sigma**2
        a = (cos_t**2 / (2.0 * var_x)) + (sin_t**2 / (2.0 * var_y))
        b = 0.5 * cos_t * sin_t * ((1.0 / var_x) - (1.0 / var_y))
        c = (sin_t**2 / (2.0 * var_x)) + (cos_t**2 / (2.0 * var_y))
        # half-extent of the ellipse g = sigma_radius^2 / 2 along x and y
        level = sigma_radius**2 / 2.0
        det = (a * c) - b**2
        nx = 2 * int(max(2, math.sqrt(c * level / det))) + 1
        ny = 2 * int(max(2, math.sqrt(a * level / det))) + 1
        self.x_radius, self.y_radius = nx // 2, ny // 2
        yy, xx = np.mgrid[0:ny, 0:nx]
        dx, dy = xx - self.x_radius, yy - self.y_radius
        radius = np.sqrt(dx**2 + dy**2)
        exponent = a * dx**2 + 2.0 * b * dx * dy + c * dy**2
        self.mask = np.where((exponent <= level) | (radius <= 2.0), 1, 0).astype(int)
        self.n_pixels = int(self.mask.sum())
        self.gaussian = np.exp(-exponent)
        truncated = self.gaussian * self.mask
        spread = (truncated**2).sum() - (truncated.sum()**2 / self.n_pixels)
        self.rel_err = 1.0 / np.sqrt(spread)
        self.data = ((truncated - (truncated.sum() / self.n_pixels)) / spread) * self.mask
        self.shape = self.data.shape

    def convolution_taps(self):
        """``(dy, dx, weight)`` of ``scipy.ndimage.convolve`` with this kernel, in its summation order.

        scipy correlates with the flipped kernel, row by row, and leaves
        out weights of magnitude <= DBL_EPSILON.
        """
        flipped = self.data[::-1, ::-1]
        iy, ix = np.nonzero(np.abs(flipped) > _DBL_EPSILON)
        return ((iy - self.y_radius).astype(np.int64), (ix - self.x_radius).astype(np.int64),
                np.ascontiguousarray(flipped[iy, ix], dtype=np.float64))


def _circular_footprint_offsets(radius):
    """Offsets of the circular footprint of ``radius`` as photutils' ``min_separation`` builds it.

    The grid is ``arange(-radius, radius + 1)`` along each axis; for an
    even grid (non-integer radius) the image pixel sits at index
    ``size // 2``, as ``scipy.ndimage.maximum_filter`` centres it.
    """
    idx = np.arange(-radius, radius + 1)
    xx, yy = np.meshgrid(idx, idx)
    inside = (xx**2 + yy**2) <= radius**2
    half = len(idx) // 2
    iy, ix = np.nonzero(inside)
    return (iy - half).astype(np.int64), (ix - half).astype(np.int64)


def _star_kernel_convolve(data, kernel):
    """``scipy.ndimage.convolve(data, kernel.data, mode='constant', cval=0)``, bit for bit (float64)."""
    dy, dx, weights = kernel.convolution_taps()
    out = np.empty(data.shape, dtype=np.float64)
    _nb.correlate_fill_zero(data, dy, dx, weights, out)
    return out


def _local_peaks(convolved, threshold, kernel, min_separation, mask, exclude_border):
    """(x, y) integer positions of the local maxima above ``threshold``, row-major order, or None.

    The footprint is the kernel's when ``min_separation`` is 0, else a circle
    of that radius - photutils' ``find_peaks`` as the star finders call it.
    """
    constant, has_nan, finite_min = _nb.image_extent(convolved)
    if constant or np.isnan(finite_min):  # photutils: "no local peaks can be found"
        return None
    nan_value = finite_min if has_nan else 0.0
    if min_separation == 0:
        iy, ix = np.nonzero(kernel.mask)
        fp_dy, fp_dx = (iy - kernel.y_radius).astype(np.int64), (ix - kernel.x_radius).astype(np.int64)
    else:
        fp_dy, fp_dx = _circular_footprint_offsets(min_separation)
    border_y, border_x = (kernel.y_radius, kernel.x_radius) if exclude_border else (0, 0)
    excluded = np.zeros(convolved.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if excluded.shape != convolved.shape:
        raise ValueError(f"mask shape {excluded.shape} does not match data shape {convolved.shape}")
    peaks = np.empty(convolved.shape, dtype=bool)
    _nb.mark_local_peaks(convolved, float(threshold), excluded, fp_dy, fp_dx, nan_value,
                         int(border_y), int(border_x), peaks)
    ys, xs = np.nonzero(peaks)
    if xs.size == 0:
        return None
    return xs.astype(np.int64), ys.astype(np.int64)


def _check_range(name, value):
    if value is None:
        return None
    if np.ndim(value) != 1 or np.size(value) != 2:
        raise ValueError(f"{name} must be a 2-element (lower, upper) tuple or None")
    return tuple(value)


def _check_n_brightest(n_brightest):
    if n_brightest is None:
        return None
    if isinstance(n_brightest, bool):
        raise TypeError("n_brightest must be an integer")
    if n_brightest <= 0:
        raise ValueError("n_brightest must be > 0")
    if int(n_brightest) != n_brightest:
        raise ValueError("n_brightest must be an integer")
    return int(n_brightest)


def _iraf_columns(data, xs, ys, kernel):
    sums = np.empty((xs.size, len(_nb.IRAF_FIELDS)))
    _nb.iraf_source_sums(data, xs, ys, kernel.mask.astype(np.float64), sums)
    f = dict(zip(_nb.IRAF_FIELDS, sums.T))
    with np.errstate(divide="ignore", invalid="ignore"):
        mu_sum = f["mu_xx"] + f["mu_yy"]
        mu_diff = f["mu_xx"] - f["mu_yy"]
        fwhm = 2.0 * np.sqrt(np.log(2.0) * mu_sum)
        cols = {
            "x_centroid": f["x_cut"] + (xs - kernel.x_radius),
            "y_centroid": f["y_cut"] + (ys - kernel.y_radius),
            "fwhm": fwhm,
            "sharpness": fwhm / kernel.fwhm,
            "roundness": np.sqrt(mu_diff**2 + 4.0 * f["mu_xy"]**2) / mu_sum,
            "orientation": np.rad2deg(0.5 * np.arctan2(2.0 * f["mu_xy"], mu_diff)) % 360,
            "n_pixels": f["n_nonzero"].astype(np.intp),
            "peak": f["peak"],
            "flux": f["flux"],
            "mag": -2.5 * np.log10(f["flux"]),
        }
    good = f["n_nonzero"] > 1
    for name in ("x_centroid", "y_centroid", "sharpness", "roundness", "orientation", "peak", "flux"):
        good &= np.isfinite(cols[name])
    good &= np.isfinite(f["sky"])
    bounded = ("sharpness", "roundness")
    return cols, good, bounded


def _dao_columns(data, convolved, xs, ys, kernel, threshold_eff):
    ky, kx = kernel.shape
    cy, cx = (ky - 1) // 2, (kx - 1) // 2
    wt_x = (cx - np.abs(np.arange(kx) - cx) + 1).astype(np.float64)
    wt_y = (cy - np.abs(np.arange(ky) - cy) + 1).astype(np.float64)
    # the kernel's marginals, weighted by the other axis' triangular weights
    kern_x = np.sum(kernel.gaussian * wt_y[:, None], axis=0)
    kern_y = np.sum(kernel.gaussian * wt_x[None, :], axis=1)
    dkern_x = kern_x * (cx - np.arange(kx))
    dkern_y = kern_y * (cy - np.arange(ky))
    dxx_x = (cx - np.arange(kx)).astype(np.float64)
    dxx_y = (np.arange(ky) - cy).astype(np.float64)
    sums = np.empty((xs.size, len(_nb.DAO_FIELDS)))
    _nb.dao_source_sums(data, convolved, xs, ys, kernel.mask.astype(np.float64),
                        wt_x, wt_y, kern_x, kern_y, dkern_x, dkern_y, dxx_x, dxx_y, sums)
    f = dict(zip(_nb.DAO_FIELDS, sums.T))

    def marginal_fit(axis_name, wt, kern, dkern, sigma, size):
        # least-squares height (h) and shift (d) of the kernel's marginal against the data's
        wt_sum = np.sum(wt)
        kern_sum = np.sum(kern * wt)
        kern2_sum = np.sum(kern**2 * wt)
        dkern_sum = np.sum(dkern * wt)
        dkern2_sum = np.sum(dkern**2 * wt)
        kern_dkern_sum = np.sum(kern * dkern * wt)
        data_sum = f[f"{axis_name}_data_sum"]
        h_numer = f[f"{axis_name}_data_kern_sum"] - (data_sum * kern_sum) / wt_sum
        h_denom = kern2_sum - (kern_sum**2 / wt_sum)
        rejected = (h_numer <= 0.0) | (h_denom <= 0.0)
        height = h_numer / h_denom
        shift = ((kern_dkern_sum - (f[f"{axis_name}_data_dkern_sum"] - dkern_sum * data_sum))
                 / (height * dkern2_sum / sigma**2))
        first_moment = f[f"{axis_name}_data_dx_sum"] / data_sum
        # a shift beyond half the cutout falls back on the first moment, or 0
        too_far = np.abs(shift) > size / 2.0
        empty = data_sum == 0.0
        shift[too_far & empty] = 0.0
        shift[too_far & ~empty] = first_moment[too_far & ~empty]
        shift[np.abs(shift) > size / 2.0] = 0.0
        height[rejected] = np.nan
        shift[rejected] = np.nan
        return shift, height

    with np.errstate(divide="ignore", invalid="ignore"):
        dx, hx = marginal_fit("x", wt_x, kern_x, dkern_x, kernel.x_sigma, kx)
        dy, hy = marginal_fit("y", wt_y, kern_y, dkern_y, kernel.y_sigma, ky)
        peak = f["peak"]
        data_mean = (f["masked_sum"] - peak) / (kernel.n_pixels - 1)
        cols = {
            "x_centroid": xs + dx,
            "y_centroid": ys + dy,
            "sharpness": (peak - data_mean) / f["conv_peak"],
            "roundness1": 2.0 * f["sum2"] / f["sum4"],
            "roundness2": 2.0 * (hx - hy) / (hx + hy),
            "n_pixels": np.full(xs.size, kernel.data.size),
            "peak": peak,
            "flux": f["flux"],
            "mag": -2.5 * np.log10(f["flux"]),
            "daofind_mag": -2.5 * np.log10(f["conv_peak"] / (np.ones(xs.size) * threshold_eff)),
        }
    good = np.isfinite(hx) & np.isfinite(hy)
    finite = ["x_centroid", "y_centroid", "sharpness", "roundness1", "roundness2", "peak"]
    if threshold_eff != 0:
        finite.append("flux")
    for name in finite:
        good &= np.isfinite(cols[name])
    bounded = ("sharpness", "roundness1", "roundness2")
    return cols, good, bounded


def find_stars(data, threshold, fwhm, finder="iraf", mask=None, *, sigma_radius=1.5, ratio=1.0,
               theta=0.0, min_separation=None, sharpness_range="default", roundness_range="default",
               exclude_border=False, n_brightest=None, peak_max=None, scale_threshold=True):
    """IRAF starfind or DAOFIND on a background-subtracted image (numba).

    The same algorithm, parameters, defaults and output table as
    photutils' ``IRAFStarFinder`` / ``DAOStarFinder`` (photutils 3 names):
    the image is convolved with :class:`StarKernel` (0 beyond the edges),
    local maxima of the convolved image above ``threshold`` (DAOFIND:
    ``threshold * kernel.rel_err`` when ``scale_threshold``) within
    ``min_separation`` pixels (the kernel footprint when 0; default
    ``2.5 * fwhm``) are the candidates, and each candidate's kernel-sized
    cutout gives its columns; candidates with non-finite columns, outside
    ``sharpness_range``/``roundness_range`` or above ``peak_max`` are
    dropped, then the ``n_brightest`` by flux are kept.

    Parameters
    ----------
    data : (ny, nx) ndarray
        Background-subtracted image; NaN pixels spoil the sources whose
        cutout they fall in.  Computed in float64 (photutils keeps a
        float32 image in float32).
    threshold : float
        Detection threshold.
    fwhm : float
        Kernel FWHM in pixels.
    finder : {'iraf', 'dao'}
    mask : bool ndarray, optional
        ``True`` where no peak may be (the convolution still reads these pixels).
    sigma_radius, ratio, theta, min_separation, sharpness_range, roundness_range,
    exclude_border, n_brightest, peak_max, scale_threshold
        As photutils' finders (``ratio``, ``theta`` and ``scale_threshold``
        are DAOFIND's); the ranges default to photutils' defaults of each
        finder, ``None`` turns a range off.

    Returns
    -------
    astropy.table.QTable or None
        IRAF: ``id, x_centroid, y_centroid, fwhm, sharpness, roundness,
        orientation (deg), n_pixels, peak, flux, mag``; DAO: ``id,
        x_centroid, y_centroid, sharpness, roundness1, roundness2,
        n_pixels, peak, flux, mag, daofind_mag``.  None when nothing is
        found or nothing passes the filters.
    """
    if finder not in _DEFAULT_RANGES:
        raise ValueError(f"unknown star finder {finder!r}; expected 'iraf' or 'dao'")
    default_sharp, default_round = _DEFAULT_RANGES[finder]
    sharpness_range = _check_range("sharpness_range",
                                   default_sharp if isinstance(sharpness_range, str) else sharpness_range)
    roundness_range = _check_range("roundness_range",
                                   default_round if isinstance(roundness_range, str) else roundness_range)
    n_brightest = _check_n_brightest(n_brightest)
    if finder == "iraf":
        ratio, theta = 1.0, 0.0
    kernel = StarKernel(fwhm, ratio=ratio, theta=theta, sigma_radius=sigma_radius)
    if min_separation is None:
        min_separation = 2.5 * fwhm
    if min_separation < 0:
        raise ValueError(f"min_separation must be >= 0, got {min_separation}")
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"the star finder needs a 2-D image, got shape {data.shape}")
    data = np.ascontiguousarray(data, dtype=np.float64)
    threshold = float(threshold)
    threshold_eff = threshold * kernel.rel_err if (finder == "dao" and scale_threshold) else threshold

    convolved = _star_kernel_convolve(data, kernel)
    found = _local_peaks(convolved, threshold_eff, kernel, min_separation, mask, exclude_border)
    if found is None:
        return None
    xs, ys = found
    if finder == "iraf":
        cols, good, bounded = _iraf_columns(data, xs, ys, kernel)
    else:
        cols, good, bounded = _dao_columns(data, convolved, xs, ys, kernel, threshold_eff)
    if not good.any():
        return None
    keep = good.copy()
    ranges = {"sharpness": sharpness_range, "roundness": roundness_range,
              "roundness1": roundness_range, "roundness2": roundness_range}
    with np.errstate(invalid="ignore"):
        for name in bounded:
            if ranges[name] is not None:
                low, high = ranges[name]
                keep &= (cols[name] >= low) & (cols[name] <= high)
        if peak_max is not None:
            keep &= cols["peak"] <= peak_max
    if not keep.any():
        return None
    index = np.flatnonzero(keep)
    if n_brightest is not None:
        index = index[np.argsort(cols["flux"][index])[::-1][:n_brightest]]
    table = QTable()
    table["id"] = np.arange(index.size) + 1
    for name, values in cols.items():
        table[name] = values[index] * u.deg if name == "orientation" else values[index]
    return table


def detect(data, threshold_image, kernel_fwhm, starfinder="iraf", mask=None, backend="photoncal",
           **kwargs):
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
    backend : {'photoncal', 'photutils'}
        Implementation of the ``'iraf'`` and ``'dao'`` finders: ours
        (:func:`find_stars`, the same sources and columns, several times
        faster) or photutils' classes (``xycoords`` always goes to
        photutils); for ``'segmentation'``, of the smoothing convolution
        (ours or astropy's, the same image; segmentation and catalog are
        photutils' either way).
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
    name = str(starfinder).lower()
    aliases = {"daostarfinder": "dao", "irafstarfinder": "iraf", "sourcefinder": "segmentation"}
    name = aliases.get(name, name)
    if name not in STARFINDERS:
        raise ValueError(f"unknown starfinder {starfinder!r}; expected one of {', '.join(STARFINDERS)}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown star finder backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if (name in ("iraf", "dao") and backend == "photoncal" and kwargs.get("xycoords") is None
            and not isinstance(data, u.Quantity)):
        threshold = float(np.nanmedian(threshold_image))
        options = {k: v for k, v in kwargs.items() if k in _FINDER_OPTIONS[name]}
        return find_stars(data, threshold, kernel_fwhm, name, mask, **options), None
    from photutils.detection import DAOStarFinder, IRAFStarFinder
    from photutils.segmentation import SourceCatalog, SourceFinder
    from photutils.segmentation.catalog import DEFAULT_COLUMNS
    from photutils.utils import NoDetectionsWarning

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
            conv = _convolve(data, kernel_fwhm, mask=mask, backend=backend) if kernel_fwhm > 0 else data
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
    backend="photoncal",
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
    backend : {'photoncal', 'photutils'}
        Implementation of the 'iraf' and 'dao' finders (see :func:`detect`).

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
    sources, _ = detect(data - background, threshold, kernel_fwhm, starfinder, coverage,
                        backend=backend, **kwargs)
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
