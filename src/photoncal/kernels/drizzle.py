"""Drizzle: resample and co-add images onto a common output grid.

An input pixel is a "drop" that lands on the output grid at the position
given by the pixel map (output x, y of each input pixel centre). The drop's
flux is shared among the output pixels it overlaps and each output pixel
keeps the weighted mean of everything that landed on it (Fruchter & Hook
2002, PASP 114, 144):

    out = sum(dow * d) / sum(dow),   wht = sum(dow),   dow = overlap * weight

with ``d = data * iscale`` (divided by the exposure time for input in
counts) and ``weight = weight_map * wht_scale``. Kernels:

``square``
    The input pixel, shrunk by ``pixfrac`` about its centre, is mapped
    corner by corner through the pixel map (a quadrilateral); the overlap is
    the exact area of that quadrilateral inside each output pixel, as a
    fraction of the quadrilateral's area. Flux conserving.
``point``
    All of the drop goes to the output pixel containing its centre.
``turbo``
    An axis-aligned square of side ``pixfrac / pixel_scale_ratio`` output
    pixels about the centre; overlaps by area. Flux conserving, approximate.
``gaussian``
    A Gaussian of FWHM ``pixfrac / pixel_scale_ratio`` output pixels
    (truncated at 2.5 FWHM / 2.3548, at least 1.2 / pixel_scale_ratio).
``tophat``
    Every output pixel whose centre lies within ``pixfrac / pixel_scale_ratio
    / 2`` output pixels of the drop's centre gets the drop with full weight
    (the weight map's value, not an overlap). Neither flux nor weight
    conserving, and a drop can fall between output pixel centres entirely
    (a miss): at ``pixfrac = 1`` about a fifth of the input pixels do.
``lanczos2``, ``lanczos3``
    A separable Lanczos window of order 2 or 3 input pixels, tabulated every
    0.003 pixel. ``pixfrac`` is ignored.

The arithmetic reproduces the established ``drizzle`` package (the C library
``cdrizzle`` used by the JWST pipeline) to float32 rounding, including which
input pixels are visited at the output's borders (`drizzle_geometry`), so that
SCI/WHT agree to ~1e-7 relative and the context bits agree exactly.

The context image ("CON") has one bit per input image: bit ``k`` of plane
``p`` is set where image number ``32 p + k`` contributed with positive weight.
"""

import math
import warnings

import numba
import numpy as np

from photoncal.kernels.drizzle_geometry import scan_image
from photoncal.kernels.drizzle_kernels import (
    KERNEL_CODES,
    drizzle_drop_rows,
    drizzle_point_rows,
    drizzle_square_rows,
    fill_uncovered,
    footprint_row_bounds,
    lanczos_lut,
    serial_pipeline_quiet,
    valid_section,
)

__all__ = [
    "CTX_PLANE_BITS",
    "SUPPORTED_KERNELS",
    "Drizzle",
    "decode_context",
    "drizzle_add",
    "resample_variance",
    "resample_variances",
    "sigma_planes",
    "VarianceCombiner",
]

SUPPORTED_KERNELS = ("square", "gaussian", "point", "tophat", "turbo", "lanczos2", "lanczos3")
CTX_PLANE_BITS = 32
_BAND_EDGE = np.int64(2**62)  # stands in for +-infinity in band boundaries
_MIN_PIXFRAC = 0.001
_NO_PLANES = np.zeros((0, 1, 1), dtype=np.float32)
# below this many input pixels, waking worker threads costs more than it saves
_SERIAL_MAX_PIXELS = 1 << 16


def _band_count():
    """Number of output-row bands: one per numba thread."""
    return numba.get_num_threads()


class _ThreadCount:
    """Run numba parallel regions with ``n`` threads inside the block."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.saved = numba.get_num_threads()
        numba.set_num_threads(max(1, min(self.n, self.saved)))
        return self

    def __exit__(self, *exc):
        numba.set_num_threads(self.saved)
        return False


def _parse_fill(fillval, name="fillval"):
    """(do_fill, value) from a fill value: None/'INDEF' leave pixels untouched."""
    if fillval is None:
        return False, 0.0
    if isinstance(fillval, str):
        text = fillval.strip()
        if text.upper() in ("", "INDEF"):
            return False, 0.0
        try:
            return True, float(text)
        except ValueError:
            raise ValueError(f"{name}={fillval!r}: expected a number, 'NaN' or 'INDEF'") from None
    try:
        return True, float(fillval)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={fillval!r}: expected a number, 'NaN' or 'INDEF'") from None


def _as_f32_2d(array, name, shape=None):
    array = np.ascontiguousarray(array, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"'{name}' must be a 2-D array; got shape {array.shape}")
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(f"'{name}' has shape {array.shape}; expected {tuple(shape)} like 'data'")
    return array


def _as_f32_planes(array, name):
    """(K, ny, nx) float32 view or copy of a 2-D image (K = 1) or a stack of K images."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    if array.ndim == 2:
        return array[np.newaxis]
    if array.ndim != 3 or array.shape[0] < 1:
        raise ValueError(f"'{name}' must be a 2-D image or a 3-D stack of images; got shape {array.shape}")
    return array


def _check_dq(dq, name, shape):
    kind = np.asarray(dq).dtype
    if kind.kind not in "iub" or kind.itemsize > 4:
        raise TypeError(f"'{name}' must be an integer array of at most 32 bits; got {kind}")
    dq = np.ascontiguousarray(dq, dtype=np.uint32)
    if dq.shape != tuple(shape):
        raise ValueError(f"'{name}' has shape {dq.shape}; expected {tuple(shape)}")
    return dq


