"""Time association generation on a synthetic imaging pool.

Pool: NOBS observations x NFILT filters x NDITH dithers x NDET detectors of
NIRCam imaging, each observation its own candidate and all of them in one
mosaic candidate. Prints rows/s for reading the pool, generating, and writing
the association files, and the peak resident memory of the process.

    PYTHONPATH=src python benchmarks/bench_associations.py [NOBS NFILT NDITH NDET]
"""

from __future__ import annotations

import sys
import tempfile
import time
import resource
from pathlib import Path

from photoncal.associations import AssociationPool, generate_associations, save_associations

COLUMNS = (
    "FILENAME|PROGRAM|OBS_NUM|VISIT|EXPOSURE|EXP_TYPE|INSTRUME|DETECTOR|FILTER|PUPIL|"
    "TARGETID|PNTGTYPE|SUBARRAY|TSOVISIT|VISITYPE|BKGDTARG|ASN_CANDIDATE"
)
FILTERS = ["F070W", "F090W", "F115W", "F150W", "F200W", "F277W", "F356W", "F444W"]


def make_pool(path, n_obs, n_filt, n_dith, n_det):
    rows = [COLUMNS]
    for obs in range(1, n_obs + 1):
        for ifilt, filt in enumerate(FILTERS[:n_filt]):
            for dither in range(1, n_dith + 1):
                for det in range(1, n_det + 1):
                    name = f"jw01234{obs:03d}001_0{2101 + ifilt}_{dither:05d}_nrca{det}_uncal.fits"
                    rows.append(
                        f"{name}|1234|{obs}|1|{dither}|NRC_IMAGE|NIRCAM|NRCA{det}|{filt}|CLEAR|1|"
                        f"SCIENCE|FULL|F|PRIME_TARGETED_FIXED|F|"
                        f"[('o{obs:03d}', 'observation'), ('c1000', 'mosaic')]"
                    )
    path.write_text("\n".join(rows) + "\n")
    return len(rows) - 1


def main(argv):
    n_obs, n_filt, n_dith, n_det = (int(a) for a in argv) if argv else (4, 4, 6, 4)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n_rows = make_pool(tmp / "bench_pool.csv", n_obs, n_filt, n_dith, n_det)
        t0 = time.perf_counter()
        pool = AssociationPool.read(tmp / "bench_pool.csv")
        t1 = time.perf_counter()
        c1 = time.process_time()
        associations, orphans = generate_associations(pool, version_id="20240101t000000")
        c2 = time.process_time()
        t2 = time.perf_counter()
        out = tmp / "asn"
        out.mkdir()
        written = save_associations(associations, out)
        t3 = time.perf_counter()
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"pool: {n_rows} exposures ({n_obs} obs x {n_filt} filters x {n_dith} dithers x {n_det} detectors)")
    print(f"read     {t1 - t0:7.3f} s  {n_rows / (t1 - t0):9.0f} rows/s")
    print(
        f"generate {t2 - t1:7.3f} s  {n_rows / (t2 - t1):9.0f} rows/s  ({c2 - c1:.3f} s CPU)"
        f"  -> {len(associations)} associations, {len(orphans)} orphans"
    )
    print(f"write    {t3 - t2:7.3f} s  {len(written) / (t3 - t2):9.0f} files/s")
    print(f"peak resident memory {peak_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main(sys.argv[1:])
