"""Astronomical scenes: sky background, stars and Sersic galaxies with fluxes in Jy.

A :class:`Scene` is a list of sources on the sky plus a uniform sky
background.  Fluxes are flat in f_nu (the same Jy in every filter), so one
scene can be observed through any filter.  :func:`render_scene` projects a
scene onto a detector through a WCS, producing the count rate each pixel
receives from the sources (DN/s, before the pixel response).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from photoncal.sim.photometry import abmag_to_jy, jy_to_abmag
from photoncal.sim.psf import RadialPSF, render_point_sources, render_sersic_sources

__all__ = [
    "SOURCE_DTYPE",
    "Scene",
    "make_scene",
    "render_scene",
    "local_jacobians",
]

#: Columns of a scene's source list.
SOURCE_DTYPE = np.dtype(
    [
        ("id", "<i8"),
        ("ra", "<f8"),
        ("dec", "<f8"),
        ("flux", "<f8"),        # Jy
        ("type", "U6"),          # 'point' or 'sersic'
        ("sersic_n", "<f8"),
        ("r_eff", "<f8"),        # arcsec, half-light radius along the major axis
        ("axis_ratio", "<f8"),
        ("pa", "<f8"),           # deg, east of north
    ]
)


@dataclass
class Scene:
    """Sources on the sky and a uniform background.

    Attributes
    ----------
    sources : structured ndarray of :data:`SOURCE_DTYPE`
        One row per source.
    sky_background : float or None
        Surface brightness of the sky in MJy/sr; ``None`` uses the
        instrument and filter default (:func:`photometry.sky_surface_brightness`).
    ra, dec : float
        Centre of the field (deg).
    """

    sources: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=SOURCE_DTYPE))
    sky_background: float | None = None
    ra: float = 0.0
    dec: float = 0.0

    def __post_init__(self):
        self.sources = np.asarray(self.sources, dtype=SOURCE_DTYPE)

    @classmethod
    def from_sources(cls, ra, dec, flux, *, kind="point", sersic_n=1.0, r_eff=0.2,
                     axis_ratio=1.0, pa=0.0, sky_background=None, ids=None):
        """Build a scene from columns (scalars broadcast)."""
        ra = np.atleast_1d(np.asarray(ra, dtype=np.float64))
        n = ra.size
        rows = np.zeros(n, dtype=SOURCE_DTYPE)
        rows["id"] = np.arange(1, n + 1) if ids is None else ids
        rows["ra"] = ra
        rows["dec"] = np.broadcast_to(dec, n)
        rows["flux"] = np.broadcast_to(flux, n)
        rows["type"] = np.broadcast_to(kind, n)
        rows["sersic_n"] = np.broadcast_to(sersic_n, n)
        rows["r_eff"] = np.broadcast_to(r_eff, n)
        rows["axis_ratio"] = np.broadcast_to(axis_ratio, n)
        rows["pa"] = np.broadcast_to(pa, n)
        centre_ra = float(np.mean(ra)) if n else 0.0
        centre_dec = float(np.mean(rows["dec"])) if n else 0.0
        return cls(rows, sky_background, centre_ra, centre_dec)

    def to_table(self):
        """The source list as an astropy Table (id, ra, dec, flux [Jy], abmag, type, shape)."""
        from astropy import units as u
        from astropy.table import Table

        s = self.sources
        table = Table()
        table["id"] = s["id"]
        table["ra"] = s["ra"] * u.deg
        table["dec"] = s["dec"] * u.deg
        table["flux"] = s["flux"] * u.Jy
        table["abmag"] = jy_to_abmag(s["flux"]) * u.mag
        table["type"] = s["type"]
        table["sersic_n"] = s["sersic_n"]
        table["r_eff"] = s["r_eff"] * u.arcsec
        table["axis_ratio"] = s["axis_ratio"]
        table["pa"] = s["pa"] * u.deg
        table.meta["sky_background_MJy_sr"] = self.sky_background
        table.meta["ra_center"] = self.ra
        table.meta["dec_center"] = self.dec
        return table

    def write_catalog(self, path):
        """Write the truth catalog as ECSV (atomically) and return the path."""
        from photoncal.fileio import atomic_write

        table = self.to_table()
        return atomic_write(path, lambda tmp: table.write(tmp, format="ascii.ecsv", overwrite=True))

    @classmethod
    def read_catalog(cls, path):
        """Read a catalog written by :meth:`write_catalog`."""
        from astropy.table import Table

        table = Table.read(path, format="ascii.ecsv")
        rows = np.zeros(len(table), dtype=SOURCE_DTYPE)
        for name in SOURCE_DTYPE.names:
            col = table[name]
            rows[name] = getattr(col, "value", col)
        meta = table.meta
        return cls(rows, meta.get("sky_background_MJy_sr"), meta.get("ra_center", 0.0),
                   meta.get("dec_center", 0.0))


def make_scene(ra: float, dec: float, radius: float = 60.0, n_stars: int = 30,
               n_galaxies: int = 30, mag_range=(18.0, 26.0), sky_background: float | None = None,
               seed: int = 0) -> Scene:
    """Draw a random field of stars and galaxies around (ra, dec).

    Parameters
    ----------
    ra, dec : float
        Field centre (deg).
    radius : float
        Sources are uniform within this radius (arcsec).
    n_stars, n_galaxies : int
        Number of point sources and of Sersic galaxies.
    mag_range : (float, float)
        Bright and faint AB magnitude limits; the number of sources grows
        with magnitude as 10**(0.3 m), as in deep counts.
    sky_background : float, optional
        MJy/sr; ``None`` picks the instrument and filter default when observed.
    seed : int
        Random seed; the same seed gives the same scene.

    Returns
    -------
    Scene
    """
    rng = np.random.default_rng(seed)
    n = n_stars + n_galaxies
    # Uniform in a disc on the tangent plane.
    r = radius * np.sqrt(rng.uniform(0, 1, n))
    theta = rng.uniform(0, 2 * np.pi, n)
    east, north = r * np.sin(theta), r * np.cos(theta)
    src_dec = dec + north / 3600.0
    src_ra = ra + east / 3600.0 / np.cos(np.deg2rad(src_dec))
    # Magnitudes from N(<m) ~ 10**(0.3 m).
    bright, faint = mag_range
    u = rng.uniform(0, 1, n)
    lo, hi = 10 ** (0.3 * bright), 10 ** (0.3 * faint)
    mags = np.log10(lo + u * (hi - lo)) / 0.3
    rows = np.zeros(n, dtype=SOURCE_DTYPE)
    rows["id"] = np.arange(1, n + 1)
    rows["ra"] = np.mod(src_ra, 360.0)
    rows["dec"] = src_dec
    rows["flux"] = abmag_to_jy(mags)
    rows["type"][:n_stars] = "point"
    rows["type"][n_stars:] = "sersic"
    rows["sersic_n"][:n_stars] = 0.0
    rows["r_eff"][:n_stars] = 0.0
    rows["axis_ratio"][:n_stars] = 1.0
    ng = n_galaxies
    rows["sersic_n"][n_stars:] = rng.uniform(0.7, 4.0, ng)
    # Fainter galaxies are smaller.
    rows["r_eff"][n_stars:] = 0.35 * 10 ** (-0.1 * (mags[n_stars:] - 22.0)) * rng.uniform(0.5, 1.5, ng)
    rows["axis_ratio"][n_stars:] = rng.uniform(0.3, 1.0, ng)
    rows["pa"][n_stars:] = rng.uniform(0, 180, ng)
    return Scene(rows, sky_background, float(ra), float(dec))


def local_jacobians(wcs, x, y, step: float = 0.5) -> np.ndarray:
    """d(east, north offset in arcsec) / d(x, y) of ``wcs`` at each pixel position.

    Returns
    -------
    ndarray (n, 2, 2)
        ``J[k] @ (dx, dy)`` is the sky offset (east, north) in arcsec.
    """
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    y = np.atleast_1d(np.asarray(y, dtype=np.float64))
    xs = np.concatenate([x + step, x - step, x, x])
    ys = np.concatenate([y, y, y + step, y - step])
    ra, dec = wcs(xs, ys, with_bounding_box=False)
    ra = np.asarray(ra).reshape(4, -1)
    dec = np.asarray(dec).reshape(4, -1)
    cosd = np.cos(np.deg2rad(dec.mean(axis=0)))

    def east(i, j):
        d = ra[i] - ra[j]
        d = (d + 180.0) % 360.0 - 180.0
        return d * cosd * 3600.0 / (2 * step)

    jac = np.empty((x.size, 2, 2))
    jac[:, 0, 0] = east(0, 1)
    jac[:, 0, 1] = east(2, 3)
    jac[:, 1, 0] = (dec[0] - dec[1]) * 3600.0 / (2 * step)
    jac[:, 1, 1] = (dec[2] - dec[3]) * 3600.0 / (2 * step)
    return jac


def render_scene(scene: Scene, wcs, shape, dn_per_jy: float, psf: RadialPSF,
                 nsub: int = 5, margin: float | None = None):
    """Project the sources of ``scene`` onto a detector.

    Parameters
    ----------
    scene : Scene
    wcs : gwcs.WCS
        Detector (0-based pixels of the image) -> world.
    shape : (ny, nx)
        Image shape.
    dn_per_jy : float
        DN/s per Jy of a source (see :mod:`photoncal.sim.photometry`).
    psf : RadialPSF
    nsub : int
        Sub-samples per pixel side.
    margin : float, optional
        Sources this far (pixels) outside the image still contribute their
        wings; default the PSF truncation radius.

    Returns
    -------
    image : ndarray (ny, nx) of float64
        DN/s from the sources in each pixel.
    placed : structured ndarray
        ``id``, ``x``, ``y`` (0-based image pixels), ``flux_dn`` (DN/s of the
        whole source) and ``on_image`` for every source within the margin.
    """
    ny, nx = shape
    image = np.zeros((ny, nx), dtype=np.float64)
    placed_dtype = [("id", "<i8"), ("x", "<f8"), ("y", "<f8"), ("flux_dn", "<f8"),
                    ("on_image", "?")]
    src = scene.sources
    if src.size == 0:
        return image, np.zeros(0, dtype=placed_dtype)
    x, y = wcs.invert(src["ra"], src["dec"], with_bounding_box=False)
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    y = np.atleast_1d(np.asarray(y, dtype=np.float64))
    scale = float(np.sqrt(abs(np.linalg.det(local_jacobians(wcs, [nx / 2], [ny / 2])[0]))))
    if margin is None:
        margin = psf.truncation / scale + 2
    extent = margin + np.where(src["type"] == "sersic", 6 * src["r_eff"] / scale, 0.0)
    keep = ((x > -extent) & (x < nx - 1 + extent) & (y > -extent) & (y < ny - 1 + extent)
            & np.isfinite(x) & np.isfinite(y))
    idx = np.nonzero(keep)[0]
    placed = np.zeros(idx.size, dtype=placed_dtype)
    placed["id"] = src["id"][idx]
    placed["x"] = x[idx]
    placed["y"] = y[idx]
    placed["flux_dn"] = src["flux"][idx] * dn_per_jy
    placed["on_image"] = (x[idx] >= -0.5) & (x[idx] < nx - 0.5) & (y[idx] >= -0.5) & (y[idx] < ny - 0.5)
    if idx.size == 0:
        return image, placed
    jac = local_jacobians(wcs, x[idx], y[idx])
    kinds = src["type"][idx]
    point = kinds == "point"
    if np.any(point):
        render_point_sources(image, x[idx][point], y[idx][point], placed["flux_dn"][point],
                             jac[point], psf, nsub)
    gal = ~point
    if np.any(gal):
        s = src[idx][gal]
        render_sersic_sources(image, x[idx][gal], y[idx][gal], placed["flux_dn"][gal], jac[gal],
                              s["sersic_n"], np.maximum(s["r_eff"], 1e-3), s["axis_ratio"], s["pa"],
                              psf, nsub)
    return image, placed

