"""Simulated stage-3 inputs (calibrated dithered exposures with a truth), shared by the stage-3 tests.

Tests import it as ``stage3_data`` (``tests/steps`` is on pytest's
``pythonpath``), so every test file of a session shares the simulated sets.  Tests that change files
work on a :func:`copy_set` of a set.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path


#: The default test set: 4 dithered NIRCam SUB640 exposures (pointing errors up to 0.1").
DEFAULT = {"n_exposures": 4, "subarray": "SUB640", "pointing_error": 0.1, "cosmic_rays": 40,
           "n_stars": 70, "n_galaxies": 15, "seed": 11}


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
