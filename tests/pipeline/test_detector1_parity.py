"""calwebb_detector1 against the established pipeline (jwst) on the same
simulated exposure and reference files (``benchmarks/detector1_parity.py``).

Runs only where the established pipeline can be run: jwst importable here,
or an interpreter that has it named by ``PHOTONCAL_JWST_PYTHON`` (default
``/work/jwstenv/bin/python`` when it exists)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _jwst_python():
    candidates = [os.environ.get("PHOTONCAL_JWST_PYTHON"), "/work/jwstenv/bin/python"]
    if importlib.util.find_spec("jwst") is not None:
        candidates.insert(0, sys.executable)
    for python in filter(None, candidates):
        if os.path.exists(python):
            probe = subprocess.run([python, "-c", "import jwst.pipeline"], capture_output=True)
            if probe.returncode == 0:
                return python
    return None


JWST_PYTHON = _jwst_python()


def _parity_module():
    spec = importlib.util.spec_from_file_location("detector1_parity", BENCHMARKS / "detector1_parity.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.skipif(JWST_PYTHON is None, reason="the established pipeline (jwst) is not available")
def test_rate_and_dq_agree_with_the_established_pipeline(tmp_path):
    parity = _parity_module()
    # NIRCam SUB160 RAPID, 2 integrations of 6 groups (the MIRI and larger cases: the script)
    case = dict(parity.CASES["nircam_rapid"], ngroups=6)
    results = parity.run_case("nircam_rapid", case, tmp_path, JWST_PYTHON)
    for stats in (results["rate"], results["rateints"]):
        assert stats["sci_agree"] >= 0.99
        assert stats["dq_equal"] >= 0.999
        assert stats["err_agree"] >= 0.99