def _output_bands(row_first, row_last, row_lo, row_hi, ny_out, nthreads):
    """Output-row boundaries splitting the expected work evenly among threads."""
    bands = [-_BAND_EDGE, _BAND_EDGE]
    if nthreads < 2 or ny_out < 2:
        return np.array(bands, dtype=np.int64)
    npix = np.maximum(row_last.astype(np.int64) - row_first + 1, 0)
    used = npix > 0
    if not used.any():
        return np.array(bands, dtype=np.int64)
    lo = np.clip(row_lo[used], 0, ny_out - 1)
    hi = np.clip(row_hi[used], 0, ny_out - 1)
    hi = np.maximum(hi, lo)
    density = npix[used] / (hi - lo + 1.0)
    # each input row spreads its pixels evenly over the output rows it reaches
    diff = (np.bincount(lo, weights=density, minlength=ny_out + 1)
            - np.bincount(hi + 1, weights=density, minlength=ny_out + 1))
    load = np.cumsum(np.cumsum(diff[:ny_out]))
    targets = load[-1] * np.arange(1, nthreads) / nthreads
    cuts = np.unique(np.clip(np.searchsorted(load, targets) + 1, 1, ny_out - 1))
    return np.concatenate([[-_BAND_EDGE], cuts, [_BAND_EDGE]]).astype(np.int64)


