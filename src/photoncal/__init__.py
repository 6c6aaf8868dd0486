"""photoncal: the JWST Science Calibration Pipeline and the Roman WFI exposure pipeline."""

import os as _os

# numba's OpenMP threads spin after each parallel region by default; when
# another process holds a core (a cluster node, a 2-core laptop) every
# parallel kernel then waits milliseconds for them, which halved stage-1
# speed under load.  Passive waiting costs nothing when the cores are free.
# A value the user set is kept; it must be set before numba starts OpenMP.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
