"""Fixtures of the simulator tests: the session's reference directory, small exposures."""

import pytest


@pytest.fixture(scope="session")
def refdir(photoncal_cache):
    """Reference directory of the session (cutout reference sets are written here)."""
    path = photoncal_cache / "references"
    path.mkdir(exist_ok=True)
    return path
