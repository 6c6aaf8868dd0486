"""Parity with the established generator (jwst.associations), when it is installed.

The established pipeline is run in its own interpreter: ``PHOTONCAL_JWST_PYTHON``,
else ``/work/jwstenv/bin/python``; the test is skipped when neither has jwst.
Compared: each association's candidate, type, product name and members.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from photoncal.associations import AssociationPool, generate_associations

from .conftest import imaging_rows, write_pool
from .test_generator import BACKGROUND_COLUMNS, _background_rows

TA_ROW = (
    "jw99009001001_01101_00001_nrca1_uncal.fits|99009|1|1|1|NRC_TACQ|NIRCAM|NRCA1|F335M|"
    "CLEAR|1|TARGET_ACQUISITION|SUB64P|F|PRIME_TARGETED_FIXED|F|[('o001', 'observation')]"
)


def _jwst_python():
    for candidate in (os.environ.get("PHOTONCAL_JWST_PYTHON"), "/work/jwstenv/bin/python"):
        if candidate and Path(candidate).exists():
            probe = subprocess.run(
                [candidate, "-c", "import jwst.associations"], capture_output=True, timeout=120
            )
            if probe.returncode == 0:
                return candidate
    return None


@pytest.fixture(scope="module")
def jwst_python():
    """The interpreter of the established pipeline (probed once, when the tests run)."""
    found = _jwst_python()
    if found is None:
        pytest.skip("jwst (established pipeline) not available")
    return found


def _key(asn):
    product = asn["products"][0]
    members = frozenset((m["expname"], m["exptype"]) for m in product["members"])
    return (asn["asn_id"], asn["asn_type"], product["name"], members)


def _established(jwst_python, pool_path, out_dir):
    out_dir.mkdir()
    code = (
        "import sys; from jwst.associations.main import main; "
        "main([sys.argv[1], '-p', sys.argv[2]])"
    )
    subprocess.run(
        [jwst_python, "-c", code, str(pool_path), str(out_dir)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return {_key(json.loads(path.read_text())) for path in out_dir.glob("*_asn.json")}


@pytest.mark.parametrize(
    "name, rows, columns",
    [
        ("imaging", imaging_rows(), None),
        ("imaging_ta", imaging_rows() + [TA_ROW], None),
        ("background", _background_rows(), BACKGROUND_COLUMNS),
    ],
)
def test_same_associations_as_established(jwst_python, tmp_path, name, rows, columns):
    kwargs = {"columns": columns} if columns else {}
    pool_path = write_pool(tmp_path / f"{name}_pool.csv", rows, **kwargs)
    expected = _established(jwst_python, pool_path, tmp_path / "jwst")
    ours, _ = generate_associations(AssociationPool.read(pool_path))
    assert {_key(asn) for asn in ours} == expected
