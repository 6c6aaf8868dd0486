"""Fixtures of the stage-1 pipeline tests: simulated exposures with a known
truth and their cut-out reference sets, made once per session.

Pipelines run with ``reference_dir=`` pointing at the session's reference
directory, so nothing depends on the user's cache or environment.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def stage1_refdir(tmp_path_factory):
    """NRCA1 SUB160 (MEDIUM8) and MIRIMAGE SUB128 (FAST) cut-out reference sets."""
    from photoncal import sim

    refdir = tmp_path_factory.mktemp("stage1_refs")
    sim.ensure_reference_set("NIRCAM", "NRCA1", subarray="SUB160", readpatt="MEDIUM8", ngroups=10,
                             directory=refdir, cutout=True)
    sim.ensure_reference_set("MIRI", "MIRIMAGE", subarray="SUB128", readpatt="FAST", ngroups=40,
                             directory=refdir, cutout=True)
    return refdir


def _simulate(tmp_path_factory, name, **kwargs):
    from photoncal import sim

    out = tmp_path_factory.mktemp(name)
    return sim.simulate_exposure(output_dir=out, write_references=False, **kwargs)


@pytest.fixture(scope="session")
def simulate(tmp_path_factory, stage1_refdir):
    """``simulate(name, **simulate_exposure_kwargs)`` -> (path, truth), in a fresh directory."""
    return lambda name, **kwargs: _simulate(tmp_path_factory, name, **kwargs)


def bright_stars():
    """A few stars of magnitude 13-15 around the NRCA1 SUB160 aperture: they saturate."""
    from photoncal import sim

    return sim.make_scene(53.16, -27.79, radius=3.0, n_stars=6, n_galaxies=0, mag_range=(13.0, 15.0), seed=4)


@pytest.fixture(scope="session")
def nircam_exposure(tmp_path_factory, stage1_refdir):
    """NRCA1 SUB160 MEDIUM8, 10 groups: a bright sky (about 19 DN/s), saturating stars,
    cosmic rays at the default rate, every detector effect."""
    return _simulate(tmp_path_factory, "nircam", instrument="NIRCAM", detector="NRCA1", subarray="SUB160",
                    readpatt="MEDIUM8", ngroups=10, nints=1, seed=31, sky_offset=40.0, scene=bright_stars())


@pytest.fixture(scope="session")
def nircam_rate(nircam_exposure, stage1_refdir, tmp_path_factory):
    """The calwebb_detector1 result of ``nircam_exposure`` (pipeline instance, rate)."""
    from photoncal.pipeline.detector1 import Detector1Pipeline

    pipeline = Detector1Pipeline(reference_dir=str(stage1_refdir),
                                 output_dir=str(tmp_path_factory.mktemp("nircam_out")),
                                 steps={"persistence": {"save_trapsfilled": False}})
    return pipeline, pipeline.run(nircam_exposure[0])
