"""Exceptions and warnings raised by :mod:`photoncal.datamodels`."""

from __future__ import annotations

__all__ = [
    "DataModelError",
    "ValidationError",
    "ValidationWarning",
    "NoTypeWarning",
    "SubarrayError",
    "AssociationError",
]


class DataModelError(ValueError):
    """A file, array or value cannot be turned into (or out of) a data model.

    The message names the file, the FITS extension or keyword and what was
    expected.  Subclasses ``ValueError`` so callers that catch the generic
    error keep working.
    """


class ValidationError(DataModelError):
    """A value does not satisfy the schema (type, enum, dtype, dimensions)."""


class SubarrayError(DataModelError):
    """A reference file cannot cover the science subarray."""


class AssociationError(DataModelError):
    """An association file is malformed or names a member it may not use."""


class ValidationWarning(UserWarning):
    """A value did not validate and was dropped (or kept, with ``pass_invalid_values``)."""


class NoTypeWarning(UserWarning):
    """A file carried no (known) DATAMODL keyword; its class was guessed."""
