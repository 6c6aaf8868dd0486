"""photoncal: the JWST Science Calibration Pipeline and the Roman WFI exposure pipeline."""

__version__ = "0.1.0"