def drizzle_add(data, pixmap, out_img, out_wht, out_ctx=None, *, weight_map=None, uniqid=1,
                xmin=0, xmax=0, ymin=0, ymax=0, iscale=1.0, pixel_scale_ratio=1.0,
                pixfrac=1.0, kernel="square", in_units="cps", expscale=1.0, wt_scl=1.0,
                fillval="INDEF", data2=None, out_img2=None, fillval2="INDEF",
                dq=None, out_dq=None, single_data=None, out_single=None, out_single_wht=None):
    """Drizzle one image onto output arrays, in place (the ``tdriz`` operation).

    Parameters
    ----------
    data : ndarray (ny, nx) or (K, ny, nx)
        Input image (converted to float32), or K images drizzled with the
        same pixel map, weights and overlaps into the K planes of
        ``out_img`` (computed once; each plane is bit-identical to drizzling
        it alone with its own ``out_wht`` copy).
    pixmap : ndarray (ny, nx, 2)
        Output coordinates of each input pixel centre: ``pixmap[..., 0]`` is
        x (column), ``pixmap[..., 1]`` is y (row); NaN marks unusable pixels.
    out_img : float32 ndarray (ny_out, nx_out), or (K, ny_out, nx_out) for 3-D ``data``
        Running weighted mean; C-contiguous, updated in place.
    out_wht : float32 ndarray (ny_out, nx_out)
        Total weight (zero on first use), shared by the planes; C-contiguous,
        updated in place.
    out_ctx : int32 ndarray (ny_out, nx_out) or (nplanes, ny_out, nx_out), optional
        Context bit planes; for a 3-D array the plane ``(uniqid - 1) // 32``.
    weight_map : ndarray (ny, nx), optional
        Input pixel weights; 1 when omitted.
    uniqid : int
        1-based number of this image; sets bit ``(uniqid - 1) % 32``.
    xmin, xmax, ymin, ymax : int
        Inclusive 0-based box of input pixels to use; ``xmax``/``ymax`` of 0
        mean the last column/row.
    iscale : float
        Multiplies the input values (e.g. a pixel-area ratio).
    pixel_scale_ratio : float or None
        Linear size of an output pixel over that of an input pixel. Sizes
        the turbo, gaussian and lanczos drops; None estimates it from the
        pixel map near the centre of the input's footprint.
    pixfrac : float
        Linear size of the drop relative to the input pixel (square, turbo,
        gaussian). Values <= 0.001 switch to the point kernel.
    kernel : str
        One of `SUPPORTED_KERNELS`.
    in_units : {'cps', 'counts'}
        Input in counts is divided by ``expscale``.
    expscale : float
        Exposure time used for ``in_units='counts'``; must be > 0.
    wt_scl : float
        Multiplies the weights; must be > 0.
    fillval : str or float
        Value for output pixels that have zero total weight afterwards;
        'INDEF' (or None) leaves them untouched.
    data2, out_img2 : ndarray or list of ndarray, optional
        Arrays co-added with squared weights (e.g. variances):
        ``out2 = sum(dow**2 * d2) / sum(dow)**2`` with ``d2 = data2 * iscale**2``.
        ``out_img2`` entries are updated in place when they are C-contiguous
        float32 arrays; a None entry in ``data2`` contributes zeros.
    fillval2 : str or float
        Fill value for ``out_img2`` (applied only when ``fillval`` fills).
    dq, out_dq : integer ndarray, optional
        Input DQ bit-ORed into ``out_dq`` (uint32) wherever a pixel
        contributes; the first contribution replaces what was there.
    single_data : ndarray (K2, ny, nx), optional
        "Single" planes: drizzled with the same drops (overlaps and weights)
        as ``data`` but into ``out_single`` with a total weight of their own,
        ``out_single_wht``: this image alone, whatever ``out_img`` already
        holds (e.g. an exposure's variance arrays, resampled alone while its
        science data are co-added into a mosaic). Bit-identical to a
        separate drizzle of ``single_data`` onto those arrays.
    out_single : float32 ndarray (K2, ny_out, nx_out)
        Running weighted mean of the single planes, updated in place; pixels
        whose ``out_single_wht`` stays 0 are set to NaN.
    out_single_wht : float32 ndarray (ny_out, nx_out)
        Total weight of the single planes (0 on first use), updated in place.

    Returns
    -------
    nmiss : int
        Input pixels of the box that did not reach the output (with the
        established package's accounting).
    nskip : int
        Input lines of the box that were skipped entirely.
    """
    stacked = np.ndim(data) == 3
    data = _as_f32_planes(data, "data")
    nplanes, ny, nx = data.shape
    in_shape = (ny, nx)
    pixmap = np.ascontiguousarray(pixmap, dtype=np.float64)
    if pixmap.shape != (ny, nx, 2):
        raise ValueError(f"'pixmap' has shape {pixmap.shape}; expected {(ny, nx, 2)} for 'data' of shape "
                         f"{data.shape[1:] if not stacked else data.shape}")
    use_weights = weight_map is not None
    if use_weights:
        weights = _as_f32_2d(weight_map, "weight_map", in_shape)
    else:
        weights = np.ones((1, 1), dtype=np.float32)
    img_ndim = 3 if stacked else 2
    for name, arr, ndim in (("out_img", out_img, img_ndim), ("out_wht", out_wht, 2)):
        if not (isinstance(arr, np.ndarray) and arr.dtype == np.float32 and arr.ndim == ndim
                and arr.flags.c_contiguous and arr.flags.writeable):
            raise TypeError(f"'{name}' must be a writeable C-contiguous {ndim}-D float32 array")
    out_planes = out_img if stacked else out_img[np.newaxis]
    if out_planes.shape[0] != nplanes:
        raise ValueError(f"'out_img' has {out_planes.shape[0]} planes; 'data' has {nplanes}")
    out_shape = out_planes.shape[1:]
    if out_wht.shape != out_shape:
        raise ValueError(f"'out_wht' has shape {out_wht.shape}; expected {out_shape} like 'out_img'")
    if uniqid < 1:
        raise ValueError(f"'uniqid' must be >= 1; got {uniqid}")

    use_ctx = out_ctx is not None
    if use_ctx:
        if out_ctx.ndim == 3:
            plane = (uniqid - 1) // CTX_PLANE_BITS
            if plane >= out_ctx.shape[0]:
                raise IndexError(f"'out_ctx' has {out_ctx.shape[0]} planes; image {uniqid} needs plane {plane}")
            ctx = out_ctx[plane]
        else:
            ctx = out_ctx
        if not (ctx.dtype == np.int32 and ctx.flags.c_contiguous and ctx.flags.writeable):
            raise TypeError("'out_ctx' must be a writeable C-contiguous int32 array")
        if ctx.shape != out_shape:
            raise ValueError(f"'out_ctx' plane has shape {ctx.shape}; expected {out_shape} like 'out_img'")
    else:
        ctx = np.zeros((1, 1), dtype=np.int32)
    bit = (uniqid - 1) % CTX_PLANE_BITS
    bitval = np.array(1 << bit, dtype=np.uint32).view(np.int32)[()]

    # arrays co-added with squared weights
    stack2, out2, writeback = _prepare_squared(data2, out_img2, in_shape, out_shape)

    use_dq = dq is not None
    if use_dq:
        dq = _check_dq(dq, "dq", in_shape)
        if out_dq is None:
            raise ValueError("'out_dq' must be given together with 'dq'")
        if not (isinstance(out_dq, np.ndarray) and out_dq.dtype == np.uint32 and out_dq.flags.c_contiguous):
            raise TypeError("'out_dq' must be a C-contiguous uint32 array")
        if out_dq.shape != out_shape:
            raise ValueError(f"'out_dq' has shape {out_dq.shape}; expected {out_shape}")
    else:
        dq = np.zeros((1, 1), dtype=np.uint32)
        out_dq = np.zeros((1, 1), dtype=np.uint32)

    use_single = single_data is not None
    if use_single:
        single_data = _as_f32_planes(single_data, "single_data")
        if single_data.shape[1:] != in_shape:
            raise ValueError(f"'single_data' has planes of shape {single_data.shape[1:]}; expected {in_shape} "
                             "like 'data'")
        for name, arr, shape in (("out_single", out_single, single_data.shape[:1] + out_shape),
                                 ("out_single_wht", out_single_wht, out_shape)):
            if not (isinstance(arr, np.ndarray) and arr.dtype == np.float32 and arr.flags.c_contiguous
                    and arr.flags.writeable):
                raise TypeError(f"'{name}' must be a writeable C-contiguous float32 array (with 'single_data')")
            if arr.shape != shape:
                raise ValueError(f"'{name}' has shape {arr.shape}; expected {shape}")
    elif out_single is not None or out_single_wht is not None:
        raise ValueError("'out_single' and 'out_single_wht' need 'single_data'")

    do_fill, fill_value = _parse_fill(fillval, "fillval")
    do_fill2, fill_value2 = _parse_fill(fillval2, "fillval2")

    kernel_name = str(kernel).lower()
    if kernel_name not in KERNEL_CODES:
        raise ValueError(f"Kernel '{kernel}' is not supported; choose one of {', '.join(SUPPORTED_KERNELS)}")
    if in_units not in ("cps", "counts"):
        raise ValueError(f"in_units={in_units!r}: expected 'cps' or 'counts'")
    if not (expscale > 0.0):
        raise ValueError(f"The exposure time (expscale) must be > 0; got {expscale}")
    if not (wt_scl > 0.0):
        raise ValueError(f"The weight scale (wt_scl) must be > 0; got {wt_scl}")
    if not (iscale > 0.0 and math.isfinite(iscale)):
        raise ValueError(f"'iscale' must be positive and finite; got {iscale}")
    if pixel_scale_ratio is not None and not (pixel_scale_ratio > 0.0 and math.isfinite(pixel_scale_ratio)):
        raise ValueError(f"'pixel_scale_ratio' must be positive and finite (or None); got {pixel_scale_ratio}")
    if pixfrac <= _MIN_PIXFRAC:
        warnings.warn(f"pixfrac={pixfrac} is too small: using the 'point' kernel", RuntimeWarning, stacklevel=2)
        kernel_name = "point"
    if kernel_name.startswith("lanczos") and abs(pixfrac - 1.0) > 1.0e-5:
        warnings.warn("The lanczos kernels ignore pixfrac (taken as 1.0)", RuntimeWarning, stacklevel=2)

    iscale32 = np.float32(iscale)
    if in_units == "counts":
        iscale32 = np.float32(iscale32 / np.float32(expscale))

    if xmax == 0 or xmax >= nx:
        xmax = nx - 1
    if ymax == 0 or ymax >= ny:
        ymax = ny - 1
    if xmin < 0 or ymin < 0:
        raise ValueError(f"xmin and ymin must be >= 0; got xmin={xmin}, ymin={ymin}")
    ok, *box = valid_section(pixmap, int(xmin), int(xmax), int(ymin), int(ymax))
    if not ok:
        raise ValueError("No or too few valid pixels in the pixel map "
                         f"(box x={xmin}..{xmax}, y={ymin}..{ymax})")

    scan = scan_image(pixmap, out_shape, *box)
    nmiss = nskip = 0
    if not scan.empty:
        if pixel_scale_ratio is None and kernel_name != "square" and kernel_name != "point":
            pscale = scan.pscale_ratio_estimate(pixmap)
        else:
            pscale = 1.0 if pixel_scale_ratio is None else pixel_scale_ratio
        pscale32 = np.float32(pscale)
        nskip = scan.nskip
        if pscale32 == 0.0:
            # a degenerate map gives a zero scale estimate: the drop is
            # infinite and, as in the established code, every pixel misses
            listed = np.maximum(scan.row_last.astype(np.int64) - scan.row_first + 1, 0).sum()
            nmiss = scan.nmiss + int(listed)
        else:
            # an image (or a stack of one) goes to the kernels as 2-D arrays: their faster
            # one-plane specialisation
            kernel_data, kernel_out = (data, out_planes) if nplanes > 1 else (data[0], out_planes[0])
            arrays = (kernel_data, weights, use_weights, pixmap, kernel_out, out_wht, ctx, use_ctx, bitval,
                      stack2, out2, dq, out_dq, use_dq, single_data, out_single, out_single_wht)
            nmiss = scan.nmiss + _drizzle_listed_pixels(kernel_name, scan, arrays, out_shape, iscale32,
                                                        np.float32(wt_scl), float(pixfrac), pscale32)

    if do_fill:
        with _ThreadCount(1 if out_wht.size <= _SERIAL_MAX_PIXELS else numba.get_num_threads()):
            fill_uncovered(out_planes, out_wht, np.float32(fill_value), out2, do_fill2 and out2.shape[0] > 0,
                           np.float32(fill_value2))
    if use_single:
        with _ThreadCount(1 if out_wht.size <= _SERIAL_MAX_PIXELS else numba.get_num_threads()):
            fill_uncovered(out_single, out_single_wht, np.float32(np.nan), _NO_PLANES, False, np.float32(0.0))
    for k, target in writeback:
        target[...] = out2[k]
    return nmiss, nskip


