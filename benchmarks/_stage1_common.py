"""What benchmarks/detector1.py and detector1_parity.py share: simulated
exposures with their reference sets, and running photoncal and the
established pipeline (jwst) on them in fresh processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
JWST_WORKER = HERE / "_jwst_detector1_worker.py"

#: Reference types each step of the established calwebb_detector1 is given (overrides).
JWST_STEP_REFTYPES = {
    "dq_init": ["mask"],
    "saturation": ["saturation", "superbias"],
    "ipc": ["ipc"],
    "superbias": ["superbias"],
    "linearity": ["linearity"],
    "dark_current": ["dark"],
    "reset": ["reset"],
    "rscd": ["rscd"],
    "jump": ["gain", "readnoise"],
    "ramp_fit": ["gain", "readnoise"],
    "gain_scale": ["gain"],
}

PHOTONCAL_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    t0 = time.perf_counter()
    from photoncal.pipeline.detector1 import Detector1Pipeline
    # What the run will import anyway, imported up front as `import jwst` does
    # for the established pipeline, so both "run" times exclude imports.
    import astropy.io.fits, numba, photoncal.datamodels, photoncal.kernels.jump, photoncal.kernels.ramp_fit
    from photoncal.stpipe import step as stpipe_step
    times = []
    original = stpipe_step.Step.run
    def timed(self, *args):
        start = time.perf_counter()
        try:
            return original(self, *args)
        finally:
            if self.parent is not None:
                times.append([self.name, time.perf_counter() - start])
    stpipe_step.Step.run = timed
    uncal, outdir, refdir, steps = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    warm = sys.argv[5] == "1"
    t1 = time.perf_counter()
    c1 = time.process_time()
    Detector1Pipeline.call(uncal, reference_dir=refdir, output_dir=outdir, save_results=True, steps=steps,
                           configure_log=False)
    t2 = time.perf_counter()
    c2 = time.process_time()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    record = {"import_s": t1 - t0, "run_s": t2 - t1, "cpu_s": c2 - c1, "steps": list(times), "peak_mb": peak}
    if warm:
        # the same run again in this process: imports done, numba functions loaded
        Detector1Pipeline.call(uncal, reference_dir=refdir, output_dir=outdir, save_results=True, steps=steps,
                               configure_log=False)
        record["warm_s"] = time.perf_counter() - t2
        record["warm_cpu_s"] = time.process_time() - c2
    print(json.dumps(record))
    """
)


def environment(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    for name in ("CRDS_SERVER_URL", "CRDS_PATH", "CRDS_CONTEXT", "PHOTONCAL_REFDIR"):
        env.pop(name, None)
    env.update(extra)
    return env


def prepare_exposure(workdir, *, detector="NRCA1", subarray="FULL", readpatt="MEDIUM8", ngroups=10, nints=1,
                     seed=1, sky_offset=0.0, effects=None):
    """The ``_uncal`` file and reference directory of one simulated exposure
    (made once; reused when present).  Full-frame exposures get the full
    simulated reference set, subarrays cut-out sets."""
    from photoncal import sim
    from photoncal.sim.instruments import get_detector

    workdir = Path(workdir)
    refdir = workdir / "references"
    tag = f"{detector}_{subarray}_{readpatt}_{ngroups}g_{nints}i_s{seed}_sky{sky_offset:g}".lower()
    outdir = workdir / tag
    instrument = get_detector(detector).instrument
    sim.ensure_reference_set(instrument, detector, subarray=subarray, readpatt=readpatt, ngroups=ngroups,
                             directory=refdir, cutout=subarray.upper() != "FULL")
    existing = sorted(outdir.glob("*_uncal.fits")) if outdir.is_dir() else []
    if existing:
        return existing[0], refdir
    path, _ = sim.simulate_exposure(instrument, detector, subarray, readpatt, ngroups=ngroups, nints=nints,
                                    seed=seed, sky_offset=sky_offset, effects=effects, output_dir=outdir,
                                    write_references=False)
    return Path(path), refdir


def jwst_overrides(uncal, refdir):
    """``{step: {override_<reftype>: path}}`` for the established pipeline:
    the files photoncal's own reference selection picks in ``refdir``."""
    from photoncal import datamodels
    from photoncal.stpipe.exceptions import ReferenceFileNotFoundError
    from photoncal.stpipe.references import find_reference

    model = datamodels.open(os.fspath(uncal))
    found = {}
    steps = {}
    for step, reftypes in JWST_STEP_REFTYPES.items():
        for reftype in reftypes:
            if reftype not in found:
                try:
                    found[reftype] = find_reference(model, reftype, reference_dir=os.fspath(refdir)).path
                except ReferenceFileNotFoundError:
                    found[reftype] = None
            if found[reftype]:
                steps.setdefault(step, {})[f"override_{reftype}"] = found[reftype]
    return steps


def run_photoncal(uncal, outdir, refdir, steps=None, threads=None, warm=False):
    """Run calwebb_detector1 in a fresh process; returns its timing record
    (with ``warm``, also the time of a second run in the same process)."""
    os.makedirs(outdir, exist_ok=True)
    extra = {"NUMBA_NUM_THREADS": str(threads)} if threads else {}
    result = subprocess.run(
        [sys.executable, "-c", PHOTONCAL_CHILD, os.fspath(uncal), os.fspath(outdir), os.fspath(refdir),
         json.dumps(steps or {}), "1" if warm else "0"],
        capture_output=True, text=True, env=environment(**extra),
    )
    return _last_json(result, "photoncal")


def run_jwst(jwst_python, uncal, outdir, overrides):
    """Run the established calwebb_detector1 in its own interpreter; returns its timing record."""
    os.makedirs(outdir, exist_ok=True)
    overrides_path = Path(outdir) / "overrides.json"
    overrides_path.write_text(json.dumps(overrides))
    result = subprocess.run(
        [jwst_python, os.fspath(JWST_WORKER), os.fspath(uncal), os.fspath(outdir), os.fspath(overrides_path)],
        capture_output=True, text=True, env=environment(CRDS_PATH=os.fspath(Path(outdir) / "no_crds")),
    )
    return _last_json(result, "jwst")


def _last_json(result, who):
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"{who} run failed (exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")


def step_table(record):
    """{step name: seconds}, summing a step that ran twice (gain_scale)."""
    table = {}
    for name, seconds in record["steps"]:
        table[name] = table.get(name, 0.0) + seconds
    return table
