"""The telescope pointing: V2/V3 <-> sky, and the imaging WCS built on it.

The observatory attitude is given, as in the science headers, by a reference
point of the telescope's V2/V3 frame (``V2_REF``, ``V3_REF``, arcsec), the
ICRS position it points at (``RA_REF``, ``DEC_REF``, deg) and the position
angle of the V3 axis at that point, east of north (``ROLL_REF``, deg).

The V frame and the sky are related by one rotation.  Written as a product of
elementary (coordinate-frame) rotations ``R_axis(angle)``, a unit vector ``u``
of the V frame maps to the ICRS vector::

    s = R_z(-RA_REF) R_y(DEC_REF) R_x(ROLL_REF) R_y(-V3_REF) R_z(V2_REF) u

read right to left: bring the reference point to the x axis, roll about it,
then move it to (RA_REF, DEC_REF).  :func:`v2v3_to_sky` is this rotation as a
serialisable astropy model (arcsec in, degrees out) and
:func:`attitude_matrix` as a numpy matrix.

:func:`imaging_wcs` chains a detector distortion (detector pixels -> V2/V3)
and this rotation into a gwcs with the frames ``detector``, ``v2v3`` and
``world``, used by the simulator to place sources and by ``assign_wcs``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from astropy import coordinates as coord
from astropy import units as u
from astropy.modeling import models
from gwcs import coordinate_frames as cf
from gwcs import wcs as gwcs_wcs
from gwcs.geometry import CartesianToSpherical, SphericalToCartesian

__all__ = [
    "WCSINFO_KEYS",
    "v2v3_to_sky",
    "attitude_matrix",
    "v2v3_to_radec",
    "radec_to_v2v3",
    "compute_roll_ref",
    "imaging_wcs",
    "tangent_plane_keywords",
]

#: The wcsinfo entries that define the pointing.
WCSINFO_KEYS = ("v2_ref", "v3_ref", "roll_ref", "ra_ref", "dec_ref")


def _wcsinfo_values(wcsinfo) -> tuple[float, float, float, float, float]:
    values = []
    for key in WCSINFO_KEYS:
        if isinstance(wcsinfo, Mapping):
            value = wcsinfo.get(key, wcsinfo.get(key.upper()))
        else:
            value = getattr(wcsinfo, key, None)
        if value is None:
            raise ValueError(
                f"wcsinfo lacks {key} (FITS {key.upper()}); the pointing needs "
                f"{', '.join(k.upper() for k in WCSINFO_KEYS)}"
            )
        values.append(float(value))
    return tuple(values)


def v2v3_to_sky(v2_ref, v3_ref, roll_ref, ra_ref, dec_ref, wrap_v2_at=180, wrap_lon_at=360):
    """Return the model V2, V3 (arcsec) -> RA, Dec (deg) of one pointing.

    Parameters
    ----------
    v2_ref, v3_ref : float
        Reference point in the V2/V3 frame, arcsec (``V2_REF``, ``V3_REF``).
    roll_ref : float
        Position angle of V3 at the reference point, deg (``ROLL_REF``).
    ra_ref, dec_ref : float
        ICRS position of the reference point, deg (``RA_REF``, ``DEC_REF``).
    wrap_v2_at, wrap_lon_at : float
        Wrapping angles of V2 and of the output RA.

    Returns
    -------
    astropy.modeling.CompoundModel
        Named ``v23tosky``; its ``inverse`` maps RA, Dec back to V2, V3.
    """
    angles = [v2_ref / 3600.0, -v3_ref / 3600.0, roll_ref, dec_ref, -ra_ref]
    rotation = models.RotationSequence3D(angles, axes_order="zyxyz")
    model = (
        (models.Scale(1 / 3600.0) & models.Scale(1 / 3600.0))
        | SphericalToCartesian(wrap_lon_at=wrap_v2_at)
        | rotation
        | CartesianToSpherical(wrap_lon_at=wrap_lon_at)
    )
    model.name = "v23tosky"
    return model


def _axis_rotation(angle_deg: float, axis: str) -> np.ndarray:
    """Coordinate-frame rotation by ``angle_deg`` about ``axis`` ('x', 'y' or 'z')."""
    a = np.deg2rad(angle_deg)
    c, s = np.cos(a), np.sin(a)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, s], [0, -s, c]])
    if axis == "y":
        return np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])
    return np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])


def attitude_matrix(v2_ref, v3_ref, roll_ref, ra_ref, dec_ref) -> np.ndarray:
    """Return the 3x3 matrix taking V-frame unit vectors to ICRS unit vectors."""
    matrix = np.eye(3)
    for angle, axis in (
        (v2_ref / 3600.0, "z"),
        (-v3_ref / 3600.0, "y"),
        (roll_ref, "x"),
        (dec_ref, "y"),
        (-ra_ref, "z"),
    ):
        matrix = _axis_rotation(angle, axis) @ matrix
    return matrix


def _unit_vector(lon_deg, lat_deg):
    lon = np.deg2rad(lon_deg)
    lat = np.deg2rad(lat_deg)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _angles(vec):
    lon = np.rad2deg(np.arctan2(vec[1], vec[0]))
    lat = np.rad2deg(np.arctan2(vec[2], np.hypot(vec[0], vec[1])))
    return lon, lat


def v2v3_to_radec(matrix, v2, v3):
    """Map V2, V3 (arcsec) to RA, Dec (deg, RA in [0, 360)) with an attitude matrix."""
    vec = np.tensordot(matrix, _unit_vector(np.asarray(v2) / 3600.0, np.asarray(v3) / 3600.0), 1)
    ra, dec = _angles(vec)
    return np.mod(ra, 360.0), dec


def radec_to_v2v3(matrix, ra, dec):
    """Map RA, Dec (deg) to V2, V3 (arcsec, V2 in (-648000, 648000]) with an attitude matrix."""
    vec = np.tensordot(matrix.T, _unit_vector(np.asarray(ra), np.asarray(dec)), 1)
    v2, v3 = _angles(vec)
    return v2 * 3600.0, v3 * 3600.0


def compute_roll_ref(v2_ref, v3_ref, roll_ref, ra_ref, dec_ref, new_v2_ref, new_v3_ref):
    """Return the position angle (deg, east of north, in [0, 360)) of V3 at another V2/V3 point.

    Parameters
    ----------
    v2_ref, v3_ref, roll_ref, ra_ref, dec_ref : float
        The pointing (see :func:`v2v3_to_sky`).
    new_v2_ref, new_v3_ref : float
        The V2/V3 point (arcsec) where the V3 position angle is wanted; with
        ``0, 0`` this is ``PA_V3``.
    """
    matrix = attitude_matrix(v2_ref, v3_ref, roll_ref, ra_ref, dec_ref)
    v2 = np.deg2rad(new_v2_ref / 3600.0)
    v3 = np.deg2rad(new_v3_ref / 3600.0)
    # Direction of increasing V3 at the point, carried to the sky.
    toward_v3 = matrix @ np.array([-np.sin(v3) * np.cos(v2), -np.sin(v3) * np.sin(v2), np.cos(v3)])
    ra, dec = v2v3_to_radec(matrix, new_v2_ref, new_v3_ref)
    a, d = np.deg2rad(ra), np.deg2rad(dec)
    north = np.array([-np.sin(d) * np.cos(a), -np.sin(d) * np.sin(a), np.cos(d)])
    east = np.array([-np.sin(a), np.cos(a), 0.0])
    return float(np.mod(np.rad2deg(np.arctan2(toward_v3 @ east, toward_v3 @ north)), 360.0))


def imaging_wcs(distortion_model, wcsinfo, bounding_box=None, subarray_origin=None,
                filter_offset=None):
    """Build the imaging gwcs: ``detector`` -> ``v2v3`` -> ``world``.

    Parameters
    ----------
    distortion_model : astropy.modeling.Model
        0-based full-frame detector pixels (x, y) -> V2, V3 in arcsec, with
        an ``inverse`` (the DISTORTION reference model).
    wcsinfo : mapping or object
        Provides ``v2_ref``, ``v3_ref``, ``roll_ref``, ``ra_ref``,
        ``dec_ref`` (e.g. ``model.meta.wcsinfo`` or a dict).
    bounding_box : tuple, optional
        ``((x_min, x_max), (y_min, y_max))`` in the input pixel frame.
    subarray_origin : tuple of int, optional
        ``(xstart, ystart)``, 1-based (SUBSTRT1/2): input pixels are
        subarray pixels, shifted to full frame before the distortion.
    filter_offset : tuple of float, optional
        ``(column_offset, row_offset)`` in pixels added before the
        distortion (the FILTEROFFSET reference values).

    Returns
    -------
    gwcs.WCS
    """
    v2_ref, v3_ref, roll_ref, ra_ref, dec_ref = _wcsinfo_values(wcsinfo)
    det2v2v3 = distortion_model
    if filter_offset is not None:
        col, row = filter_offset
        det2v2v3 = (models.Shift(col) & models.Shift(row)) | det2v2v3
    if subarray_origin is not None:
        xstart, ystart = subarray_origin
        if (xstart, ystart) != (1, 1):
            det2v2v3 = (models.Shift(xstart - 1) & models.Shift(ystart - 1)) | det2v2v3
    det2v2v3.name = "distortion"

    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    v2v3 = cf.Frame2D(
        name="v2v3", axes_order=(0, 1), axes_names=("v2", "v3"), unit=(u.arcsec, u.arcsec)
    )
    world = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world")
    tel2sky = v2v3_to_sky(v2_ref, v3_ref, roll_ref, ra_ref, dec_ref)
    result = gwcs_wcs.WCS([(detector, det2v2v3), (v2v3, tel2sky), (world, None)])
    if bounding_box is not None:
        result.bounding_box = bounding_box
    return result


def tangent_plane_keywords(wcs, crpix, scale_step=1.0) -> dict:
    """Return FITS TAN keywords approximating ``wcs`` near one pixel.

    Parameters
    ----------
    wcs : gwcs.WCS
        Detector -> world WCS (0-based pixels).
    crpix : tuple of float
        0-based (x, y) of the tangent point (e.g. the aperture reference).
    scale_step : float
        Pixel step of the finite differences.

    Returns
    -------
    dict
        ``CRPIX1/2`` (1-based), ``CRVAL1/2``, ``CDELT1/2`` (deg), ``PC1_1`` ...
        ``PC2_2``, ``CTYPE1/2``, ``CUNIT1/2``, ``WCSAXES``, ``RADESYS``.
    """
    x0, y0 = float(crpix[0]), float(crpix[1])
    ra0, dec0 = wcs(x0, y0, with_bounding_box=False)
    h = scale_step
    xs = np.array([x0 + h, x0 - h, x0, x0])
    ys = np.array([y0, y0, y0 + h, y0 - h])
    ra, dec = wcs(xs, ys, with_bounding_box=False)
    # Gnomonic projection about (ra0, dec0), in degrees.
    a, d = np.deg2rad(ra), np.deg2rad(dec)
    a0, d0 = np.deg2rad(ra0), np.deg2rad(dec0)
    cosc = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(a - a0)
    xi = np.rad2deg(np.cos(d) * np.sin(a - a0) / cosc)
    eta = np.rad2deg((np.cos(d0) * np.sin(d) - np.sin(d0) * np.cos(d) * np.cos(a - a0)) / cosc)
    # Standard coordinates (xi toward east, eta toward north) are the FITS
    # intermediate world coordinates of a TAN projection.
    cd = np.array(
        [[(xi[0] - xi[1]) / (2 * h), (xi[2] - xi[3]) / (2 * h)],
         [(eta[0] - eta[1]) / (2 * h), (eta[2] - eta[3]) / (2 * h)]]
    )
    scale = np.sqrt(abs(np.linalg.det(cd)))
    # CDELT1 < 0 by convention (RA grows to the left of a north-up image).
    cdelt = np.array([-scale, scale])
    pc = cd / cdelt[:, None]
    return {
        "WCSAXES": 2,
        "CRPIX1": x0 + 1.0,
        "CRPIX2": y0 + 1.0,
        "CRVAL1": float(ra0),
        "CRVAL2": float(dec0),
        "CTYPE1": "RA---TAN",
        "CTYPE2": "DEC--TAN",
        "CUNIT1": "deg",
        "CUNIT2": "deg",
        "CDELT1": float(cdelt[0]),
        "CDELT2": float(cdelt[1]),
        "PC1_1": float(pc[0, 0]),
        "PC1_2": float(pc[0, 1]),
        "PC2_1": float(pc[1, 0]),
        "PC2_2": float(pc[1, 1]),
        "RADESYS": "ICRS",
    }