def _drizzle_listed_pixels(kernel_name, scan, arrays, out_shape, iscale32, wscale32, pixfrac, pscale32):
    """Run the kernel over the pixels the scan lists; return the pixel misses."""
    pixmap = arrays[3]
    ny = pixmap.shape[0]
    nthreads = 1 if pixmap[..., 0].size <= _SERIAL_MAX_PIXELS else _band_count()
    if nthreads > 1:
        half_width = _drop_half_width(kernel_name, pixfrac, float(pscale32))
        row_lo, row_hi = footprint_row_bounds(pixmap, scan.row_first, scan.row_last,
                                              kernel_name == "square", half_width, pixfrac)
        bands = _output_bands(scan.row_first, scan.row_last, row_lo, row_hi, out_shape[0], nthreads)
    else:
        # one thread owns every output row: no bounds needed
        row_lo = np.full(ny, -_BAND_EDGE, dtype=np.int64)
        row_hi = np.full(ny, _BAND_EDGE, dtype=np.int64)
        bands = np.array([-_BAND_EDGE, _BAND_EDGE], dtype=np.int64)
    common = arrays + (scan.row_first, scan.row_last, row_lo, row_hi, bands, iscale32, wscale32)
    with _ThreadCount(nthreads), serial_pipeline_quiet():
        if kernel_name == "square":
            misses, escapes = drizzle_square_rows(*common, pixfrac)
        elif kernel_name == "point":
            misses, escapes = drizzle_point_rows(*common)
        else:
            order = 3 if kernel_name == "lanczos3" else 2
            lut = lanczos_lut(order) if kernel_name.startswith("lanczos") else np.zeros(1)
            misses, escapes = drizzle_drop_rows(KERNEL_CODES[kernel_name], *common, pixfrac, pscale32, lut)
    if escapes:
        raise RuntimeError(f"internal error: {escapes} drizzle drops escaped their row bounds")
    return int(misses)


def _drop_half_width(kernel, pixfrac, pscale):
    """Half-size (output pixels) of the drop about its centre, for the non-square kernels."""
    if kernel in ("turbo", "tophat"):
        return pixfrac / pscale / 2.0
    if kernel == "gaussian":
        return max(2.5 * pixfrac / 2.3548 / pscale, 1.2 / pscale)
    if kernel == "lanczos2":
        return 2.0 / pscale
    if kernel == "lanczos3":
        return 3.0 / pscale
    return 0.0


def _prepare_squared(data2, out_img2, in_shape, out_shape):
    """Stack the squared-weight inputs/outputs into 3-D arrays for the kernel.

    Returns ``(stack2, out2, writeback)``; ``writeback`` lists (index, array)
    pairs to copy results into when an output could not be used in place.
    """
    empty_in = np.zeros((0, 1, 1), dtype=np.float32)
    empty_out = np.zeros((0, 1, 1), dtype=np.float32)
    if data2 is None and out_img2 is None:
        return empty_in, empty_out, []
    if data2 is None or out_img2 is None:
        raise ValueError("'data2' and 'out_img2' must be given together")
    inputs = [data2] if isinstance(data2, np.ndarray) else list(data2)
    if isinstance(out_img2, np.ndarray):
        outputs = list(out_img2) if out_img2.ndim == 3 else [out_img2]
    else:
        outputs = list(out_img2)
    if all(a is None for a in inputs):
        return empty_in, empty_out, []
    if len(inputs) != len(outputs):
        raise ValueError(f"{len(inputs)} 'data2' arrays but {len(outputs)} 'out_img2' arrays")
    stack2 = np.zeros((len(inputs),) + tuple(in_shape), dtype=np.float32)
    for k, a in enumerate(inputs):
        if a is not None:
            a = np.asarray(a)
            if a.shape != tuple(in_shape):
                raise ValueError(f"'data2[{k}]' has shape {a.shape}; expected {tuple(in_shape)} like 'data'")
            stack2[k] = a
    for k, a in enumerate(outputs):
        if a is None or np.shape(a) != tuple(out_shape):
            raise ValueError(f"'out_img2[{k}]' must be an array of shape {tuple(out_shape)}")
    if isinstance(out_img2, np.ndarray) and out_img2.ndim == 3 and out_img2.dtype == np.float32 \
            and out_img2.flags.c_contiguous:
        return stack2, out_img2, []
    out2 = np.stack([np.asarray(a, dtype=np.float32) for a in outputs])
    return stack2, out2, list(enumerate(outputs))


