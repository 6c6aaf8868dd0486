"""Simulated stage-3 inputs (calibrated dithered exposures with a truth), shared by the stage-3 tests.

Load it with :func:`load` (test modules run under ``--import-mode=importlib``
and cannot import siblings); the module is cached in ``sys.modules`` so every
test file of a session shares the simulated sets.  Tests that change files
work on a :func:`copy_set` of a set.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

NAME = "photoncal_stage3_test_data"

#: The default test set: 4 dithered NIRCam SUB640 exposures (pointing errors up to 0.1").
DEFAULT = {"n_exposures": 4, "subarray": "SUB640", "pointing_error": 0.1, "cosmic_rays": 40,
           "n_stars": 70, "n_galaxies": 15, "seed": 11}


def load():
    """This module, imported once per session."""
    module = sys.modules.get(NAME)
    if module is None:
        spec = importlib.util.spec_from_file_location(NAME, Path(__file__))
        module = importlib.util.module_from_spec(spec)
        sys.modules[NAME] = module
        spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=None)
def workdir() -> Path:
    """A private directory for the session (references, simulated files), removed at exit."""
    path = Path(tempfile.mkdtemp(prefix="photoncal_stage3_"))
    atexit.register(shutil.rmtree, path, True)
    return path


def reference_dir() -> str:
    path = workdir() / "references"
    path.mkdir(exist_ok=True)
    return str(path)


@functools.lru_cache(maxsize=None)
def _cal_set(items):
    from photoncal.sim.calibrated import simulate_cal_set

    kwargs = dict(items)
    name = "set_" + "_".join(f"{k}{v}" for k, v in items).replace(" ", "").replace("/", "")
    out = workdir() / name[:120]
    return simulate_cal_set(output_dir=out, reference_dir=reference_dir(), keep_noiseless=True,
                            **kwargs)


def cal_set(**overrides):
    """A simulated :class:`~photoncal.sim.calibrated.CalSet` (cached; do not modify its files)."""
    params = dict(DEFAULT)
    params.update(overrides)
    return _cal_set(tuple(sorted(params.items())))


def copy_set(calset, destination) -> dict:
    """Copy a set's files and association into ``destination``; return their new paths."""
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    exposures = []
    for path in calset.exposures:
        target = destination / os.path.basename(path)
        shutil.copyfile(path, target)
        exposures.append(str(target))
    asn = destination / os.path.basename(calset.image3_asn)
    shutil.copyfile(calset.image3_asn, asn)
    return {"exposures": exposures, "asn": str(asn)}
