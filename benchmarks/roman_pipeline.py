"""Speed, memory and accuracy of the Roman exposure pipeline on a full WFI exposure.

Simulates (once, kept in ``--workdir``) a 4096 x 4096 WFI01 exposure with
the default MA table (9 resultants from 44 reads), stars and galaxies,
cosmic rays and correlated read noise, and its reference files; then runs
photoncal's ExposurePipeline on it in a fresh process (wall time, CPU time,
peak resident memory, step times) and, with ``--romancal-python``,
romancal's on the same input and references (tweakreg, which needs Gaia
over the network, skipped there).  Accuracy against the truth: median
relative error and robust scatter of (measured - true) / error of the rates
on clean pixels, fraction of strong cosmic rays flagged, and for photoncal
the astrometric scatter after tweakreg against the truth star catalog.

The machine may be shared: the load average is printed with each run, and
the CPU time (all threads) is a load-independent measure of the work.

Usage::

    PYTHONPATH=src python benchmarks/roman_pipeline.py [--workdir DIR] [--size 4088] [--repeat 2]
        [--romancal-python /work/romanenv/bin/python] [--romancal-algorithm likely,ols_cas22]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")

PHOTONCAL_RUNNER = textwrap.dedent("""
    import json, os, resource, sys, time
    t0, c0 = time.time(), time.process_time()
    def peak_mb():
        # VmHWM: the high-water mark of this process image (ru_maxrss would include the
        # parent's memory at fork time, inherited across exec on Linux)
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from photoncal.stpipe.step import Step
    times, cpu_times = {}, {}
    original = Step._run
    def timed(self, args):
        w, c = time.time(), time.process_time()
        try:
            return original(self, args)
        finally:
            times[self.name] = round(time.time() - w, 3)
            cpu_times[self.name] = round(time.process_time() - c, 3)
    Step._run = timed
    from photoncal.roman.pipeline import ExposurePipeline
    uncal, out, refs, refcat = sys.argv[1:5]
    steps = {"tweakreg": {"abs_refcat": refcat}} if refcat else {}
    ExposurePipeline.call(uncal, output_dir=out, save_results=True, reference_dir=refs, steps=steps)
    print("RESULT " + json.dumps({"wall": time.time() - t0, "cpu": time.process_time() - c0,
          "peak_mb": peak_mb(), "steps": times, "steps_cpu": cpu_times}))
""")

ROMANCAL_RUNNER = textwrap.dedent("""
    import json, os, resource, sys, time, glob, warnings
    os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "1"
    warnings.simplefilter("ignore")
    t0, c0 = time.time(), time.process_time()
    def peak_mb():
        # VmHWM: the high-water mark of this process image (ru_maxrss would include the
        # parent's memory at fork time, inherited across exec on Linux)
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    from romancal.pipeline import ExposurePipeline
    import roman_datamodels.datamodels as rdm
    from stpipe import crds_client
    # Offline: every reference file is given; CRDS is never asked.
    crds_client.get_multiple_reference_paths = lambda parameters, reftypes, observatory: {t: "N/A" for t in reftypes}
    crds_client.get_reference_file = lambda parameters, reftype, observatory: "N/A"
    crds_client.get_context_used = lambda observatory: "offline"
    crds_client.check_reference_open = lambda path: path
    import romancal.source_catalog._source_catalog as _catalog_module
    def _no_crds(*args, **kwargs):
        raise RuntimeError("offline: no CRDS")  # the dust map lookup falls back to NaN
    _catalog_module.getreferences = _no_crds
    uncal, out, refs, algorithm, refs2 = sys.argv[1:6]
    def ref(kind, element=None):
        names = [p for p in glob.glob(os.path.join(refs, "*.asdf")) if p.endswith(f"_{kind}.asdf")
                 or (element and p.endswith(f"_{kind}_{element.lower()}.asdf"))]
        return names[0]
    apcorr = os.path.join(refs2, "apcorr.asdf")
    if not os.path.exists(apcorr):
        os.makedirs(refs2, exist_ok=True)
        import numpy as np
        m = rdm.ApcorrRefModel.create_fake_data()
        m.meta.instrument.detector = "WFI01"
        fractions = np.linspace(0.1, 0.9, 9)
        radii = 1.3 * np.sqrt(-2 * np.log(1 - fractions))  # a Gaussian of sigma 1.3 pixels
        m.data = {"F158": {"ap_corrections": 1 / fractions, "ee_fractions": fractions, "ee_radii": radii,
                           "sky_background_rin": 6.0, "sky_background_rout": 9.0}}
        m.save(apcorr)
    element = "F158"
    steps = {
        "dq_init": {"override_mask": ref("mask")},
        "saturation": {"override_saturation": ref("saturation")},
        "refpix": {"override_refpix": ref("refpix")},
        "dark_decay": {"skip": True},
        "wfi18_transient": {"skip": True},
        "linearity": {"override_linearity": ref("linearity"), "override_inverselinearity": ref("inverselinearity"),
                      "override_integralnonlinearity": "N/A"},
        "rampfit": {"override_readnoise": ref("readnoise"), "override_gain": ref("gain"), "algorithm": algorithm},
        "dark_current": {"override_dark": ref("dark")},
        "assign_wcs": {"override_distortion": ref("distortion", element)},
        "flatfield": {"override_flat": ref("flat", element)},
        "photom": {"override_photom": ref("photom")},
        "source_catalog": {"fit_psf": False, "override_apcorr": apcorr},
        "tweakreg": {"skip": True},
    }
    if rdm.open(uncal).data.shape[-1] != 4096:
        steps["refpix"] = {"skip": True}  # romancal's refpix assumes the 32 channels of a full detector
    times = {}
    from stpipe import Step
    original = Step.run
    def timed(self, *args, **kwargs):
        w = time.time()
        try:
            return original(self, *args, **kwargs)
        finally:
            times[self.name] = round(time.time() - w, 3)
    Step.run = timed
    ExposurePipeline.call(uncal, output_dir=out, save_results=True, steps=steps)
    print("RESULT " + json.dumps({"wall": time.time() - t0, "cpu": time.process_time() - c0,
          "peak_mb": peak_mb(), "steps": times}))
