"""photoncal.sim: synthetic JWST observations with a known truth, and the reference set.

The one synthetic-data builder of photoncal (tests, benchmarks, the demo)::

    from photoncal import sim

    path, truth = sim.simulate_exposure("NIRCAM", "NRCA1", "SUB160", "RAPID", ngroups=5,
                                        seed=1, output_dir="out")
    dither = sim.simulate_dither_set(4, detector="NRCA1", subarray="SUB640", output_dir="out")
    scene = sim.make_scene(53.16, -27.79, radius=60, n_stars=30, n_galaxies=30, seed=2)
    refs = sim.ensure_reference_set("NIRCAM", "NRCA1", subarray="SUB160")

Names are imported on first use, so ``import photoncal.sim`` is cheap.
See ``docs/simulator.md``.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "simulate_exposure": "observe",
    "simulate_dither_set": "observe",
    "build_level1b": "observe",
    "load_truth": "observe",
    "dither_pattern": "observe",
    "DitherSet": "observe",
    "Truth": "truth",
    "Effects": "effects",
    "Scene": "scene",
    "make_scene": "scene",
    "render_scene": "scene",
    "Attitude": "pointing",
    "ensure_reference_set": "references",
    "detector_properties": "detector",
    "DetectorProperties": "detector",
    "distortion_model": "distortion",
    "pixel_area_map": "distortion",
    "setup_exposure": "exposure",
    "simulate_arrays": "exposure",
    "true_wcs": "exposure",
    "airy_psf": "psf",
    "simulate_ramps": "ramps",
    "jwst_read_pattern": "ramps",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'photoncal.sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
