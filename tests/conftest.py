"""Fixtures shared by every test directory."""

import os

import pytest


@pytest.fixture(scope="session")
def photoncal_cache(tmp_path_factory):
    """A private PHOTONCAL_CACHE for the session: the default simulated references go there."""
    path = tmp_path_factory.mktemp("photoncal_cache")
    old = os.environ.get("PHOTONCAL_CACHE")
    os.environ["PHOTONCAL_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("PHOTONCAL_CACHE", None)
    else:
        os.environ["PHOTONCAL_CACHE"] = old
