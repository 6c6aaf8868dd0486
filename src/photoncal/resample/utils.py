"""Helpers of the resampling driver: weights, output WCS, FITS keywords, DRIZPARS.

Pure functions on arrays, gwcs objects and (for the metadata helpers) data
models; no drizzling happens here.
"""

from __future__ import annotations

import math
import os

import numpy as np

__all__ = [
    "good_pixel_mask",
    "build_driz_weight",
    "resample_range",
    "footprint_from_s_region",
    "reference_pixel",
    "input_pixel_scale",
    "output_wcs_from_inputs",
    "load_custom_wcs",
    "fits_keywords_of_output_wcs",
    "select_drizpars_row",
    "s_region_of_output",
]


def good_pixel_mask(dq, good_bits):
    """Boolean map of the pixels whose DQ flags are all "good".

    Parameters
    ----------
    dq : integer ndarray
        DQ array.
    good_bits : int, str, list or None
        The flags to ignore (the established ``good_bits``: an integer, a
        ``,``/``+`` separated string of integers or names, ``~`` to list the
        bad flags instead); ``None`` ignores DQ altogether.

    Returns
    -------
    ndarray of bool
    """
    from photoncal.dqflags import interpret_bit_flags

    good = interpret_bit_flags(good_bits)
    if good is None:
        return np.ones(np.shape(dq), dtype=bool)
    bad = np.uint32(~int(good) & 0xFFFFFFFF)
    return (np.asarray(dq).astype(np.uint32, copy=False) & bad) == 0


def build_driz_weight(dq, good_bits, weight_type, var_rnoise=None, exptime=None, log=None, name=""):
    """Input weight map of one image (float32).

    ``ivm``: inverse of VAR_RNOISE (0 where it is not finite and positive;
    1 everywhere when the image has no VAR_RNOISE); ``exptime``: the
    measurement (else exposure) time; ``None``: 1.  Pixels with bad DQ flags
    get 0.
    """
    mask = good_pixel_mask(dq, good_bits)
    if weight_type is not None and str(weight_type).startswith("ivm"):
        if var_rnoise is not None and np.shape(var_rnoise) == np.shape(dq):
            with np.errstate(divide="ignore", invalid="ignore"):
                weight = np.reciprocal(np.asarray(var_rnoise, dtype=np.float32))
            weight[~np.isfinite(weight) | (weight < 0)] = 0.0
        else:
            if log is not None:
                log.warning("%s has no VAR_RNOISE array: ivm weights set to 1", name or "an input")
            weight = np.ones(np.shape(dq), dtype=np.float32)
    elif weight_type == "exptime":
        if exptime is None or not exptime > 0:
            raise ValueError(f"{name or 'input'}: weight_type='exptime' needs a positive exposure time "
                             "(TMEASURE or EFFEXPTM)")
        weight = np.full(np.shape(dq), np.float32(exptime), dtype=np.float32)
    elif weight_type is None:
        weight = np.ones(np.shape(dq), dtype=np.float32)
    else:
        raise ValueError(f"weight_type={weight_type!r}: expected 'ivm', 'exptime' or None")
    weight[~mask] = 0.0
    return weight


def resample_range(shape, bounding_box=None):
    """Inclusive 0-based ``(xmin, xmax, ymin, ymax)`` of the input pixels to drizzle."""
    ny, nx = shape
    if bounding_box is None:
        return 0, max(nx - 1, 0), 0, max(ny - 1, 0)
    (x1, x2), (y1, y2) = bounding_box
    xmin = max(0, int(x1 + 0.5))
    ymin = max(0, int(y1 + 0.5))
    xmax = max(xmin, min(nx - 1, int(x2 + 0.5)))
    ymax = max(ymin, min(ny - 1, int(y2 + 0.5)))
    return xmin, xmax, ymin, ymax


def bounding_box_f(wcs):
    """A WCS's bounding box as ``((xlo, xhi), (ylo, yhi))``, or None."""
    bbox = getattr(wcs, "bounding_box", None)
    if bbox is None:
        return None
    try:
        (xlo, xhi), (ylo, yhi) = bbox.bounding_box(order="F")
    except AttributeError:
        (xlo, xhi), (ylo, yhi) = bbox
    return (float(xlo), float(xhi)), (float(ylo), float(yhi))


def footprint_from_s_region(s_region):
    """``(N, 2)`` RA/Dec vertices of the first polygon of an S_REGION string, or None."""
    if not s_region:
        return None
    tokens = str(s_region).replace("(", " ").replace(")", " ").split()
    values = []
    started = False
    for tok in tokens:
        upper = tok.upper()
        if upper == "POLYGON":
            if started and values:
                break
            started = True
            continue
        try:
            values.append(float(tok))
        except ValueError:
            continue  # the frame name (ICRS) and the like
    if len(values) < 6 or len(values) % 2:
        return None
    return np.array(values, dtype=np.float64).reshape(-1, 2)


