"""Run the established calwebb_detector1 (jwst) offline, for the stage-1
benchmark and parity scripts.

Invoked with the jwst interpreter::

    python _jwst_detector1_worker.py UNCAL OUTDIR OVERRIDES.json
    python _jwst_detector1_worker.py --strun STRUN_ARGUMENTS...

Every reference file is given as an override (OVERRIDES.json maps step name
-> {override_<reftype>: path}).  The established framework still asks CRDS
for the reference types that are not overridden (and for parameter
reference files); this script makes those lookups answer "N/A" inside this
process only - no CRDS cache or network is needed.  Prints one JSON line:
elapsed seconds, per-step seconds, peak resident memory.  With ``--strun``
the established ``strun`` command runs with the given arguments (same
offline lookups).  Imports nothing of photoncal.
"""

import json
import os
import resource
import sys
import time

os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "true"
os.environ.pop("CRDS_SERVER_URL", None)
# This script's directory holds benchmark scripts named like packages
# (drizzle.py): keep it off the import path of the established pipeline.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]


def _offline():
    from stpipe import crds_client

    crds_client.get_multiple_reference_paths = lambda parameters, types, observatory: {t: "N/A" for t in types}
    crds_client.get_context_used = lambda observatory: "offline"


def _time_steps(step_times):
    from stpipe import step as stpipe_step

    original = stpipe_step.Step.run

    def timed(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            if self.parent is not None:
                step_times.append([self.name, time.perf_counter() - start])

    stpipe_step.Step.run = timed


def main(argv):
    uncal, outdir, overrides_path = argv[:3]
    with open(overrides_path) as handle:
        steps = json.load(handle)
    t_start = time.perf_counter()
    _offline()
    step_times = []
    _time_steps(step_times)
    from jwst.pipeline import Detector1Pipeline

    t_imported = time.perf_counter()
    c_imported = time.process_time()
    Detector1Pipeline.call(uncal, steps=steps, save_results=True, output_dir=outdir)
    t_done = time.perf_counter()
    print(json.dumps({
        "import_s": t_imported - t_start,
        "run_s": t_done - t_imported,
        "cpu_s": time.process_time() - c_imported,
        "steps": step_times,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__":
    import logging
    import warnings

    warnings.simplefilter("ignore")
    if sys.argv[1:2] == ["--strun"]:
        _offline()
        from stpipe._cli.strun import main as strun_main

        sys.argv = ["strun", *sys.argv[2:]]
        sys.exit(strun_main())
    logging.disable(logging.CRITICAL)
    main(sys.argv[1:])
