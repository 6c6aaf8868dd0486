"""Fixtures of the simulator tests: a private cache, small exposures."""

import os

import pytest


@pytest.fixture(scope="session")
def sim_cache(tmp_path_factory):
    """A private PHOTONCAL_CACHE for the session (references are written there)."""
    path = tmp_path_factory.mktemp("photoncal_cache")
    old = os.environ.get("PHOTONCAL_CACHE")
    os.environ["PHOTONCAL_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("PHOTONCAL_CACHE", None)
    else:
        os.environ["PHOTONCAL_CACHE"] = old


@pytest.fixture(scope="session")
def refdir(sim_cache):
    """Reference directory of the session (cutout reference sets are written here)."""
    path = sim_cache / "references"
    path.mkdir(exist_ok=True)
    return path
