"""Run the established calwebb_image2 on one rate file, offline, with given reference files.

Invoked by ``image2.py`` with the jwst interpreter::

    python _jwst_image2_worker.py RATE_FILE OUTPUT_DIR REFS.json

REFS.json maps reference types to files; every other reference type of the
pipeline's steps is overridden with N/A so that CRDS is never consulted.
Prints the wall time of the pipeline call and the peak RSS as JSON on the
last line.  Imports nothing of photoncal.
"""

import json
import os
import resource
import sys
import time
import warnings

# keep benchmarks/ off the path: its drizzle.py would shadow the drizzle package
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "True"
os.environ.pop("CRDS_SERVER_URL", None)
warnings.simplefilter("ignore")

ASSIGN_WCS_TYPES = ["distortion", "filteroffset", "specwcs", "regions", "wavelengthrange", "camera", "chromcorr",
                    "collimator", "disperser", "fore", "fpa", "msa", "ote", "ifupost", "ifufore", "ifuslicer"]


def _peak_rss_mib():
    """Peak resident memory of this process image (VmHWM; ru_maxrss would include the parent's)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    rate, output_dir, refs_json = sys.argv[1:4]
    with open(refs_json) as handle:
        refs = json.load(handle)
    t_import = time.perf_counter()
    from jwst.pipeline import Image2Pipeline
    from stpipe import crds_client

    # offline: no CRDS context to record in the products
    crds_client.get_context_used = lambda observatory: "N/A (offline)"
    crds_client.get_svn_version = lambda: "N/A (offline)"

    t_import = time.perf_counter() - t_import

    def overrides(types):
        return {f"override_{t}": refs.get(t, "N/A") for t in types}

    steps = {
        "bkg_subtract": {"skip": True},
        "assign_wcs": overrides(ASSIGN_WCS_TYPES),
        "flat_field": overrides(["flat", "fflat", "sflat", "dflat"]),
        "photom": overrides(["photom", "area"]),
        "resample": {},
    }
    os.makedirs(output_dir, exist_ok=True)
    t0, c0 = time.perf_counter(), time.process_time()
    Image2Pipeline.call(rate, output_dir=output_dir, save_results=True, steps=steps)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _peak_rss_mib()
    print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "import_seconds": t_import, "peak_rss_mib": peak}))


if __name__ == "__main__":
    main()