class Drizzle:
    """Accumulator that drizzles images one by one onto a common output grid.

    Parameters
    ----------
    kernel : str
        One of `SUPPORTED_KERNELS`.
    fillval, fillval2 : str, float or None
        Value of output pixels no input reached (for ``out_img`` and the
        squared-weight images). None or 'INDEF' leaves a supplied ``out_img``
        untouched and makes an allocated one NaN.
    out_shape : tuple of int, optional
        Output shape (ny, nx) when no output arrays are supplied. When it is
        not known either, the first image's pixel map defines it (the map is
        shifted so that its minimum lands on pixel 0).
    out_img, out_wht, out_ctx, out_img2, out_dq : ndarray, optional
        Existing outputs to continue (float32, float32, int32 2-D or 3-D,
        float32 or list of float32, uint32). ``out_img``/``out_wht``/
        ``out_dq`` are updated in place when they already have those dtypes;
        read results from the properties.
    exptime : float
        Total exposure time already in the supplied outputs.
    begin_ctx_id : int
        0-based context number of the first image added.
    max_ctx_id : int, optional
        Largest context number expected, to pre-allocate context planes.
    disable_ctx : bool
        Do not keep a context image.
    out_units : {'cps', 'counts'}
        Units returned by `image_in_units` (the running ``out_img`` is
        always a rate).
    nplanes : int, optional
        Drizzle stacks of this many images at once: ``add_image`` takes
        (nplanes, ny, nx) data whose planes share the pixel map, weights and
        overlaps (e.g. an exposure's SCI and ERR), and ``out_img`` is
        (nplanes, ny_out, nx_out) with one shared ``out_wht``. Each plane is
        bit-identical to drizzling it alone. None (default): 2-D images.
    """

    def __init__(self, kernel="square", fillval=None, fillval2=None, out_shape=None, out_img=None,
                 out_wht=None, out_ctx=None, out_img2=None, out_dq=None, exptime=0.0,
                 begin_ctx_id=0, max_ctx_id=None, disable_ctx=False, out_units="cps", nplanes=None):
        if str(kernel).lower() not in SUPPORTED_KERNELS:
            raise ValueError(f"Kernel '{kernel}' is not supported; choose one of {', '.join(SUPPORTED_KERNELS)}")
        if out_units not in ("cps", "counts"):
            raise ValueError(f"out_units={out_units!r}: expected 'cps' or 'counts'")
        if exptime < 0.0:
            raise ValueError(f"Exposure time must be non-negative; got {exptime}")
        if exptime > 0.0 and out_img is None and out_ctx is None and out_wht is None:
            raise ValueError("Exposure time must be 0.0 when no previous output arrays are supplied")
        if nplanes is not None and not (isinstance(nplanes, (int, np.integer)) and nplanes >= 1):
            raise ValueError(f"nplanes={nplanes!r}: expected None or an integer >= 1")
        self._nplanes = None if nplanes is None else int(nplanes)
        self._kernel = str(kernel).lower()
        self._out_units = out_units
        self._texptime = float(exptime)
        self._disable_ctx = bool(disable_ctx)
        self._ncoadds = 0
        if not self._disable_ctx:
            if begin_ctx_id < 0:
                raise ValueError(f"Invalid context image ID {begin_ctx_id}: must be >= 0")
            if max_ctx_id is None:
                max_ctx_id = begin_ctx_id
            elif max_ctx_id < begin_ctx_id:
                raise ValueError("'max_ctx_id' cannot be smaller than 'begin_ctx_id'")
        self._ctx_id = None if self._disable_ctx else int(begin_ctx_id)
        self._max_ctx_id = max_ctx_id

        self._fill = _parse_fill(fillval, "fillval")
        self._fill2 = _parse_fill(fillval2, "fillval2")
        # an allocated output starts as NaN when no fill value was given
        self._alloc_fill = self._fill[1] if self._fill[0] else np.nan
        self._alloc_fill2 = self._fill2[1] if self._fill2[0] else np.nan
        if out_img is None and not self._fill[0]:
            self._fill = (True, np.nan)
        if out_img2 is None and not self._fill2[0]:
            self._fill2 = (True, np.nan)

        shapes = set()
        if out_shape is not None:
            shapes.add(tuple(int(n) for n in out_shape))
        if out_img is not None:
            out_img = np.ascontiguousarray(out_img, dtype=np.float32)
            if self._nplanes is None and out_img.ndim != 2:
                raise ValueError(f"'out_img' must be a 2-D array; got shape {out_img.shape}")
            if self._nplanes is not None and (out_img.ndim != 3 or out_img.shape[0] != self._nplanes):
                raise ValueError(f"'out_img' must have shape ({self._nplanes}, ny, nx) for nplanes={self._nplanes}; "
                                 f"got {out_img.shape}")
            shapes.add(out_img.shape[-2:])
        if out_wht is not None:
            out_wht = np.ascontiguousarray(out_wht, dtype=np.float32)
            shapes.add(out_wht.shape)
        if out_ctx is not None and not self._disable_ctx:
            out_ctx = np.ascontiguousarray(out_ctx, dtype=np.int32)
            if out_ctx.ndim == 2:
                out_ctx = out_ctx[np.newaxis]
            elif out_ctx.ndim != 3:
                raise ValueError(f"'out_ctx' must be a 2-D or 3-D array; got shape {out_ctx.shape}")
            shapes.add(out_ctx.shape[1:])
        if out_dq is not None:
            out_dq = _check_dq(out_dq, "out_dq", np.shape(out_dq))
            shapes.add(out_dq.shape)
        if out_img2 is not None:
            for a in ([out_img2] if isinstance(out_img2, np.ndarray) and out_img2.ndim == 2 else out_img2):
                if a is not None:
                    shapes.add(np.shape(a))
        if len(shapes) > 1:
            raise ValueError(f"Inconsistent output shapes among out_shape/out_img/out_wht/out_ctx/"
                             f"out_img2/out_dq: {sorted(shapes)}")
        self._out_shape = shapes.pop() if shapes else None
        self._out_img = out_img
        self._out_wht = out_wht
        self._out_ctx = None if self._disable_ctx else out_ctx
        self._out_dq = out_dq
        self._out_img2 = None
        self._pending_img2 = out_img2
        self._out_single = self._out_single_wht = None
        if self._out_shape is not None:
            self._allocate(self._out_shape)
            if exptime == 0.0 and ((self._out_ctx is not None and np.any(self._out_ctx))
                                   or np.any(self._out_wht > 0)):
                raise ValueError("Exposure time cannot be 0 when the supplied context or weight "
                                 "arrays are non-zero")
            if self._out_ctx is not None and out_wht is not None and \
                    np.any((self._out_wht > 0) != np.any(self._out_ctx != 0, axis=0)):
                raise ValueError("Inconsistent 'out_wht' and 'out_ctx': pixels with non-zero context "
                                 "must have positive weight and vice versa")

    # -- properties -----------------------------------------------------------------

    @property
    def kernel(self):
        """Resampling kernel name."""
        return self._kernel

    @property
    def fillval(self):
        """Fill value of ``out_img`` pixels without contributions (NaN or a number; None: untouched)."""
        return self._fill[1] if self._fill[0] else None

    @property
    def ctx_id(self):
        """0-based context number the next image will get (None with context disabled)."""
        return self._ctx_id

    @property
    def nplanes(self):
        """Number of image planes drizzled together (None: 2-D images)."""
        return self._nplanes

    @property
    def out_img(self):
        """Resampled image: weighted mean (a rate for counts input); (nplanes, ny, nx) with ``nplanes``."""
        return self._out_img

    @property
    def out_wht(self):
        """Total weight of each output pixel."""
        return self._out_wht

    @property
    def out_ctx(self):
        """Context planes, int32 (nplanes, ny, nx), or None."""
        return self._out_ctx

    @property
    def out_img2(self):
        """Squared-weight co-adds: list of 2-D float32 arrays, or None."""
        if self._out_img2 is None:
            return None
        return list(self._out_img2)

    @property
    def out_single(self):
        """The last `add_image`'s ``single_data`` resampled alone, float32 (K2, ny, nx), or None."""
        return self._out_single

    @property
    def out_single_wht(self):
        """Total weight of `out_single`, or None."""
        return self._out_single_wht

    @property
    def out_dq(self):
        """Bitwise OR of the DQ of contributing input pixels, or None."""
        return self._out_dq

    @property
    def total_exptime(self):
        """Total exposure time of the images added so far."""
        return self._texptime

    def image_in_units(self, out_units=None):
        """``out_img`` in ``out_units`` ('cps' as is; 'counts' times the total exposure time)."""
        units = out_units or self._out_units
        if units == "cps":
            return self._out_img
        if units == "counts":
            return self._out_img * np.float32(self._texptime)
        raise ValueError(f"out_units={units!r}: expected 'cps' or 'counts'")

    # -- work --------------------------------------------------------------------------

    def _allocate(self, shape):
        self._out_shape = tuple(shape)
        if self._out_wht is None:
            self._out_wht = np.zeros(shape, dtype=np.float32)
        if self._out_img is None:
            planes = () if self._nplanes is None else (self._nplanes,)
            self._out_img = np.full(planes + tuple(shape), self._alloc_fill, dtype=np.float32)
        if not self._disable_ctx and self._out_ctx is None:
            nplanes = self._max_ctx_id // CTX_PLANE_BITS + 1
            self._out_ctx = np.zeros((nplanes,) + tuple(shape), dtype=np.int32)
        pending = self._pending_img2
        if pending is not None:
            pending = [pending] if isinstance(pending, np.ndarray) and pending.ndim == 2 else list(pending)
            self._out_img2 = np.stack([
                np.full(shape, self._alloc_fill2, dtype=np.float32) if a is None
                else np.asarray(a, dtype=np.float32) for a in pending])
            self._pending_img2 = None

    def add_image(self, data, exptime, pixmap, data2=None, dq=None, iscale=1.0, pixel_scale_ratio=1.0,
                  weight_map=None, wht_scale=1.0, pixfrac=1.0, in_units="cps",
                  xmin=None, xmax=None, ymin=None, ymax=None, single_data=None):
        """Resample ``data`` and fold it into the outputs.

        Parameters
        ----------
        data : ndarray (ny, nx), or (nplanes, ny, nx) for a Drizzle with ``nplanes``
            Input image (or images sharing the pixel map and weights).
        exptime : float
            Its exposure time (> 0); accumulated, and divides counts input.
        pixmap : ndarray (ny, nx, 2)
            Output (x, y) of each input pixel centre (NaN: unusable).
        data2 : ndarray or list of ndarray, optional
            Arrays co-added with squared weights (e.g. variances); the same
            number on every call.
        dq : integer ndarray, optional
            Input DQ, bit-ORed into `out_dq`.
        iscale : float
            Multiplies the input values (``data2`` by its square).
        pixel_scale_ratio : float or None
            Output over input linear pixel size; sizes the turbo, gaussian
            and lanczos drops (None: estimated from the pixel map).
        weight_map : ndarray, optional
            Input pixel weights (1 when omitted).
        wht_scale : float or {'exptime', 'expsq'}
            Multiplies the weights: a number, the exposure time or its square.
        pixfrac : float
            Drop size relative to the input pixel.
        in_units : {'cps', 'counts'}
            Units of ``data``.
        xmin, xmax, ymin, ymax : int, optional
            Inclusive 0-based box of input pixels to use.
        single_data : ndarray (K2, ny, nx), optional
            Planes drizzled with this image's drops (same overlaps and
            weights) onto a fresh grid of their own: this image alone, not
            co-added with the others (e.g. its variance arrays, resampled
            before they are combined across images). The result is
            `out_single` (NaN where nothing landed) with weight
            `out_single_wht`, replaced on each call; bit-identical to a
            separate Drizzle of ``single_data``.

        Returns
        -------
        nmiss, nskip : int
            Input pixels and lines of the box that did not reach the output.
        """
        if not (exptime > 0.0):
            raise ValueError(f"'exptime' must be a strictly positive number; got {exptime}")
        if isinstance(wht_scale, str):
            if wht_scale == "exptime":
                wht_scale = exptime
            elif wht_scale == "expsq":
                wht_scale = exptime * exptime
            else:
                raise ValueError(f"wht_scale={wht_scale!r}: expected a number, 'exptime' or 'expsq'")
        data = np.asarray(data)
        if self._nplanes is None and data.ndim != 2:
            raise ValueError(f"'data' must be a 2-D image; got shape {data.shape} (stacks need nplanes)")
        if self._nplanes is not None and (data.ndim != 3 or data.shape[0] != self._nplanes):
            raise ValueError(f"'data' must have shape ({self._nplanes}, ny, nx) for nplanes={self._nplanes}; "
                             f"got {data.shape}")
        in_shape = data.shape[-2:]
        pixmap = np.asarray(pixmap, dtype=np.float64)
        if pixmap.ndim != 3 or pixmap.shape[:2] != in_shape or pixmap.shape[2] != 2:
            raise ValueError(f"'pixmap' has shape {pixmap.shape}; expected {in_shape + (2,)} for 'data'")
        if self._out_shape is None:
            # no output grid yet: the pixel map's extent defines it
            x0 = int(np.floor(np.nanmin(pixmap[..., 0])))
            x1 = int(np.ceil(np.nanmax(pixmap[..., 0])))
            y0 = int(np.floor(np.nanmin(pixmap[..., 1])))
            y1 = int(np.ceil(np.nanmax(pixmap[..., 1])))
            pixmap = pixmap - np.array([x0, y0], dtype=np.float64)
            self._allocate((y1 - y0 + 1, x1 - x0 + 1))

        # squared-weight outputs appear on the first call that brings data2
        if data2 is not None:
            n2 = 1 if isinstance(data2, np.ndarray) else len(data2)
            if self._out_img2 is None:
                if self._ncoadds > 0:
                    raise ValueError("'data2' given now but not for the images already added")
                fill = self._fill2[1] if self._fill2[0] else np.nan
                self._out_img2 = np.full((n2,) + self._out_shape, fill, dtype=np.float32)
            elif self._out_img2.shape[0] != n2:
                raise ValueError(f"{n2} 'data2' arrays given; {self._out_img2.shape[0]} expected")
        elif self._out_img2 is not None:
            raise ValueError("'data2' is required: squared-weight outputs are being accumulated")
        if dq is not None and self._out_dq is None:
            self._out_dq = np.zeros(self._out_shape, dtype=np.uint32)
        self._out_single = self._out_single_wht = None
        if single_data is not None:
            single_data = np.asarray(single_data)
            if single_data.ndim != 3 or single_data.shape[1:] != in_shape:
                raise ValueError(f"'single_data' must have shape (K, {in_shape[0]}, {in_shape[1]}); "
                                 f"got {single_data.shape}")
            # no prefill: each pixel gets its first contribution or, without any, NaN
            self._out_single = np.empty(single_data.shape[:1] + self._out_shape, dtype=np.float32)
            self._out_single_wht = np.zeros(self._out_shape, dtype=np.float32)

        if self._disable_ctx:
            out_ctx, uniqid = None, 1
        else:
            plane = self._ctx_id // CTX_PLANE_BITS
            if plane >= self._out_ctx.shape[0]:
                grown = np.zeros((plane + 1,) + self._out_shape, dtype=np.int32)
                grown[:self._out_ctx.shape[0]] = self._out_ctx
                self._out_ctx = grown
            out_ctx = self._out_ctx[plane]
            uniqid = self._ctx_id % CTX_PLANE_BITS + 1
            self._ctx_id += 1

        ny, nx = in_shape
        xmin = 0 if xmin is None or xmin < 0 else int(xmin)
        ymin = 0 if ymin is None or ymin < 0 else int(ymin)
        xmax = nx - 1 if xmax is None or xmax > nx - 1 else int(xmax)
        ymax = ny - 1 if ymax is None or ymax > ny - 1 else int(ymax)
        self._texptime += exptime
        fill = "INDEF" if not self._fill[0] else self._fill[1]
        fill2 = "INDEF" if not self._fill2[0] else self._fill2[1]
        result = drizzle_add(
            data, pixmap, self._out_img, self._out_wht, out_ctx, weight_map=weight_map, uniqid=uniqid,
            xmin=xmin, xmax=xmax, ymin=ymin, ymax=ymax, iscale=iscale,
            pixel_scale_ratio=pixel_scale_ratio, pixfrac=pixfrac, kernel=self._kernel,
            in_units=in_units, expscale=exptime if in_units == "counts" else 1.0, wt_scl=wht_scale,
            fillval=fill, data2=data2, out_img2=self._out_img2, fillval2=fill2,
            dq=dq, out_dq=self._out_dq if dq is not None else None, single_data=single_data,
            out_single=self._out_single, out_single_wht=self._out_single_wht)
        self._ncoadds += 1
        return result


