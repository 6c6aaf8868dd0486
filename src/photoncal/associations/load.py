"""Reading association files: `load_asn`."""

from __future__ import annotations

import os
from pathlib import Path

from .association import parse_serialized
from .exceptions import AssociationError
from .schema import validate_asn

__all__ = ["load_asn"]


def _read(serialized, source):
    """Return ``(text, source name)`` of a path, an open file, or the text itself."""
    if hasattr(serialized, "read"):
        source = source or getattr(serialized, "name", None) or "association"
        if hasattr(serialized, "seek"):
            try:
                serialized.seek(0)
            except (OSError, ValueError):
                pass
        text = serialized.read()
    elif isinstance(serialized, os.PathLike):
        path = Path(serialized)
        if not path.is_file():
            raise AssociationError(f"association file {str(path)!r} does not exist")
        return path.read_text(), source or str(path)
    elif isinstance(serialized, (str, bytes)):
        text = serialized.decode("utf-8") if isinstance(serialized, bytes) else serialized
        stripped = text.lstrip()
        looks_serialized = stripped.startswith(("{", "---")) or "\n" in stripped
        if not looks_serialized:
            path = Path(text)
            if not path.is_file():
                raise AssociationError(f"association file {text!r} does not exist")
            return path.read_text(), source or text
        source = source or "association"
    else:
        raise AssociationError(
            f"cannot read an association from a {type(serialized).__name__}; give a path, "
            "an open file or the JSON text"
        )
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return text, source


def load_asn(serialized, format=None, validate=True, registry=None, source=None, first=True):  # noqa: A002
    """Load a level 2 or level 3 association.

    Parameters
    ----------
    serialized : str, path-like or file object
        A path to an association file, an open file, or the JSON/YAML text.
    format : {'json', 'yaml'} or None
        Force a format; None reads JSON, then YAML.
    validate : bool
        Validate against the level 2 or level 3 schema (chosen from
        ``asn_type``/``asn_rule``) or, with ``registry``, against its rules.
    registry : AssociationRegistry or None
        Validate against the rules of this registry instead.
    source : str or None
        Name used in error messages (defaults to the file name).
    first : bool
        Accepted for compatibility; one association is returned.

    Returns
    -------
    dict
        The association, structured as the file
        (``asn['products'][0]['members'][0]['expname']``).

    Raises
    ------
    AssociationError
        When the file does not exist or cannot be read.
    AssociationNotValidError
        When it is not an association; the message names the file and fields.
    """
    text, source = _read(serialized, source)
    data, _ = parse_serialized(text, format, source)
    if validate:
        if registry is not None:
            registry.validate(data, source=source)
        else:
            validate_asn(data, source=source)
    return data
