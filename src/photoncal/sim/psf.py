"""Point-spread functions and the rendering of sources into a count-rate image.

The PSF is the diffraction pattern of a centrally obscured circular aperture
(JWST: 6.5 m primary, linear obscuration 0.11) at the filter's pivot
wavelength::

    I(v) = [2 J1(v) / v - eps^2 2 J1(eps v) / (eps v)]^2 / (1 - eps^2)^2,
    v = pi D theta / lambda

tabulated against the angular radius ``theta`` and truncated at a radius
``truncation`` (arcsec).  It is normalised to unit total flux *within* the
truncation radius, so the counts a source puts on the detector add up exactly
to its flux (minus what falls off the array).

Sources are rendered through the local Jacobian ``J`` of the detector -> sky
mapping at each source (arcsec per pixel, 2x2): a sub-pixel sample at pixel
offset ``d`` from the source lies at sky offset ``J d``, so distortion, plate
scale, rotation and parity shape each stamp exactly as the WCS says.  Every
pixel is integrated with ``nsub x nsub`` sub-samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy import special

__all__ = [
    "TELESCOPE_DIAMETER",
    "OBSCURATION",
    "RadialPSF",
    "airy_psf",
    "render_point_sources",
    "render_sersic_sources",
    "sersic_b",
]

#: Primary mirror diameter (m).
TELESCOPE_DIAMETER = 6.5
#: Linear central obscuration of the simulated pupil.
OBSCURATION = 0.11

_RAD_TO_ARCSEC = 180.0 / math.pi * 3600.0


@dataclass(frozen=True)
class RadialPSF:
    """A circularly symmetric PSF tabulated against radius.

    Attributes
    ----------
    step : float
        Radius step of the table (arcsec).
    profile : ndarray of float64
        Relative intensity at radii ``0, step, 2 step, ...``.
    truncation : float
        Radius (arcsec) beyond which the PSF is zero.
    fwhm : float
        Full width at half maximum (arcsec).
    wavelength_um : float
    """

    step: float
    profile: np.ndarray
    truncation: float
    fwhm: float
    wavelength_um: float

    def __call__(self, radius_arcsec):
        """Relative intensity at ``radius_arcsec`` (linear interpolation, 0 beyond truncation)."""
        r = np.asarray(radius_arcsec, dtype=np.float64)
        out = np.interp(r / self.step, np.arange(self.profile.size), self.profile, right=0.0)
        return np.where(r <= self.truncation, out, 0.0)


def airy_psf(wavelength_um: float, truncation_lambda_over_d: float = 12.0,
             diameter: float = TELESCOPE_DIAMETER, obscuration: float = OBSCURATION) -> RadialPSF:
    """Return the obscured-aperture diffraction PSF at ``wavelength_um``.

    Parameters
    ----------
    wavelength_um : float
        Wavelength in micron.
    truncation_lambda_over_d : float
        Truncation radius in units of lambda/D.
    diameter, obscuration : float
        Aperture diameter (m) and linear central obscuration.
    """
    lam_over_d = wavelength_um * 1e-6 / diameter * _RAD_TO_ARCSEC
    truncation = truncation_lambda_over_d * lam_over_d
    step = lam_over_d / 200.0
    r = np.arange(0.0, truncation + 2 * step, step)
    v = np.pi * r / lam_over_d
    eps = obscuration
    with np.errstate(invalid="ignore", divide="ignore"):
        term = np.where(v > 0, 2 * special.j1(v) / v, 1.0)
        term_obs = np.where(v > 0, 2 * special.j1(eps * v) / (eps * v), 1.0)
    amplitude = (term - eps**2 * term_obs) / (1 - eps**2)
    profile = amplitude**2
    half = np.nonzero(profile < 0.5)[0][0]
    # Interpolate the half-maximum crossing.
    r0, r1 = r[half - 1], r[half]
    p0, p1 = profile[half - 1], profile[half]
    fwhm = 2 * (r0 + (0.5 - p0) * (r1 - r0) / (p1 - p0))
    return RadialPSF(step, profile, truncation, float(fwhm), float(wavelength_um))


@njit(cache=True, nogil=True)
def _interp_profile(profile, inv_step, radius):
    t = radius * inv_step
    i = int(t)
    if i + 1 >= profile.size:
        return 0.0
    f = t - i
    return profile[i] * (1.0 - f) + profile[i + 1] * f


@njit(cache=True, nogil=True)
def _render_points(image, xs, ys, fluxes, jacobians, profile, inv_step, truncation, nsub, stamp):
    """Add each source's PSF (unit sum within the truncation) times its flux to ``image``."""
    ny, nx = image.shape
    half = stamp.shape[0] // 2
    for s in range(xs.size):
        x0 = xs[s]
        y0 = ys[s]
        ix = int(math.floor(x0 + 0.5))
        iy = int(math.floor(y0 + 0.5))
        # Skip sources whose stamp misses the image entirely.
        if ix + half < 0 or ix - half >= nx or iy + half < 0 or iy - half >= ny:
            continue
        j00 = jacobians[s, 0, 0]
        j01 = jacobians[s, 0, 1]
        j10 = jacobians[s, 1, 0]
        j11 = jacobians[s, 1, 1]
        total = 0.0
        for sy in range(-half, half + 1):
            for sx in range(-half, half + 1):
                acc = 0.0
                for ky in range(nsub):
                    dy = iy + sy - 0.5 + (ky + 0.5) / nsub - y0
                    for kx in range(nsub):
                        dx = ix + sx - 0.5 + (kx + 0.5) / nsub - x0
                        u = j00 * dx + j01 * dy
                        v = j10 * dx + j11 * dy
                        r = math.sqrt(u * u + v * v)
                        if r < truncation:
                            acc += _interp_profile(profile, inv_step, r)
                stamp[sy + half, sx + half] = acc
                total += acc
        if total <= 0.0:
            continue
        scale = fluxes[s] / total
        for sy in range(-half, half + 1):
            yy = iy + sy
            if yy < 0 or yy >= ny:
                continue
            for sx in range(-half, half + 1):
                xx = ix + sx
                if xx < 0 or xx >= nx:
                    continue
                image[yy, xx] += stamp[sy + half, sx + half] * scale