def decode_context(context, x, y):
    """0-based numbers of the input images that contributed to output pixels (x, y).

    Parameters
    ----------
    context : int ndarray (nplanes, ny, nx)
    x, y : int or sequence of int
        Pixel columns and rows.

    Returns
    -------
    list of ndarray
        One array of image numbers per pixel.
    """
    context = np.asarray(context)
    if context.ndim != 3:
        raise ValueError(f"'context' must be a 3-D array; got {context.ndim} dimensions")
    x = np.atleast_1d(x)
    y = np.atleast_1d(y)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be scalars or 1-D arrays of equal length")
    if not (np.issubdtype(x.dtype, np.integer) and np.issubdtype(y.dtype, np.integer)):
        raise ValueError("Pixel coordinates must be integers")
    nbits = 8 * context.dtype.itemsize
    bits = np.arange(nbits, dtype=np.uint64)
    result = []
    for xi, yi in zip(x, y):
        words = context[:, yi, xi].astype(np.uint64) & np.uint64(2**nbits - 1)
        set_bits = (words[:, None] >> bits[None, :]) & np.uint64(1)
        result.append(np.flatnonzero(set_bits.ravel()))
    return result


def resample_variance(variance, pixmap, out_shape, *, weight_map=None, iscale=1.0, pixel_scale_ratio=1.0,
                      pixfrac=1.0, kernel="square", xmin=None, xmax=None, ymin=None, ymax=None):
    """Resample one variance array the way the JWST pipeline does.

    The standard deviation ``sqrt(variance)`` is drizzled with the same
    kernel, overlaps and weights as the science data onto a fresh
    NaN-filled grid, and the result is squared: output pixels then carry the
    variance of an input pixel at that position, which `VarianceCombiner`
    combines across images. Several arrays of one image: `resample_variances`.

    Returns
    -------
    ndarray (out_shape), float32
        Resampled variance (NaN where no input landed).
    """
    return resample_variances([variance], pixmap, out_shape, weight_map=weight_map, iscale=iscale,
                              pixel_scale_ratio=pixel_scale_ratio, pixfrac=pixfrac, kernel=kernel,
                              xmin=xmin, xmax=xmax, ymin=ymin, ymax=ymax)[0]


