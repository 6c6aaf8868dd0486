"""Write drizzle_tophat_reference.npz: drizzle 1.15.3's tophat outputs for test_drizzle_tophat.

drizzle 2.0 removed the tophat kernel, so this needs the 1.15.3 release on
the path ahead of any newer one, e.g.::

    pip download drizzle==1.15.3 --no-deps -d /tmp/drz   # then unzip the wheel to /tmp/drz115
    PYTHONPATH=/tmp/drz115:src python tests/kernels/data/make_drizzle_tophat_reference.py
"""

import importlib.util
import pathlib

import numpy as np

import drizzle
from drizzle import cdrizzle

HERE = pathlib.Path(__file__).parent


def main():
    if not str(drizzle.__version__).startswith("1."):
        raise SystemExit(f"needs drizzle 1.x (the last with 'tophat'); found {drizzle.__version__}")
    spec = importlib.util.spec_from_file_location("tophat_cases", HERE.parent / "test_drizzle_tophat.py")
    cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cases)
    arrays = {}
    for name, images in cases.CASES.items():
        sci, wht, ctx, counts = cases.run_case(images, tdriz=cdrizzle.tdriz)
        arrays.update({f"{name}/sci": sci, f"{name}/wht": wht, f"{name}/ctx": ctx,
                       f"{name}/counts": np.array(counts, dtype=np.int64)})
        print(f"{name}: weight sum {wht.sum():.2f}, counts {counts}")
    np.savez_compressed(cases.REFERENCE_FILE, **arrays)
    print(f"wrote {cases.REFERENCE_FILE} (drizzle {drizzle.__version__})")


if __name__ == "__main__":
    main()
