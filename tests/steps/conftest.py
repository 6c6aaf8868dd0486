"""Fixtures of the stage-1 step tests: small simulated exposures and their
reference files (cut-out reference sets, written once per session).

Steps are run with ``reference_dir=`` pointing at the session's reference
directory, so nothing depends on the user's cache or environment.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def stage1_refdir(tmp_path_factory):
    """Reference directory with the NRCA1 (SUB160, MEDIUM8) and MIRIMAGE
    (SUB64, FAST) cut-out reference sets."""
    from photoncal import sim

    refdir = tmp_path_factory.mktemp("stage1_refs")
    sim.ensure_reference_set("NIRCAM", "NRCA1", subarray="SUB160", readpatt="MEDIUM8", ngroups=10,
                             directory=refdir, cutout=True)
    sim.ensure_reference_set("MIRI", "MIRIMAGE", subarray="SUB64", readpatt="FAST", ngroups=10,
                             directory=refdir, cutout=True)
    return refdir


def _simulate(tmp_path_factory, name, **kwargs):
    from photoncal import sim

    out = tmp_path_factory.mktemp(name)
    path, truth = sim.simulate_exposure(output_dir=out, write_references=False, **kwargs)
    return path, truth


@pytest.fixture(scope="session")
def nircam_uncal(tmp_path_factory, stage1_refdir):
    """(path, truth) of a NIRCam NRCA1 SUB160 MEDIUM8 exposure, 5 groups, 1 integration,
    bright sky (about 19 DN/s) and a few stars."""
    return _simulate(tmp_path_factory, "nircam", instrument="NIRCAM", detector="NRCA1", subarray="SUB160",
                     readpatt="MEDIUM8", ngroups=5, nints=1, seed=11, sky_offset=40.0)


@pytest.fixture(scope="session")
def miri_uncal(tmp_path_factory, stage1_refdir):
    """(path, truth) of a MIRI imager SUB64 FAST exposure, 6 groups, 2 integrations."""
    return _simulate(tmp_path_factory, "miri", instrument="MIRI", detector="MIRIMAGE", subarray="SUB64",
                     readpatt="FAST", ngroups=6, nints=2, seed=12)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in a fresh temporary directory (outputs land there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
