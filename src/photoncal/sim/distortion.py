"""Instrument-like geometric distortion: detector pixels -> V2/V3, with an accurate inverse.

The forward model of a detector, in its full-frame 0-based DMS pixels
``(x, y)``, is built in two stages, as the science instrument apertures are
described:

1. detector -> ideal frame (arcsec, centred on the aperture reference
   pixel): a small rotation ``theta`` of the pixel grid, slightly different
   x/y scales, a radial term ``1 + k r^2`` (``k`` from the detector's
   fractional distortion at the frame corner) and two weak non-symmetric
   quadratic terms;
2. ideal -> V2/V3: rotation by ``V3I_YANG`` with parity ``VPARITY``, then the
   reference point ``(V2_REF, V3_REF)``.

Both stages are polynomials of degree 3 and are folded into one pair of
``Polynomial2D``.  The inverse is a pair of degree-9 ``Polynomial2D`` in
normalised V2/V3 offsets fitted by least squares over the frame plus a margin;
its round-trip error is well below 1e-4 pixel.  Everything is built from
serialisable astropy models, so the result goes into a DISTORTION reference
file (ASDF) as it is.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from astropy.modeling import models
from numpy.polynomial.polynomial import polygrid2d

from photoncal.sim.instruments import DetectorInfo, get_detector

__all__ = [
    "distortion_model",
    "pixel_area_map",
    "filter_offsets",
    "INVERSE_DEGREE",
]

#: Degree of the fitted inverse polynomials.
INVERSE_DEGREE = 9


def _poly_terms(degree):
    """(i, j) exponents in astropy Polynomial2D parameter order (c{i}_{j}: x**i * y**j)."""
    terms = [(i, 0) for i in range(degree + 1)]
    terms += [(0, j) for j in range(1, degree + 1)]
    terms += [(i, j) for j in range(1, degree) for i in range(1, degree - j + 1)]
    return terms


def _polynomial(degree, coeffs: dict) -> models.Polynomial2D:
    params = {f"c{i}_{j}": float(coeffs.get((i, j), 0.0)) for i, j in _poly_terms(degree)}
    return models.Polynomial2D(degree, **params)


def _ideal_coefficients(det: DetectorInfo):
    """Coefficients of detector offsets (dx, dy) -> ideal (X, Y) in arcsec, as {(i, j): c}."""
    half_diag = np.hypot(det.shape[0] / 2.0, det.shape[1] / 2.0)
    k = det.distortion / half_diag**2
    theta = np.deg2rad(0.35 if det.vparity < 0 else -0.28)
    # Slight anisotropy of the plate scale, as in the real cameras.
    sx = det.pixel_scale * 1.0015
    sy = det.pixel_scale * 0.9985
    c, s = np.cos(theta), np.sin(theta)
    # Linear part: X = sx (c dx - s dy), Y = sy (s dx + c dy).
    ax = {(1, 0): sx * c, (0, 1): -sx * s}
    ay = {(1, 0): sy * s, (0, 1): sy * c}
    out_x, out_y = {}, {}
    for lin, out in ((ax, out_x), (ay, out_y)):
        for (i, j), value in lin.items():
            out[(i, j)] = out.get((i, j), 0.0) + value
            # value * (dx^i dy^j) * k (dx^2 + dy^2)
            out[(i + 2, j)] = out.get((i + 2, j), 0.0) + value * k
            out[(i, j + 2)] = out.get((i, j + 2), 0.0) + value * k
    # Weak non-symmetric terms (a few 0.1 pixel at the corners).
    q = 2.0e-4 / (det.shape[1] / 2.0)
    out_x[(2, 0)] = out_x.get((2, 0), 0.0) + q * det.pixel_scale
    out_y[(1, 1)] = out_y.get((1, 1), 0.0) - 0.7 * q * det.pixel_scale
    return out_x, out_y


def _v2v3_coefficients(det: DetectorInfo):
    """Coefficients of detector offsets -> (V2 - V2_REF, V3 - V3_REF) in arcsec."""
    cx, cy = _ideal_coefficients(det)
    ang = np.deg2rad(det.v3_idl_yang)
    p = det.vparity
    keys = set(cx) | set(cy)
    v2 = {key: p * np.cos(ang) * cx.get(key, 0.0) + np.sin(ang) * cy.get(key, 0.0) for key in keys}
    v3 = {key: -p * np.sin(ang) * cx.get(key, 0.0) + np.cos(ang) * cy.get(key, 0.0) for key in keys}
    return v2, v3


def _design_matrix(u, v, degree):
    return np.stack([u**i * v**j for i, j in _poly_terms(degree)], axis=-1)


@lru_cache(maxsize=32)
def _distortion_parameters(det: DetectorInfo):
    cv2, cv3 = _v2v3_coefficients(det)
    forward_x = _polynomial(3, cv2)
    forward_y = _polynomial(3, cv3)

    # Fit the inverse on a grid covering the frame plus a margin.
    ny, nx = det.shape
    margin = 0.08 * max(nx, ny)
    gx = np.linspace(-margin, nx - 1 + margin, 81) - det.x_ref
    gy = np.linspace(-margin, ny - 1 + margin, 81) - det.y_ref
    dx, dy = np.meshgrid(gx, gy)
    dv2 = forward_x(dx, dy)
    dv3 = forward_y(dx, dy)
    norm = float(max(np.abs(dv2).max(), np.abs(dv3).max()))
    a = _design_matrix((dv2 / norm).ravel(), (dv3 / norm).ravel(), INVERSE_DEGREE)
    coeff_x, *_ = np.linalg.lstsq(a, dx.ravel(), rcond=None)
    coeff_y, *_ = np.linalg.lstsq(a, dy.ravel(), rcond=None)
    terms = _poly_terms(INVERSE_DEGREE)
    inv_x = dict(zip(terms, coeff_x))
    inv_y = dict(zip(terms, coeff_y))
    return det, cv2, cv3, norm, inv_x, inv_y


def distortion_model(detector: str | DetectorInfo):
    """Return the detector -> V2/V3 (arcsec) model of ``detector``, with its inverse.

    Parameters
    ----------
    detector : str or DetectorInfo
        Detector name (DETECTOR keyword) or its description (a description
        not in the instrument tables, e.g. a Roman WFI detector, works too).

    Returns
    -------
    astropy.modeling.CompoundModel
        Inputs ``(x, y)``: 0-based full-frame DMS pixels.  Outputs
        ``(v2, v3)``: arcsec.  ``model.inverse`` is the fitted inverse.
    """
    info = detector if isinstance(detector, DetectorInfo) else get_detector(detector)
    det, cv2, cv3, norm, inv_x, inv_y = _distortion_parameters(info)
    forward = (
        (models.Shift(-det.x_ref) & models.Shift(-det.y_ref))
        | models.Mapping((0, 1, 0, 1))
        | (_polynomial(3, cv2) & _polynomial(3, cv3))
        | (models.Shift(det.v2_ref) & models.Shift(det.v3_ref))
    )
    inverse = (
        (models.Shift(-det.v2_ref) & models.Shift(-det.v3_ref))
        | (models.Scale(1.0 / norm) & models.Scale(1.0 / norm))
        | models.Mapping((0, 1, 0, 1))
        | (_polynomial(INVERSE_DEGREE, inv_x) & _polynomial(INVERSE_DEGREE, inv_y))
        | (models.Shift(det.x_ref) & models.Shift(det.y_ref))
    )
    forward.inverse = inverse
    forward.name = f"{det.name.lower()}_distortion"
    return forward


def pixel_area_map(detector: str | DetectorInfo, slices=None) -> tuple[np.ndarray, float]:
    """Return the relative pixel solid angle and the nominal pixel area.

    Parameters
    ----------
    detector : str or DetectorInfo
        The detector.
    slices : tuple of slice, optional
        (y, x) region of the full frame; default the full frame.

    Returns
    -------
    area : ndarray of float32
        Pixel area relative to the area at the reference pixel (the AREA
        reference SCI array).
    nominal : float
        Area of the reference pixel in steradian (``PIXAR_SR``).
    """
    info = detector if isinstance(detector, DetectorInfo) else get_detector(detector)
    det, cv2, cv3, *_ = _distortion_parameters(info)
    ny, nx = det.shape
    if slices is None:
        slices = (slice(0, ny), slice(0, nx))
    y = np.arange(ny, dtype=np.float64)[slices[0]] - det.y_ref
    x = np.arange(nx, dtype=np.float64)[slices[1]] - det.x_ref

    def derivative_grids(coeffs):
        """d/dx and d/dy of sum c_ij x^i y^j on the (y, x) grid."""
        size = max(max(i, j) for i, j in coeffs) + 1
        cx = np.zeros((size, size))
        cy = np.zeros((size, size))
        for (i, j), c in coeffs.items():
            if i > 0:
                cx[i - 1, j] += i * c
            if j > 0:
                cy[i, j - 1] += j * c
        return polygrid2d(x, y, cx).T, polygrid2d(x, y, cy).T

    a, b = derivative_grids(cv2)
    c, d = derivative_grids(cv3)
    jac = np.abs(a * d - b * c)
    (a0, b0), (c0, d0) = partials_at_zero(cv2), partials_at_zero(cv3)
    ref = abs(a0 * d0 - b0 * c0)
    nominal = ref * (np.pi / 180.0 / 3600.0) ** 2
    return (jac / ref).astype(np.float32), float(nominal)


def partials_at_zero(coeffs):
    """First derivatives of a polynomial {(i, j): c} at the origin."""
    return coeffs.get((1, 0), 0.0), coeffs.get((0, 1), 0.0)


def filter_offsets(detector: str | DetectorInfo) -> dict[str, tuple[float, float]]:
    """Per-filter (column_offset, row_offset) in pixels (MIRI imager; empty otherwise).

    The MIRI filters shift the image by a fraction of a pixel; the simulated
    exposure applies the shift before the distortion and the FILTEROFFSET
    reference file records it.
    """
    from photoncal.sim.instruments import FILTERS

    det = detector if isinstance(detector, DetectorInfo) else get_detector(detector)
    if not det.is_miri:
        return {}
    rng = np.random.default_rng(7_700_000)
    out = {}
    for name in FILTERS["MIRI"]:
        col, row = rng.uniform(-0.8, 0.8, size=2)
        out[name] = (round(float(col), 4), round(float(row), 4))
    return out
