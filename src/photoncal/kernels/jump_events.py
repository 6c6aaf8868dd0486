"""Large jump events: NIR "snowballs" and MIRI "showers".

Called by :func:`photoncal.kernels.jump.detect_jumps` when
``expand_large_events`` or ``find_showers`` is set.  The geometry follows
the established implementation (stcal ``jump``): connected regions are
labelled with 8-connectivity, each region is described by the ellipse of
its second moments (centre, full axes ``4 sqrt(eigenvalue) - 1``,
orientation), and ellipses are rasterised with the pixel rule "centre of
the pixel strictly inside the ellipse".  Written with scipy.ndimage and
astropy (no scikit-image).

Snowballs (per integration and group): regions of new JUMP_DET flags with
at least ``min_jump_area`` pixels that contain the centre of a region of
newly saturated pixels (this or the next group), or lie within
``edge_size`` of the edge, are flagged JUMP_DET over an ellipse expanded by
``expand_factor``.  Saturated cores wider than ``min_sat_radius_extend`` are
grown by ``sat_expand`` pixels and flagged SATURATED in this and all later
groups; with ``mask_snowball_core_next_int`` the cores are also flagged
JUMP_DET in the first groups of the next integration.

Showers (MIRI): the ratio of each first difference to its noise, with
flagged pixels masked, is smoothed with a ring kernel; regions above
``extend_snr_threshold`` of at least ``extend_min_area`` pixels are flagged
JUMP_DET over an expanded ellipse in that group and the
``time_masked_after_shower`` that follow.  Flags that change a pixel's mean
difference by more than ``max_shower_amplitude`` are reverted.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import ndimage, signal

__all__ = ["find_ellipses", "ellipse_pixels", "flag_snowballs", "flag_showers"]

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


# ---------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------
def _moments(image, center, order=3):
    """Moments sum image * (r - r0)**i * (c - c0)**j, contracted one axis at a time."""
    calc = image
    orders = np.arange(order + 1, dtype=np.float64)
    for dim, length in enumerate(image.shape):
        delta = np.arange(length, dtype=np.float64) - center[dim]
        powers = delta[:, np.newaxis] ** orders
        labels_in = [0, 1]
        labels_in[dim] = 2
        labels_out = [0, 1]
        labels_out[dim] = 3
        calc = np.einsum(calc, labels_in, powers, [2, 3], labels_out, optimize="greedy")
    return calc


_SHAPE_CACHE: dict = {}
_SHAPE_CACHE_SIZE = 4096


def _region_shape(region):
    """(minor - 1, major - 1, orientation) of one region's local mask (translation invariant).

    Small regions repeat (a cosmic ray and its four flagged neighbours), so
    results are cached by the mask's bytes; the numbers are identical either
    way.
    """
    key = (region.shape, region.tobytes())
    cached = _SHAPE_CACHE.get(key)
    if cached is not None:
        return cached
    image = region.astype(np.uint8).astype(np.float64)
    raw = _moments(image, (0.0, 0.0))
    local = np.asarray((raw[1, 0] / raw[0, 0], raw[0, 1] / raw[0, 0]))
    mu = _moments(image, local)
    mu0 = mu[0, 0]
    both = np.sum(mu[(np.array([2, 0]), np.array([0, 2]))])
    tensor = np.array([[(both - mu[2, 0]) / mu0, -mu[1, 1] / mu0],
                       [-mu[1, 1] / mu0, (both - mu[0, 2]) / mu0]])
    eig = sorted(np.clip(np.linalg.eigvalsh(tensor), 0, None), reverse=True)
    major = 4 * math.sqrt(eig[0])
    minor = 4 * math.sqrt(eig[-1])
    a, b, _, c = tensor.flat
    if a - c == 0:
        orientation = math.pi / 4.0 if b < 0 else -math.pi / 4.0
    else:
        orientation = 0.5 * math.atan2(-2 * b, c - a)
    result = (minor - 1, major - 1, np.degrees(orientation))
    if len(_SHAPE_CACHE) >= _SHAPE_CACHE_SIZE:
        _SHAPE_CACHE.clear()
    _SHAPE_CACHE[key] = result
    return result


def find_ellipses(mask, min_area):
    """Moment ellipses of the connected regions of ``mask`` with filled area >= ``min_area``.

    The moments, inertia tensor, axes and orientation are computed in the
    same order of floating-point operations as the established tool chain
    (scikit-image region properties) so that ellipse boundaries rasterise to
    the same pixels.

    Returns
    -------
    list of ((cen_x, cen_y), (minor, major), angle_deg)
        ``cen_x`` is the column and ``cen_y`` the row of the centroid; the
        axes are full lengths minus one pixel; the angle is the orientation
        of the major axis from the row axis in degrees.
    """
    labels, count = ndimage.label(mask != 0, structure=_EIGHT_CONNECTED)
    ellipses = []
    if count == 0:
        return ellipses
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        region = labels[box] == index
        # Filling holes only adds area: needed only for regions below the limit.
        if region.sum() < min_area and ndimage.binary_fill_holes(region, structure=_EIGHT_CONNECTED).sum() < min_area:
            continue
        offset = np.array([box[0].start, box[1].start])
        centroid = ((offset + np.argwhere(region)) * np.ones(2)).mean(axis=0)
        minor, major, angle = _region_shape(region)
        ellipses.append(((float(centroid[1]), float(centroid[0])), (minor, major), angle))
    return ellipses


def ellipse_pixels(row, col, row_radius, col_radius, shape, rotation):
    """Pixels whose centres lie strictly inside a rotated ellipse, clipped to ``shape``.

    ``rotation`` (radians, counter-clockwise from the column axis) rotates the
    ellipse whose semi-axes are ``row_radius`` along rows and ``col_radius``
    along columns.  Returns (rows, cols).
    """
    rotation = np.float64(rotation) % np.pi
    sin_a, cos_a = np.sin(rotation), np.cos(rotation)
    half_rows = abs(row_radius * cos_a) + col_radius * sin_a
    half_cols = row_radius * sin_a + abs(col_radius * cos_a)
    r_lo = max(int(np.ceil(row - half_rows)), 0)
    c_lo = max(int(np.ceil(col - half_cols)), 0)
    r_hi = min(int(np.floor(row + half_rows)), shape[0] - 1)
    c_hi = min(int(np.floor(col + half_cols)), shape[1] - 1)
    if r_hi < r_lo or c_hi < c_lo:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    r = np.arange(0.0, float(r_hi - r_lo + 1))[:, None] - (row - r_lo)
    c = np.arange(0.0, float(c_hi - c_lo + 1))[None, :] - (col - c_lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        distance = ((r * cos_a + c * sin_a) / row_radius) ** 2 + ((r * sin_a - c * cos_a) / col_radius) ** 2
    rr, cc = np.nonzero(distance < 1)
    return rr + r_lo, cc + c_lo


def _ellipse_mask(cen_x, cen_y, axis1, axis2, angle_deg, shape):
    """Filled ellipse with full axes ``axis1`` (along columns) and ``axis2`` in a sub-image.

    Returns ``(iy1, iy2, ix1, ix2), mask`` with ``mask`` the pixels of
    ``image[iy1:iy2, ix1:ix2]`` inside the ellipse.
    """
    xc, yc = round(cen_x), round(cen_y)
    half1, half2 = round(axis1 / 2), round(axis2 / 2)
    pad = max(half1, half2) + 2
    ix1, ix2 = max(xc - pad, 0), min(xc + pad + 1, shape[1])
    iy1, iy2 = max(yc - pad, 0), min(yc + pad + 1, shape[0])
    mask = np.zeros((max(iy2 - iy1, 0), max(ix2 - ix1, 0)), dtype=bool)
    if half1 != 0 and half2 != 0 and mask.size:
        rr, cc = ellipse_pixels(yc - iy1, xc - ix1, half2, half1, mask.shape, np.radians(angle_deg))
        mask[rr, cc] = True
    return (iy1, iy2, ix1, ix2), mask


def _any_point_inside(points_x, points_y, ellipse):
    """Whether any of the points lies inside ``ellipse`` (the snowball core test)."""
    if len(points_x) == 0:
        return False
    angle = np.radians(180 - ellipse[2])
    cos_a, sin_a = np.cos(angle), np.sin(angle)
    xc = points_x - ellipse[0][0]
    yc = points_y - ellipse[0][1]
    xct = xc * cos_a - yc * sin_a
    yct = xc * sin_a + yc * cos_a
    semi_major = max(ellipse[1]) * 0.5
    semi_minor = (ellipse[1][0] if ellipse[1][1] >= ellipse[1][0] else ellipse[1][1]) * 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        return bool(np.any(xct**2 / np.float64(semi_major) ** 2 + yct**2 / np.float64(semi_minor) ** 2 <= 1))


def _expanded_axes(ellipse, expansion, max_width):
    """Both axes grow by the minor axis times (expansion - 1); returns rounded half axes."""
    minor, major = ellipse[1]
    if major < minor:
        axis1 = minor + (expansion - 1.0) * major
        axis2 = major * expansion
    else:
        axis1 = minor * expansion
        axis2 = major + (expansion - 1.0) * minor
    return round(min(axis1, max_width) / 2), round(min(axis2, max_width) / 2)


def _flag_ellipses(gdq, integ, group, ellipses, expansion, ngroups_after, max_width, jump, sat):
    """OR JUMP_DET over the expanded ellipses in ``group`` and ``ngroups_after`` more groups."""
    ngroups, ny, nx = gdq.shape[1:]
    for ellipse in ellipses:
        half1, half2 = _expanded_axes(ellipse, expansion, max_width)
        (iy1, iy2, ix1, ix2), mask = _ellipse_mask(ellipse[0][0], ellipse[0][1], 2 * half1, 2 * half2,
                                                  ellipse[2], (ny, nx))
        mask = mask.copy()
        for g in range(group, min(group + ngroups_after + 1, ngroups)):
            sub = gdq[integ, g, iy1:iy2, ix1:ix2]
            mask[(sub & sat) == sat] = False
            sub[mask] |= jump


# ---------------------------------------------------------------------------
# Snowballs
# ---------------------------------------------------------------------------
def flag_snowballs(gdq, params, *, group_time=None, flags):
    """Flag snowballs in ``gdq`` in place; returns the number found."""
    jump, sat = int(flags.jump_det), int(flags.saturated)
    nints, ngroups, ny, nx = gdq.shape
    if ngroups < 3:
        return 0
    max_width = 2 * params["max_extended_radius"]
    sat_expand = 2 * params["sat_expand"]
    low = params["edge_size"]
    high = max(0, ny - params["edge_size"])
    persist = np.zeros((nints, ny, nx), dtype=np.uint8)
    total = 0
    for integ in range(nints):
        next_new_sat = None
        for group in range(1, ngroups):
            current = (gdq[integ, group] & sat) != 0
            new_sat = current & ((gdq[integ, group - 1] & sat) == 0)
            if group < ngroups - 1:
                next_new_sat = ((gdq[integ, group + 1] & sat) != 0) & ~current
            sat_ellipses = find_ellipses(new_sat, params["min_sat_area"])
            next_ellipses = find_ellipses(next_new_sat, params["min_sat_area"])
            jump_ellipses = find_ellipses(gdq[integ, group] & jump, params["min_jump_area"])
            if params["sat_required_snowball"]:
                snowballs = []
                cores = sat_ellipses + (next_ellipses if group < ngroups - 1 else [])
                core_x = np.array([core[0][0] for core in cores], dtype=np.float64)
                core_y = np.array([core[0][1] for core in cores], dtype=np.float64)
                for candidate in jump_ellipses:
                    (cx, cy) = candidate[0]
                    if cx < low or cy < low or cx > high or cy > high:
                        snowballs.append(candidate)
                    elif _any_point_inside(core_x, core_y, candidate):
                        snowballs.append(candidate)
                _extend_saturation(gdq, persist, integ, group, sat_ellipses, params, sat_expand, max_width,
                                   jump, sat)
            else:
                snowballs = jump_ellipses
            total += len(snowballs)
            _flag_ellipses(gdq, integ, group, snowballs, params["expand_factor"], 0, max_width, jump, sat)
    if params["mask_snowball_core_next_int"] and nints > 1:
        ngroups_flagged = 0
        if group_time and group_time > 0:
            ngroups_flagged = int(params["snowball_time_masked_next_int"] // group_time)
        if ngroups_flagged >= 1:
            last = min(ngroups_flagged, ngroups)
            for integ in range(1, nints):
                gdq[integ, 1:last] |= persist[integ - 1][None]
    return total


def _extend_saturation(gdq, persist, integ, group, sat_ellipses, params, sat_expand, max_width, jump, sat):
    """Grow large saturated cores and mark them SATURATED from ``group`` on."""
    ny, nx = gdq.shape[2:]
    for ellipse in sat_ellipses:
        if min(ellipse[1]) <= params["min_sat_radius_extend"]:
            continue
        axis1 = min(ellipse[1][0] + sat_expand, max_width)
        axis2 = min(ellipse[1][1] + sat_expand, max_width)
        (iy1, iy2, ix1, ix2), mask = _ellipse_mask(ellipse[0][0], ellipse[0][1], axis1, axis2, ellipse[2],
                                                  (ny, nx))
        for g in range(group, gdq.shape[1]):
            gdq[integ, g, iy1:iy2, ix1:ix2][mask] = sat
        (iy1, iy2, ix1, ix2), core = _ellipse_mask(ellipse[0][0], ellipse[0][1], ellipse[1][0], ellipse[1][1],
                                                  ellipse[2], (ny, nx))
        persist[integ, iy1:iy2, ix1:ix2][core] = jump


# ---------------------------------------------------------------------------
# Showers
# ---------------------------------------------------------------------------
def _convolve_masked(image, kernel):
    """Normalised convolution that ignores NaNs (edges count as valid, zero)."""
    good = np.isfinite(image)
    filled = np.where(good, image, 0.0)
    convolved = signal.oaconvolve(filled, kernel, mode="same")
    pad = kernel.shape[0] // 2
    padded = np.ones((good.shape[0] + kernel.shape[0] - 1, good.shape[1] + kernel.shape[1] - 1))
    padded[pad:-pad, pad:-pad] = good
    norm = signal.oaconvolve(padded, kernel, mode="valid")
    good &= norm > 1e-3 * np.mean(kernel)
    with np.errstate(divide="ignore", invalid="ignore"):
        convolved /= norm
    convolved[~good] = np.nan
    return convolved


def flag_showers(data, gdq, pdq, gain, readnoise, params, *, nframes, group_time=None, flags, input_bad=None):
    """Flag MIRI showers in ``gdq`` in place; returns the number found.

    ``data`` are the ramps in DN (converted to electrons here); ``input_bad``
    marks the groups that were SATURATED or DO_NOT_USE before jump
    detection (default: those flagged now), which are masked as in the
    two-point search.
    """
    from astropy.convolution import Ring2DKernel
    from astropy.stats import sigma_clipped_stats

    jump, sat, dnu = int(flags.jump_det), int(flags.saturated), int(flags.do_not_use)
    refpix = int(flags.reference_pixel)
    nints, ngroups, ny, nx = gdq.shape
    gain = np.asarray(gain, dtype=np.float32)
    electrons = data * gain[None, None]
    if input_bad is None:
        input_bad = (gdq & (dnu | sat)) != 0
    electrons[input_bad] = np.nan
    all_dnu = np.array([[np.all(gdq[i, k] & dnu) for k in range(ngroups)] for i in range(nints)])
    if nints * (ngroups - 1) - all_dnu.sum() < 10:
        warnings.warn("not enough differences for shower detection", stacklevel=3)
        return 0
    input_gdq = gdq.copy()
    work = electrons.copy()
    for value in (jump | dnu, sat | dnu, sat, jump, dnu):
        work[gdq == value] = np.nan
    ref = pdq == refpix
    gdq[:, :, ref] = dnu
    first_diffs = np.diff(work, axis=1)
    del work
    rn2 = (np.asarray(readnoise, dtype=np.float32) * gain) ** 2
    use_sigclip = nints >= params["minimum_sigclip_groups"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if use_sigclip:
            _, clip_median, clip_std = sigma_clipped_stats(first_diffs, sigma=5, axis=0)
        else:
            median_diffs = np.nanmedian(first_diffs, axis=(0, 1))
            sigma = np.sqrt(np.abs(median_diffs) + rn2 / nframes)
    kernel = Ring2DKernel(params["extend_inner_radius"], params["extend_outer_radius"]).array
    max_width = 2 * params["max_extended_radius"]
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for integ in range(nints):
            first_good = next((k for k in range(ngroups) if not np.all(gdq[integ, k] & dnu)), 0)
            for group in range(first_good + 1, ngroups):
                if use_sigclip:
                    ratio = np.abs(first_diffs[integ, group - 1] - clip_median[group - 1]) / clip_std[group - 1]
                else:
                    ratio = np.abs(first_diffs[integ, group - 1] - median_diffs) / sigma
                masked = np.array(ratio)
                flagged = ((gdq[integ, group] | pdq) & (jump | sat | dnu)) != 0
                masked[flagged] = np.nan
                smoothed = _convolve_masked(masked, kernel)
                ellipses = find_ellipses(smoothed > params["extend_snr_threshold"], params["extend_min_area"])
                if ellipses:
                    found.append((integ, group, ellipses))
    ngroups_after = 0
    if group_time and group_time > 0:
        ngroups_after = int(params["time_masked_after_shower"] // group_time)
    total = 0
    for integ, group, ellipses in found:
        total += len(ellipses)
        _flag_ellipses(gdq, integ, group, ellipses, params["extend_ellipse_expand_ratio"], ngroups_after,
                       max_width, jump, sat)
    # Undo flags that change a pixel's mean difference more than a real shower can.
    amplitude = params["max_shower_amplitude"] * (group_time or 1.0)
    invalid = dnu | sat | jump
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for integ in range(nints):
            before = np.where((input_gdq[integ] & invalid) != 0, np.nan, electrons[integ])
            after = np.where((gdq[integ] & invalid) != 0, np.nan, electrons[integ])
            change = np.abs(np.nanmean(np.diff(before, axis=0), axis=0) - np.nanmean(np.diff(after, axis=0), axis=0))
            revert = ~np.isfinite(change) | (change > amplitude)
            gdq[integ][:, revert] = input_gdq[integ][:, revert]
    return total