def reference_pixel(wcs, wcsinfo=None):
    """The pixel of ``RA_REF``/``DEC_REF`` (else the bounding-box centre)."""
    if wcsinfo is not None and wcsinfo.get("ra_ref") is not None and wcsinfo.get("dec_ref") is not None:
        try:
            x, y = wcs.invert(wcsinfo["ra_ref"], wcsinfo["dec_ref"], with_bounding_box=False)
        except TypeError:
            x, y = wcs.invert(wcsinfo["ra_ref"], wcsinfo["dec_ref"])
        if np.isfinite(x) and np.isfinite(y):
            return float(x), float(y)
    bbox = bounding_box_f(wcs)
    if bbox is not None:
        return 0.5 * sum(bbox[0]), 0.5 * sum(bbox[1])
    shape = getattr(wcs, "array_shape", None)
    if shape is None:
        raise ValueError("the WCS has no bounding_box or array_shape and no ra_ref/dec_ref: reference pixel unknown")
    return 0.5 * (shape[1] - 1), 0.5 * (shape[0] - 1)


def input_pixel_scale(wcs, wcsinfo=None):
    """Pixel scale (degrees) of an input image at its reference point.

    The geometric mean of the sky lengths of one-pixel steps along x and y,
    as the established ``compute_scale`` measures it.
    """
    from photoncal.wcs.footprint import pixel_scale_at

    x, y = reference_pixel(wcs, wcsinfo)
    return pixel_scale_at(wcs, x, y)


def output_wcs_from_inputs(wcs_list, footprints, ref_wcsinfo=None, *, pixel_scale_ratio=1.0, pixel_scale=None,
                           rotation=None, output_shape=None, crpix=None, crval=None):
    """The output (mosaic) WCS covering every input footprint.

    Parameters
    ----------
    wcs_list : list of gwcs.WCS
        Input WCSs; the first is the reference (scale and orientation).
    footprints : list of (N, 2) arrays
        Sky outlines of the inputs (RA, Dec in degrees).
    ref_wcsinfo : dict, optional
        ``ra_ref``, ``dec_ref``, ``roll_ref``, ``v3yangle``, ``vparity`` of
        the first input.
    pixel_scale_ratio : float
        Output / input pixel scale (ignored when ``pixel_scale`` is given).
    pixel_scale : float, optional
        Output pixel scale in arcsec.
    rotation : float, optional
        Position angle of the output y axis (deg east of north); None keeps
        the first input's orientation.
    output_shape : (ny, nx), optional
    crpix : (x, y), optional
        0-based reference pixel of the output.
    crval : (ra, dec), optional

    Returns
    -------
    wcs : gwcs.WCS
    pixel_scale_deg : float
        The output pixel scale (degrees).
    ratio : float
        Output / input pixel scale.
    """
    from photoncal.wcs.footprint import wcs_from_footprints

    ref_wcs = wcs_list[0]
    scale_in = input_pixel_scale(ref_wcs, ref_wcsinfo)
    if pixel_scale is not None:
        scale_out = float(pixel_scale) / 3600.0
        ratio = scale_out / scale_in
    else:
        ratio = float(pixel_scale_ratio)
        scale_out = scale_in * ratio
    wcs = wcs_from_footprints(wcs_list, footprints=footprints, ref_wcs=ref_wcs, ref_wcsinfo=ref_wcsinfo,
                              pixel_scale=scale_out * 3600.0, rotation=rotation, shape=output_shape, crpix=crpix,
                              crval=crval)
    return wcs, scale_out, ratio


def load_custom_wcs(source, output_shape=None):
    """A user-supplied output WCS: a gwcs object or an ASDF file holding one.

    The ASDF tree holds the WCS under ``wcs`` and optionally ``pixel_scale``
    (arcsec), ``pixel_area`` (arcsec^2), ``pixel_shape`` (x, y) and
    ``array_shape`` (y, x).

    Parameters
    ----------
    source : str, path or gwcs.WCS
    output_shape : (nx, ny), optional
        Output size when the WCS does not carry one.

    Returns
    -------
    dict
        ``wcs`` (with ``array_shape`` set) and ``pixel_scale`` (arcsec or None).
    """
    from copy import deepcopy

    pixel_scale = None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"output_wcs: {path}: file not found")
        import asdf

        with asdf.open(path) as af:
            if "wcs" not in af.tree:
                raise ValueError(f"output_wcs: {path}: the ASDF tree has no 'wcs' entry")
            wcs = deepcopy(af.tree["wcs"])
            pixel_scale = af.tree.get("pixel_scale")
            pixel_area = af.tree.get("pixel_area")
            if pixel_scale is None and pixel_area is not None:
                pixel_scale = math.sqrt(float(pixel_area))
            pixel_shape = af.tree.get("pixel_shape")
            array_shape = af.tree.get("array_shape")
        if wcs.pixel_shape is None and pixel_shape is not None:
            wcs.pixel_shape = tuple(int(v) for v in pixel_shape)
        if wcs.array_shape is None and array_shape is not None:
            wcs.array_shape = tuple(int(v) for v in array_shape)
        where = path
    else:
        wcs = deepcopy(source)
        where = "output_wcs"
    if output_shape is not None:
        wcs.array_shape = (int(output_shape[1]), int(output_shape[0]))
    if wcs.array_shape is None:
        bbox = bounding_box_f(wcs)
        if bbox is None:
            raise ValueError(f"{where}: the custom WCS has no array_shape, pixel_shape or bounding_box, "
                             "and no output_shape was given")
        wcs.array_shape = (int(bbox[1][1] + 0.5 + 1e-12), int(bbox[0][1] + 0.5 + 1e-12))
    if getattr(wcs.output_frame, "naxes", 2) != 2:
        raise ValueError(f"{where}: the custom WCS must have 2 world axes, it has {wcs.output_frame.naxes}")
    return {"wcs": wcs, "pixel_scale": None if pixel_scale is None else float(pixel_scale)}


