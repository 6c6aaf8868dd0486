"""Flux calibration of the simulated instruments: Jy <-> DN/s, PHOTMJSR, sky levels.

A source of flux density ``F`` (Jy, flat in f_nu across the band) yields
``F * 1e-26 * A * T * (dlambda / lambda) / h`` electrons per second (``A``:
collecting area, ``T``: the filter's mean throughput), hence
``e_per_jy / gain`` DN/s.  The photometric keyword follows::

    PHOTMJSR = 1e-6 / (dn_per_jy * PIXAR_SR)      [MJy/sr per DN/s]
    PHOTUJA2 = PHOTMJSR * 1e12 / (arcsec^2 per sr) [uJy/arcsec^2 per DN/s]

so that calibrated surface brightness is ``rate * PHOTMJSR`` and a point
source's flux is the sum of ``surface brightness * PIXAR_SR * AREA`` over its
pixels (the AREA reference is the relative pixel solid angle).
"""

from __future__ import annotations

import numpy as np

from photoncal.sim.distortion import pixel_area_map
from photoncal.sim.instruments import DetectorInfo, FilterInfo

__all__ = [
    "COLLECTING_AREA",
    "ARCSEC2_PER_SR",
    "electrons_per_jansky",
    "photmjsr",
    "photuja2",
    "pixar_sr",
    "default_sky_rate",
    "sky_surface_brightness",
    "abmag_to_jy",
    "jy_to_abmag",
]

#: Unobscured collecting area of the primary (m^2).
COLLECTING_AREA = 25.4
#: Square arcseconds per steradian.
ARCSEC2_PER_SR = (180.0 / np.pi * 3600.0) ** 2
_PLANCK = 6.62607015e-34


def electrons_per_jansky(filt: FilterInfo) -> float:
    """Electrons per second from a 1 Jy flat-spectrum source through ``filt``."""
    return 1e-26 * COLLECTING_AREA * filt.throughput * (filt.width_um / filt.pivot_um) / _PLANCK


def pixar_sr(detector: DetectorInfo) -> float:
    """Nominal pixel solid angle (sr) at the aperture reference point (PIXAR_SR)."""
    return pixel_area_map(detector, (slice(0, 1), slice(0, 1)))[1]


def photmjsr(detector: DetectorInfo, filt: FilterInfo) -> float:
    """PHOTMJSR (MJy/sr per DN/s) of ``detector`` through ``filt``."""
    dn_per_jy = electrons_per_jansky(filt) / detector.gain
    return float(1e-6 / (dn_per_jy * pixar_sr(detector)))


def photuja2(photmjsr_value: float) -> float:
    """PHOTUJA2 (uJy/arcsec^2 per DN/s) from PHOTMJSR."""
    return float(photmjsr_value * 1e12 / ARCSEC2_PER_SR)


def default_sky_rate(detector: DetectorInfo, filt: FilterInfo) -> float:
    """Typical sky background in electrons per second per pixel.

    Near-infrared: zodiacal light, ~0.2 e-/s (SW) to ~1 e-/s (LW) per pixel.
    MIRI: the thermal background, rising steeply with wavelength.
    """
    lam = filt.pivot_um
    if detector.is_miri:
        # ~10 e-/s at 5.6 um to ~1500 e-/s at 25.5 um.
        return float(10.0 * (lam / 5.6) ** 3.3)
    scale = (detector.pixel_scale / 0.0311) ** 2
    return float(0.12 * scale * (filt.width_um / 0.46) * (1.0 + 0.3 * max(lam - 1.0, 0.0)))


def sky_surface_brightness(detector: DetectorInfo, filt: FilterInfo) -> float:
    """The default sky background as a surface brightness (MJy/sr)."""
    return default_sky_rate(detector, filt) / detector.gain * photmjsr(detector, filt)


def abmag_to_jy(mag):
    """AB magnitude -> flux density in Jy."""
    return 3631.0 * 10.0 ** (-0.4 * np.asarray(mag, dtype=np.float64))


def jy_to_abmag(flux_jy):
    """Flux density in Jy -> AB magnitude."""
    return -2.5 * np.log10(np.asarray(flux_jy, dtype=np.float64) / 3631.0)
