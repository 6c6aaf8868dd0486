"""Exceptions of the step framework.

Every error the framework raises on bad input is one of these, and its
message names the file, parameter or keyword at fault and what was expected.
``photoncal.cli.strun`` turns them into one line on stderr and an exit status.
"""

from __future__ import annotations

__all__ = [
    "StpipeError",
    "ParameterError",
    "ConfigFileError",
    "UnknownStepError",
    "StepNotImplementedError",
    "ReferenceFileNotFoundError",
    "NoDataOnDetectorError",
    "LoggedException",
]


class StpipeError(Exception):
    """Base class of the framework's errors."""


class ParameterError(StpipeError, ValueError):
    """A step parameter is unknown, or its value does not fit its spec."""


class ConfigFileError(StpipeError, ValueError):
    """A ``.cfg``, ASDF parameter or logging configuration file cannot be used."""


class UnknownStepError(StpipeError, LookupError):
    """A step or pipeline name that is not in the registry.

    Configuration files are data: their ``class =`` may only name registered
    steps and pipelines, never an arbitrary importable object.
    """


class StepNotImplementedError(StpipeError, NotImplementedError):
    """A registered step or pipeline whose module does not exist yet."""


class ReferenceFileNotFoundError(StpipeError, LookupError):
    """No reference file of the requested type fits the exposure."""


class NoDataOnDetectorError(StpipeError):
    """The exposure holds no science data (``strun`` exits with status 64).

    Raised, for instance, by assign_wcs when the WCS shows that no dispersed
    light falls on the detector (NIRSpec NRS2 in some configurations).
    """


class LoggedException(StpipeError):
    """A log message at or above a logging section's ``break_level``.

    The original :class:`logging.LogRecord` is in :attr:`record`.
    """

    def __init__(self, record):
        self.record = record
        super().__init__(record.getMessage())