def fits_keywords_of_output_wcs(wcs, shape):
    """FITS TAN keywords of an output WCS (exact for the WCSs built here).

    A WCS made by :func:`output_wcs_from_inputs` is ``Shift(-crpix) |
    Affine(PC * CDELT) | Pix2Sky_TAN | RotateNative2Celestial``: its FITS
    keywords are read off the models.  Any other WCS gets a linear TAN fit
    (gwcs ``to_fits_sip`` with degree 1).

    Returns
    -------
    dict
        Keyword -> value (CRPIX1/2 1-based, CRVAL, CDELT, PC, CTYPE, CUNIT).
    """
    from astropy.modeling import models as m

    transform = wcs.forward_transform
    shifts, affine, rotation = [], None, None
    for leaf in transform.traverse_postorder():
        if isinstance(leaf, m.Shift):
            shifts.append(float(leaf.offset.value))
        elif isinstance(leaf, m.AffineTransformation2D):
            affine = leaf
        elif isinstance(leaf, m.RotateNative2Celestial):
            rotation = leaf
    has_tan = any(isinstance(leaf, m.Pix2Sky_TAN) for leaf in transform.traverse_postorder())
    if (len(shifts) == 2 and affine is not None and rotation is not None and has_tan
            and float(rotation.lon_pole.value) == 180.0 and not np.any(affine.translation.value)):
        cd = np.asarray(affine.matrix.value, dtype=np.float64)
        cdelt = math.sqrt(abs(np.linalg.det(cd)))
        pc = cd / cdelt
        return {
            "WCSAXES": 2,
            "CRPIX1": -shifts[0] + 1.0,
            "CRPIX2": -shifts[1] + 1.0,
            "CRVAL1": float(rotation.lon.value),
            "CRVAL2": float(rotation.lat.value),
            "CTYPE1": "RA---TAN",
            "CTYPE2": "DEC--TAN",
            "CUNIT1": "deg",
            "CUNIT2": "deg",
            "CDELT1": cdelt,
            "CDELT2": cdelt,
            "PC1_1": float(pc[0, 0]),
            "PC1_2": float(pc[0, 1]),
            "PC2_1": float(pc[1, 0]),
            "PC2_2": float(pc[1, 1]),
            "RADESYS": "ICRS",
        }
    bbox = bounding_box_f(wcs) or ((-0.5, shape[1] - 0.5), (-0.5, shape[0] - 0.5))
    header = wcs.to_fits_sip(bounding_box=bbox, degree=1, max_inv_pix_error=None, inv_degree=None, npoints=12)
    out = {k: header[k] for k in header
           if not k.startswith(("NAXIS", "A_", "B_", "AP_", "BP_", "SIP"))}
    for key in ("CTYPE1", "CTYPE2"):
        if key in out:
            out[key] = str(out[key]).replace("-SIP", "")
    return out


def s_region_of_output(wcs, shape):
    """S_REGION of the output grid's pixel edges."""
    from photoncal.wcs.footprint import image_footprint, s_region_from_footprint

    return s_region_from_footprint(image_footprint(wcs, shape=shape))


def select_drizpars_row(table, n_images, filter_name):
    """Index of the DRIZPARS row for ``n_images`` images of ``filter_name``, or None.

    As the established step: rows whose NUMIMAGES is at most the number of
    images qualify; an exact FILTER match wins over ``ANY``; among equals
    the last row of the table wins.
    """
    names = {n.lower(): n for n in (table.dtype.names or ())}
    if "numimages" not in names:
        raise ValueError("DRIZPARS table has no NUMIMAGES column")
    filters = table[names["filter"]] if "filter" in names else np.array(["ANY"] * len(table))
    row, exact = None, False
    for i, (filt, num) in enumerate(zip(filters, table[names["numimages"]])):
        filt = filt.decode() if isinstance(filt, bytes) else str(filt)
        if n_images < int(num):
            continue
        if filt.strip().upper() == "ANY" and not exact:
            row = i
        if filter_name is not None and filt.strip().upper() == str(filter_name).upper():
            row, exact = i, True
    return row