def resample_variances(variances, pixmap, out_shape, *, weight_map=None, iscale=1.0, pixel_scale_ratio=1.0,
                       pixfrac=1.0, kernel="square", xmin=None, xmax=None, ymin=None, ymax=None):
    """Resample several variance arrays of one image in one drizzle pass (see `resample_variance`).

    The arrays share the pixel map and the weights, so their standard
    deviations are drizzled as the planes of one stack: the overlaps are
    computed once. Each result is bit-identical to `resample_variance` of
    that array alone.

    Parameters
    ----------
    variances : sequence of ndarray (ny, nx), or ndarray (K, ny, nx)
        The variance arrays (e.g. VAR_RNOISE, VAR_POISSON, VAR_FLAT).
    pixmap, out_shape, weight_map, iscale, pixel_scale_ratio, pixfrac, kernel, xmin, xmax, ymin, ymax
        As `Drizzle.add_image`.

    Returns
    -------
    ndarray (K, out_shape), float32
        The resampled variances (NaN where no input landed).
    """
    sigma = sigma_planes(variances)
    driz = Drizzle(kernel=kernel, out_shape=out_shape, fillval=np.nan, disable_ctx=True, nplanes=len(variances))
    driz.add_image(sigma, exptime=1.0, pixmap=pixmap, iscale=iscale, pixel_scale_ratio=pixel_scale_ratio,
                   weight_map=weight_map, wht_scale=1.0, pixfrac=pixfrac, in_units="cps",
                   xmin=xmin, xmax=xmax, ymin=ymin, ymax=ymax)
    out = driz.out_img
    np.square(out, out=out)
    return out


