"""Indexing a directory of reference files and selecting from it.

Writes N small FITS reference files (different detectors, subarrays and
USEAFTER dates; each with a 64x64 SCI extension) and times the first
(cold) index, a cached index, and reference selections.

Run: PYTHONPATH=src python benchmarks/reference_index.py [N]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
import types

import numpy as np
from astropy.io import fits

from photoncal.stpipe import references

DETECTORS = ["NRCA1", "NRCA2", "NRCA3", "NRCA4", "NRCB1", "NRCB2", "NRCB3", "NRCB4", "NRCALONG", "NRCBLONG"]
SUBARRAYS = ["FULL", "SUB160", "SUB320", "SUB640"]
REFTYPES = ["DARK", "GAIN", "READNOISE", "SATURATION", "SUPERBIAS", "LINEARITY", "MASK"]


def write_refs(directory: str, count: int) -> None:
    data = np.zeros((64, 64), dtype=np.float32)
    for index in range(count):
        primary = fits.PrimaryHDU()
        header = primary.header
        header["REFTYPE"] = REFTYPES[index % len(REFTYPES)]
        header["INSTRUME"] = "NIRCAM"
        header["DETECTOR"] = DETECTORS[(index // len(REFTYPES)) % len(DETECTORS)]
        header["SUBARRAY"] = SUBARRAYS[(index // 70) % len(SUBARRAYS)]
        header["READPATT"] = "ANY"
        header["USEAFTER"] = f"{2014 + index % 9}-01-01T00:00:00"
        fits.HDUList([primary, fits.ImageHDU(data, name="SCI")]).writeto(
            os.path.join(directory, f"jwst_nircam_{header['REFTYPE'].lower()}_{index:04d}.fits")
        )


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as tmp:
        write_refs(tmp, count)
        tracemalloc.start()
        start = time.perf_counter()
        files = references.index_directory(tmp)
        cold = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        start = time.perf_counter()
        references.index_directory(tmp)
        warm = time.perf_counter() - start

        meta = types.SimpleNamespace(
            instrument=types.SimpleNamespace(name="NIRCAM", detector="NRCB2"),
            exposure=types.SimpleNamespace(readpatt="RAPID", type="NRC_IMAGE"),
            subarray=types.SimpleNamespace(name="SUB320"),
            observation=types.SimpleNamespace(date="2021-06-01", time="00:00:00"),
            telescope="JWST",
        )
        model = types.SimpleNamespace(meta=meta)
        selections = 200
        start = time.perf_counter()
        for _ in range(selections):
            references.find_reference(model, "dark", reference_dir=tmp)
        select = (time.perf_counter() - start) / selections
        print(f"{len(files)} reference files indexed")
        print(f"  cold index   {cold * 1000:8.1f} ms  ({len(files) / cold:,.0f} files/s, peak {peak / 1e6:.1f} MB)")
        print(f"  cached index {warm * 1000:8.2f} ms")
        print(f"  selection    {select * 1000:8.2f} ms per find_reference (cached index)")


if __name__ == "__main__":
    main()
