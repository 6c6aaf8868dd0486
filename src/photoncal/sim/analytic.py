"""Analytic imaging WCSs and Gaussian star fields, for algorithm-level tests.

The exposure simulator (:mod:`photoncal.sim.observe`) builds full detector
products; the stage-3 kernels (tweakreg, skymatch, outlier detection, source
catalog, footprints, tangent-plane corrections) are also tested on these
lighter, exactly known inputs.  The WCS has the shape of a JWST imaging WCS: ``detector -> v2v3 -> world`` with the
V2/V3-to-sky rotation ``zyxyz`` (v2_ref, -v3_ref, roll_ref, dec_ref,
-ra_ref).
"""

from __future__ import annotations

import numpy as np
from astropy import coordinates as coord
from astropy import units as u
from astropy.modeling import models as m


def imaging_wcs(ra_ref=53.1, dec_ref=-27.8, roll_ref=30.0, *, v2_ref=120.0, v3_ref=-480.0,
                pixel_scale=0.031, shape=(200, 220), v3yangle=-0.5, vparity=-1,
                distortion=0.0):
    """A JWST-like imaging gwcs.

    ``pixel_scale`` arcsec/pixel; ``distortion`` (pixels) bends each axis
    by about that much at the detector edge, with an exact inverse.
    """
    import gwcs
    from gwcs import coordinate_frames as cf
    from gwcs.geometry import CartesianToSpherical, SphericalToCartesian

    ny, nx = shape
    xc, yc = (nx - 1) / 2.0, (ny - 1) / 2.0
    half = max(nx, ny) / 2.0
    if distortion:
        # x' = tan(k x) / k ~ x + k^2 x^3 / 3: a pincushion-like warp with an exact inverse
        k = np.sqrt(3.0 * distortion / half**3)
        axis = m.Tangent1D(amplitude=1.0 / k, frequency=k / (2 * np.pi))
        warp = axis & axis.copy()
    else:
        warp = m.Identity(2)
    a = np.deg2rad(v3yangle)
    s = pixel_scale
    mat = np.array([[vparity * s * np.cos(a), s * np.sin(a)],
                    [-vparity * s * np.sin(a), s * np.cos(a)]])
    det_to_v2v3 = (m.Shift(-xc) & m.Shift(-yc)) | warp | m.AffineTransformation2D(mat, [v2_ref, v3_ref])
    det_to_v2v3.bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    rot = m.RotationSequence3D([v2_ref / 3600, -v3_ref / 3600, roll_ref, dec_ref, -ra_ref], "zyxyz")
    tel2sky = (m.Scale(1 / 3600) & m.Scale(1 / 3600)) | SphericalToCartesian(wrap_lon_at=180) | rot | \
        CartesianToSpherical(wrap_lon_at=360)
    tel2sky.name = "v23tosky"
    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    v2v3 = cf.Frame2D(name="v2v3", axes_order=(0, 1), axes_names=("v2", "v3"),
                      unit=(u.arcsec, u.arcsec))
    world = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world")
    w = gwcs.WCS([(detector, det_to_v2v3), (v2v3, tel2sky), (world, None)])
    w.bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    w.pixel_shape = (nx, ny)
    info = {"v2_ref": v2_ref, "v3_ref": v3_ref, "roll_ref": roll_ref, "ra_ref": ra_ref,
            "dec_ref": dec_ref, "v3yangle": v3yangle, "vparity": vparity}
    return w, info


def offset_pointing(ra, dec, dx_arcsec, dy_arcsec):
    """Sky position offset by (east, north) arcsec in the tangent plane."""
    from photoncal.wcs.footprint import tangent_plane_to_sky
    r, d = tangent_plane_to_sky(dx_arcsec / 3600.0, dy_arcsec / 3600.0, ra, dec)
    return float(r), float(d)


def gaussian_stars(shape, x, y, flux, sigma):
    """Image of circular Gaussian stars integrated over each pixel (erf)."""
    from scipy.special import erf
    ny, nx = shape
    img = np.zeros(shape, dtype=np.float64)
    r = int(np.ceil(6 * sigma)) + 1
    s2 = np.sqrt(2.0) * sigma
    for xs, ys, f in zip(x, y, flux):
        i0, i1 = max(0, int(xs) - r), min(nx, int(xs) + r + 2)
        j0, j1 = max(0, int(ys) - r), min(ny, int(ys) + r + 2)
        if i0 >= i1 or j0 >= j1:
            continue
        xe = np.arange(i0, i1 + 1) - 0.5
        ye = np.arange(j0, j1 + 1) - 0.5
        fx = 0.5 * np.diff(erf((xe - xs) / s2))
        fy = 0.5 * np.diff(erf((ye - ys) / s2))
        img[j0:j1, i0:i1] += f * np.outer(fy, fx)
    return img


def affine_pixmap(shape, matrix, offset, distortion=0.0):
    """A drizzle pixel map: output ``(x, y) = matrix @ (x, y) + offset`` for each input pixel.

    ``distortion`` adds a smooth quadratic term (in units of the image size).
    Returns an array of shape ``shape + (2,)``.
    """
    ny, nx = shape
    y, x = np.indices(shape, dtype=np.float64)
    xo = matrix[0][0] * x + matrix[0][1] * y + offset[0]
    yo = matrix[1][0] * x + matrix[1][1] * y + offset[1]
    if distortion:
        u = (x - nx / 2) / nx
        v = (y - ny / 2) / ny
        xo = xo + distortion * nx * (u * u - 0.3 * u * v)
        yo = yo + distortion * ny * (0.5 * v * v + 0.4 * u * v)
    return np.dstack([xo, yo])


def rotation(deg, scale=1.0):
    """The 2x2 matrix of a rotation by ``deg`` degrees and a scale."""
    t = np.deg2rad(deg)
    return [[scale * np.cos(t), -scale * np.sin(t)], [scale * np.sin(t), scale * np.cos(t)]]
