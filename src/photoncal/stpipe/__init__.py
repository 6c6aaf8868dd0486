"""photoncal.stpipe: the step framework.

``Step`` and ``Pipeline`` (the base classes steps and pipelines derive
from), parameter specs and configuration files, output naming, logging
configuration and reference-file resolution.  ``import photoncal.stpipe``
is light: nothing here imports numpy, astropy, asdf, gwcs or numba; data
models are imported only when a step opens a file.
"""

from .exceptions import (
    ConfigFileError,
    LoggedException,
    NoDataOnDetectorError,
    ParameterError,
    ReferenceFileNotFoundError,
    StepNotImplementedError,
    StpipeError,
    UnknownStepError,
)
from .pipeline import Pipeline
from .step import Step

__all__ = [
    "Step",
    "Pipeline",
    "StpipeError",
    "ParameterError",
    "ConfigFileError",
    "UnknownStepError",
    "StepNotImplementedError",
    "ReferenceFileNotFoundError",
    "NoDataOnDetectorError",
    "LoggedException",
]
