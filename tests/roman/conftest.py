"""Shared simulated Roman exposures for the Roman tests (small: 248 x 248 science pixels)."""

from __future__ import annotations

import numpy as np
import pytest

SIZE = 248


def star_scene(ra, dec, n=40, seed=11, radius=11.0, mag_range=(19.5, 21.5)):
    """Bright isolated stars around (ra, dec) and their truth catalog."""
    from photoncal.sim.photometry import abmag_to_jy
    from photoncal.sim.scene import Scene

    rng = np.random.default_rng(seed)
    east = rng.uniform(-radius, radius, 4 * n)
    north = rng.uniform(-radius, radius, 4 * n)
    keep = []
    for i in range(4 * n):
        if all(np.hypot(east[i] - east[j], north[i] - north[j]) > 1.2 for j in keep):
            keep.append(i)
        if len(keep) == n:
            break
    east, north = east[keep], north[keep]
    d = dec + north / 3600.0
    r = ra + east / 3600.0 / np.cos(np.deg2rad(d))
    flux = abmag_to_jy(rng.uniform(*mag_range, len(keep)))
    return Scene.from_sources(r, d, flux, kind="point")


@pytest.fixture(scope="session")
def calibrated(photoncal_cache, tmp_path_factory):
    """One simulated exposure (pointing error, bright stars, many cosmic rays) run through the pipeline
    with tweakreg against the truth catalog."""
    from astropy.table import Table

    from photoncal.roman import datamodels as rdm
    from photoncal.roman.pipeline import ExposurePipeline
    from photoncal.sim.roman import simulate_roman_exposure

    out = tmp_path_factory.mktemp("roman_exposure")
    ra, dec = 80.0, -69.5
    scene = star_scene(ra, dec)
    path, truth = simulate_roman_exposure(
        size=SIZE, seed=3, output_dir=out, scene=scene, ra=ra, dec=dec, roll=20.0,
        pointing_error=(0.25, -0.18, 0.004), sky_rate=12.0,
        effects={"cosmic_ray_rate": 120.0},
    )
    refcat = out / "truth_stars.ecsv"
    Table({"ra": scene.sources["ra"], "dec": scene.sources["dec"]}).write(refcat, format="ascii.ecsv")
    result = ExposurePipeline.call(path, output_dir=str(out), save_results=True,
                                   steps={"tweakreg": {"abs_refcat": str(refcat), "abs_fitgeometry": "rshift"}})
    base = str(path).replace("_uncal.asdf", "")
    cal = rdm.open(base + "_cal.asdf")
    return {"path": path, "truth": truth, "result": result, "cal": cal, "base": base, "out": out,
            "scene": scene, "refcat": refcat}