def sigma_planes(variances):
    """``sqrt(variance)`` of each array, as one float32 stack (K, ny, nx) (NaN where negative).

    The planes the JWST recipe drizzles for variances (`resample_variance`),
    e.g. as ``single_data`` beside the science data.
    """
    variances = list(variances)
    if not variances:
        raise ValueError("no variance arrays given")
    shape = np.shape(variances[0])
    if len(shape) != 2:
        raise ValueError(f"variance arrays must be 2-D; the first has shape {shape}")
    sigma = np.empty((len(variances),) + shape, dtype=np.float32)
    for k, variance in enumerate(variances):
        variance = np.ascontiguousarray(variance, dtype=np.float32)
        if variance.shape != shape:
            raise ValueError(f"variance array {k} has shape {variance.shape}; expected {shape} like the first")
        _sqrt_into(variance, sigma[k])
    return sigma


@numba.njit(cache=True, nogil=True, parallel=True)
def _sqrt_into(variance, out):  # pragma: no cover - numba
    ny, nx = variance.shape
    for j in numba.prange(ny):
        for i in range(nx):
            out[j, i] = np.sqrt(variance[j, i])  # the IEEE square root, NaN for negatives, as numpy


class VarianceCombiner:
    """Weighted combination of resampled variances across images.

    For each output pixel, ``var = scaling * sum(w_k**2 var_k) / (sum w_k)**2``
    over the images k whose resampled variance is finite and >= 0 there and
    whose weight ``w_k`` is > 0 (the pipeline uses the inverse resampled
    read-noise variance, or the exposure time, as ``w_k``).

    Parameters
    ----------
    shape : tuple of int
        Output shape.
    """

    def __init__(self, shape):
        self._wsum = np.full(shape, np.nan, dtype=np.float64)
        self._wtot = np.zeros(shape, dtype=np.float64)

    def add(self, variance, weight):
        """Fold in one image's resampled variance with weight (scalar or array)."""
        variance = np.asarray(variance)
        weight = np.broadcast_to(np.asarray(weight, dtype=np.float64), variance.shape)
        good = np.isfinite(variance) & (variance >= 0) & (weight > 0)
        w = weight[good]
        term = variance[good] * w * w
        current = self._wsum[good]
        self._wsum[good] = np.where(np.isnan(current), term, current + term)
        self._wtot[good] += w

    def result(self, scaling=1.0, dtype=np.float32):
        """Combined variance times ``scaling`` (NaN where no image contributed)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self._wsum * scaling / self._wtot / self._wtot
        out[self._wtot == 0] = np.nan
        return out.astype(dtype)
