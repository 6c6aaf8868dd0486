"""calwebb_image3 speed and peak memory, beside the established pipeline on the same inputs.

    PYTHONPATH=src python benchmarks/image3.py                       # 4 full-frame NIRCam exposures
    PYTHONPATH=src python benchmarks/image3.py --jwst-python /work/jwstenv/bin/python
    PYTHONPATH=src python benchmarks/image3.py --scaling 4,8,16      # peak memory vs number of exposures
    PYTHONPATH=src python benchmarks/image3.py --subarray SUB640 -n 4 --in-memory

The inputs are simulated calibrated exposures (:func:`photoncal.sim.calibrated.simulate_cal_set`:
pointing errors, sky offsets, unflagged cosmic rays) written once to ``--workdir``.  Each
pipeline runs in a fresh subprocess; the peak memory is that process's maximum resident set
(``ru_maxrss``), imports included.  The established pipeline runs with CRDS step parameters
disabled and the simulated APCORR/ABVEGAOFFSET references as overrides, so it needs no
network.  Both pipelines get the same association, parameters and reference files.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")

_PHOTONCAL_RUN = r"""
import json, os, resource, sys, time
sys.path.insert(0, {src!r})
t0 = time.perf_counter()
from photoncal.pipeline.image3 import Image3Pipeline
import logging
steps = {{"source_catalog": {{"override_apcorr": {apcorr!r}, "override_abvegaoffset": {abvega!r}}}}}
Image3Pipeline.call({asn!r}, output_dir={out!r}, save_results=True, in_memory={in_memory}, steps=steps,
                    configure_log=False)
elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

_JWST_RUN = r"""
import json, os, resource, sys, time, logging
os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "true"
t0 = time.perf_counter()
from jwst.pipeline import Image3Pipeline
logging.disable(logging.INFO)
steps = {{"source_catalog": {{"override_apcorr": {apcorr!r}, "override_abvegaoffset": {abvega!r}}}}}
Image3Pipeline.call({asn!r}, output_dir={out!r}, save_results=True, in_memory={in_memory}, steps=steps)
elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def make_inputs(workdir, n, subarray, seed):
    """Simulate (once) ``n`` calibrated exposures; return (association, apcorr, abvegaoffset)."""
    from photoncal.sim.calibrated import simulate_cal_set
    from photoncal.sim.references import ensure_stage3_references

    directory = os.path.join(workdir, f"{subarray.lower()}_{n}")
    refs = os.path.join(workdir, "references")
    marker = os.path.join(directory, "inputs.json")
    if os.path.exists(marker):
        with open(marker) as handle:
            return json.load(handle)
    full = subarray == "FULL"
    start = time.perf_counter()
    dataset = simulate_cal_set(n, subarray=subarray, n_stars=400 if full else 80, n_galaxies=150 if full else 20,
                               cosmic_rays=2000 if full else 100, pointing_error=0.1, seed=seed,
                               output_dir=directory, reference_dir=refs)
    paths = ensure_stage3_references("NIRCAM", "NRCA1", directory=refs)
    info = {"asn": dataset.image3_asn, "apcorr": paths["apcorr"], "abvegaoffset": paths["abvegaoffset"]}
    with open(marker, "w") as handle:
        json.dump(info, handle)
    print(f"simulated {n} {subarray} exposures in {time.perf_counter() - start:.1f} s -> {directory}")
    return info


def run(python, template, inputs, in_memory, label):
    out = tempfile.mkdtemp(prefix=f"image3_{label}_")
    code = template.format(src=SRC, asn=inputs["asn"], out=out, in_memory=in_memory,
                           apcorr=inputs["apcorr"], abvega=inputs["abvegaoffset"])
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    shutil.rmtree(out, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=4, help="number of exposures (default 4)")
    parser.add_argument("--subarray", default="FULL", help="FULL (default) or a NIRCam subarray")
    parser.add_argument("--jwst-python", help="python of an environment with the jwst package")
    parser.add_argument("--scaling", help="comma-separated exposure counts for the memory scaling table")
    parser.add_argument("--in-memory", action="store_true", help="in_memory=True (default: False, on disk)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each pipeline (best time reported)")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "photoncal_image3_bench"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sys.path.insert(0, SRC)
    os.makedirs(args.workdir, exist_ok=True)

    counts = [int(c) for c in args.scaling.split(",")] if args.scaling else [args.n]
    subarray = args.subarray if not args.scaling or args.subarray != "FULL" else "SUB640"
    print(f"calwebb_image3, NIRCam NRCA1 {subarray}, in_memory={args.in_memory}, {os.cpu_count()} cores")
    print(f"{'exposures':>9} {'pipeline':>9} {'time [s]':>9} {'peak RSS [MiB]':>15}")
    for n in counts:
        inputs = make_inputs(args.workdir, n, subarray, args.seed)
        # warm-up (numba caches) outside the timed runs
        run(sys.executable, _PHOTONCAL_RUN, inputs, args.in_memory, "warmup") if n == counts[0] else None
        best = min((run(sys.executable, _PHOTONCAL_RUN, inputs, args.in_memory, "photoncal")
                    for _ in range(args.repeat)), key=lambda r: r["seconds"])
        print(f"{n:>9} {'photoncal':>9} {best['seconds']:>9.1f} {best['peak_mib']:>15.0f}", flush=True)
        if args.jwst_python:
            ref = min((run(args.jwst_python, _JWST_RUN, inputs, args.in_memory, "jwst")
                       for _ in range(args.repeat)), key=lambda r: r["seconds"])
            print(f"{n:>9} {'jwst':>9} {ref['seconds']:>9.1f} {ref['peak_mib']:>15.0f}"
                  f"   (photoncal {ref['seconds'] / best['seconds']:.1f}x faster)", flush=True)


if __name__ == "__main__":
    main()