""")


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def setup(workdir, size, seed):
    """Simulate the exposure and its references once; returns (uncal path, truth path, refcat path)."""
    from photoncal.sim.roman import ensure_roman_reference_set, load_roman_truth, simulate_roman_exposure

    refs = os.path.join(workdir, "refs")
    uncal = os.path.join(workdir, f"r0000101001001001001_0001_wfi01_uncal.asdf")
    truth_path = uncal.replace("_uncal.asdf", "_truth.asdf")
    refcat = os.path.join(workdir, "truth_stars.ecsv")
    if not (os.path.exists(uncal) and os.path.exists(truth_path) and os.path.exists(refcat)):
        t = time.time()
        ensure_roman_reference_set("WFI01", size=size, optical_elements=("F158",), directory=refs)
        print(f"reference files written in {time.time() - t:.1f} s", flush=True)
        t = time.time()
        path, truth = simulate_roman_exposure("WFI01", "F158", size=size, seed=seed, output_dir=workdir,
                                              reference_dir=refs, sky_rate=4.0, pointing_error=(0.3, -0.2, 0.003))
        print(f"exposure simulated in {time.time() - t:.1f} s", flush=True)
        from astropy.table import Table

        Table({"ra": truth.sources["ra"], "dec": truth.sources["dec"]}).write(refcat, format="ascii.ecsv",
                                                                           overwrite=True)
    return uncal, load_roman_truth(truth_path), refcat, refs


def run(command, env=None):
    load = load_average()
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-5000:])
        raise SystemExit(f"run failed: {' '.join(command[:3])} ...")
    result = json.loads(lines[-1][len("RESULT "):])
    result["load"] = load
    return result


def accuracy(cal_path, truth, refcat=None):
    """Rate accuracy, error honesty, cosmic rays and (optionally) astrometry of a _cal file."""
    import asdf

    with asdf.open(cal_path, lazy_load=True, memmap=False) as af:
        node = af.tree["roman"]
        data = np.asarray(node["data"], dtype=np.float64)
        err = np.asarray(node["err"], dtype=np.float64)
        dq = np.asarray(node["dq"])
    good = (dq == 0) & np.isfinite(data) & np.isfinite(err) & (truth.rate_cal > 0) & (err > 0)
    rel = (data[good] - truth.rate_cal[good]) / truth.rate_cal[good]
    pull = (data[good] - truth.rate_cal[good]) / err[good]
    out = {"median_rel_err": float(np.median(rel)),
           "pull_scatter": float(1.4826 * np.median(np.abs(pull - np.median(pull)))),
           "clean_pixels": int(good.sum())}
    from photoncal.sim.evaluate import roman_cosmic_ray_recovery

    recovery = roman_cosmic_ray_recovery(dq, truth)
    out["strong_crs"] = recovery.n_cosmic_rays
    out["cr_found"] = recovery.found_fraction
    cat_path = cal_path.replace("_cal.asdf", "_cat.ecsv")
    if refcat and os.path.exists(cat_path):
        from astropy import units as u
        from astropy.coordinates import SkyCoord
        from astropy.table import Table

        cat = Table.read(cat_path, format="ascii.ecsv")
        src = truth.sources
        stars = src[src["type"] == "point"]
        if "ra_centroid" in cat.colnames and len(cat):
            measured = SkyCoord(cat["ra_centroid"], cat["dec_centroid"], unit="deg")
            true = SkyCoord(stars["ra"], stars["dec"], unit="deg")
            _idx, sep, _ = measured.match_to_catalog_sky(true)
            matched = sep < 0.3 * u.arcsec
            out["astrometry_rms_mas"] = float(np.sqrt(np.mean(sep[matched].to_value(u.mas) ** 2)))
            out["astrometry_matches"] = int(matched.sum())
        # the final WCS at the true positions of the stars
        import asdf

        with asdf.open(cal_path, lazy_load=True) as af:
            wcs = af.tree["roman"]["meta"]["wcs"]
            on = (stars["x"] > 5) & (stars["y"] > 5) & (stars["x"] < data.shape[1] - 6) & (stars["y"] < data.shape[0] - 6)
            ra, dec = wcs(stars["x"][on], stars["y"][on])
        offsets = SkyCoord(ra, dec, unit="deg").separation(SkyCoord(stars["ra"][on], stars["dec"][on], unit="deg"))
        out["wcs_rms_mas"] = float(np.sqrt(np.mean(offsets.to_value(u.mas) ** 2)))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default=os.path.join(os.getcwd(), "roman_bench"))
    parser.add_argument("--size", type=int, default=4088, help="science pixels per side (4088: full detector)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2, help="photoncal runs (the first also fills numba's cache)")
    parser.add_argument("--romancal-python", default=None, help="python of an environment with romancal")
    parser.add_argument("--romancal-algorithm", default="likely", help="comma-separated romancal ramp-fit algorithms")
    parser.add_argument("--skip-photoncal", action="store_true")
    args = parser.parse_args(argv)

    os.makedirs(args.workdir, exist_ok=True)
    uncal, truth, refcat, refs = setup(args.workdir, args.size, args.seed)
    rows = []
    if not args.skip_photoncal:
        out = os.path.join(args.workdir, "photoncal_out")
        env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
        for k in range(args.repeat):
            result = run([sys.executable, "-c", PHOTONCAL_RUNNER, uncal, out, refs, refcat], env=env)
            cal = os.path.join(out, os.path.basename(uncal).replace("_uncal", "_cal"))
            result.update(accuracy(cal, truth, refcat))
            rows.append((f"photoncal run {k + 1}", result))
            print_row(*rows[-1])
    if args.romancal_python:
        for algorithm in args.romancal_algorithm.split(","):
            out = os.path.join(args.workdir, f"romancal_{algorithm}")
            result = run([args.romancal_python, "-c", ROMANCAL_RUNNER, uncal, out, refs, algorithm,
                          os.path.join(args.workdir, "refs_romancal")])
            cal = os.path.join(out, os.path.basename(uncal).replace("_uncal", "_cal"))
            result.update(accuracy(cal, truth))
            rows.append((f"romancal {algorithm}", result))
            print_row(*rows[-1])
    print("\nsummary (wall s, cpu s, peak MB, median rel. error, error scatter, CRs > 10 sigma found,"
          " star astrometry mas, WCS mas):")
    for name, r in rows:
        print(f"  {name:22s} {r['wall']:7.1f} {r['cpu']:7.1f} {r['peak_mb']:7.0f}  {r['median_rel_err']:+.2e}"
              f"  {r['pull_scatter']:.3f}  {r['cr_found']:.4f}  {r.get('astrometry_rms_mas', float('nan')):.2f}"
              f"  {r.get('wcs_rms_mas', float('nan')):.2f}  (load {r['load']:.1f})")


def print_row(name, r):
    steps = ", ".join(f"{k} {v:.1f}" for k, v in r["steps"].items() if v >= 0.05)
    cpu = r.get("steps_cpu", {})
    steps_cpu = ", ".join(f"{k} {v:.1f}" for k, v in cpu.items() if v >= 0.05)
    print(f"{name}: wall {r['wall']:.1f} s, cpu {r['cpu']:.1f} s, peak {r['peak_mb']:.0f} MB, load {r['load']:.1f}\n"
          f"  steps (wall s): {steps}\n" + (f"  steps (cpu s, all threads): {steps_cpu}\n" if cpu else "") +
          f"  accuracy: {json.dumps({k: v for k, v in r.items() if k not in ('steps', 'steps_cpu', 'wall', 'cpu', 'peak_mb', 'load')})}",
          flush=True)


if __name__ == "__main__":
    main()