def _stamp_half_width(jacobians, truncation):
    """Pixels needed to cover the truncation radius for the smallest local scale."""
    if len(jacobians) == 0:
        return 1
    # Smallest singular value of J: arcsec per pixel along the finest direction.
    smallest = np.min(np.linalg.svd(jacobians, compute_uv=False)[:, -1])
    return int(math.ceil(truncation / smallest)) + 1


def render_point_sources(image, x, y, flux, jacobians, psf: RadialPSF, nsub: int = 5):
    """Add point sources to ``image`` in place.

    Parameters
    ----------
    image : ndarray (ny, nx) of float64
        The image to add to.
    x, y : array_like
        0-based pixel positions of the sources.
    flux : array_like
        Total counts (any unit) of each source within the PSF truncation.
    jacobians : ndarray (n, 2, 2)
        Local d(sky offset, arcsec) / d(pixel) at each source.
    psf : RadialPSF
        The PSF.
    nsub : int
        Sub-samples per pixel side.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    flux = np.ascontiguousarray(flux, dtype=np.float64)
    jac = np.ascontiguousarray(jacobians, dtype=np.float64).reshape(-1, 2, 2)
    if x.size == 0:
        return image
    half = _stamp_half_width(jac, psf.truncation)
    stamp = np.zeros((2 * half + 1, 2 * half + 1))
    _render_points(image, x, y, flux, jac, psf.profile, 1.0 / psf.step, psf.truncation,
                   int(nsub), stamp)
    return image


def sersic_b(n: float) -> float:
    """The constant b_n of a Sersic profile (half the light inside r_eff)."""
    return float(special.gammaincinv(2.0 * n, 0.5))


@njit(cache=True, nogil=True)
def _sersic_stamp(stamp, x0, y0, ix, iy, n, b_n, r_eff, q, pa_rad, nsub, jac):
    """Sample a Sersic profile (sky-frame ellipse) into ``stamp`` centred on pixel (ix, iy)."""
    half = stamp.shape[0] // 2
    cos_pa = math.cos(pa_rad)
    sin_pa = math.sin(pa_rad)
    total = 0.0
    for sy in range(-half, half + 1):
        for sx in range(-half, half + 1):
            # The profile is steep only near the centre: sub-sample there.
            cy = iy + sy - y0
            cx = ix + sx - x0
            distance = math.sqrt(cx * cx + cy * cy)
            ns = nsub if distance < 4.0 else (2 if distance < 12.0 else 1)
            acc = 0.0
            for ky in range(ns):
                dy = iy + sy - 0.5 + (ky + 0.5) / ns - y0
                for kx in range(ns):
                    dx = ix + sx - 0.5 + (kx + 0.5) / ns - x0
                    east = jac[0, 0] * dx + jac[0, 1] * dy
                    north = jac[1, 0] * dx + jac[1, 1] * dy
                    # Major axis at position angle pa (east of north).
                    major = north * cos_pa + east * sin_pa
                    minor = -north * sin_pa + east * cos_pa
                    rr = math.sqrt(major * major + (minor / q) ** 2) / r_eff
                    acc += math.exp(-b_n * (rr ** (1.0 / n) - 1.0))
            acc /= ns * ns
            stamp[sy + half, sx + half] = acc
            total += acc
    return total


def render_sersic_sources(image, x, y, flux, jacobians, sersic_n, r_eff, axis_ratio, pa_deg,
                          psf: RadialPSF, nsub: int = 5, max_half_width: int = 64):
    """Add PSF-convolved Sersic galaxies to ``image`` in place.

    Parameters
    ----------
    image : ndarray (ny, nx) of float64
    x, y : array_like
        0-based pixel positions of the centres.
    flux : array_like
        Total counts of each galaxy (within its stamp).
    jacobians : ndarray (n, 2, 2)
        Local d(east, north offset in arcsec) / d(x, y pixel).
    sersic_n, r_eff, axis_ratio, pa_deg : array_like
        Sersic index, effective (half-light) radius along the major axis in
        arcsec, minor/major axis ratio and position angle east of north.
    psf : RadialPSF
        The PSF the galaxies are convolved with.
    nsub : int
        Sub-samples per pixel side.
    max_half_width : int
        Largest stamp half-width in pixels.
    """
    from scipy.signal import fftconvolve

    ny, nx = image.shape
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    jac_all = np.asarray(jacobians, dtype=np.float64).reshape(-1, 2, 2)
    for s in range(x.size):
        jac = np.ascontiguousarray(jac_all[s])
        scale = float(np.sqrt(abs(np.linalg.det(jac))))
        half = int(min(max_half_width, math.ceil(6.0 * r_eff[s] / scale) + 3))
        ix = int(math.floor(x[s] + 0.5))
        iy = int(math.floor(y[s] + 0.5))
        psf_half = _stamp_half_width(jac[None], psf.truncation)
        if (ix + half + psf_half < 0 or ix - half - psf_half >= nx
                or iy + half + psf_half < 0 or iy - half - psf_half >= ny):
            continue
        galaxy = np.zeros((2 * half + 1, 2 * half + 1))
        total = _sersic_stamp(galaxy, x[s], y[s], ix, iy, float(sersic_n[s]),
                              sersic_b(float(sersic_n[s])), float(r_eff[s]),
                              float(axis_ratio[s]), math.radians(float(pa_deg[s])), int(nsub), jac)
        if total <= 0:
            continue
        galaxy /= total
        # The PSF on the same pixel grid, centred on a pixel centre.
        kernel = np.zeros((2 * psf_half + 1, 2 * psf_half + 1))
        render_point_sources(kernel, [psf_half], [psf_half], [1.0], jac[None], psf, nsub)
        # FFT round-off can leave tiny negative values; charge rates are >= 0.
        blurred = np.clip(fftconvolve(galaxy, kernel, mode="full"), 0.0, None)
        full_half = half + psf_half
        y0, x0 = iy - full_half, ix - full_half
        ys = slice(max(y0, 0), min(y0 + blurred.shape[0], ny))
        xs = slice(max(x0, 0), min(x0 + blurred.shape[1], nx))
        if ys.start >= ys.stop or xs.start >= xs.stop:
            continue
        image[ys, xs] += flux[s] * blurred[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
    return image
