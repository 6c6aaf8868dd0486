"""Associations from a list of files: `asn_from_list`.

Level 3 (``DMS_Level3_Base``, the default): one product named by
``product_name``, every file a ``science`` member. Level 2
(``DMSLevel2bBase``): one product per file, named after the file without its
product suffix.

Members are written as names relative to the association file: a file in
the association's directory (or below it) is written relative to it,
typically as a plain file name; a file elsewhere is written as its base name,
with a warning, since the pipeline will look for it next to the association.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .exceptions import AssociationError
from .registry import AssociationRegistry
from .schema import member_path_problem

__all__ = ["asn_from_list", "member_path"]

logger = logging.getLogger(__name__)


def member_path(filename, asn_dir=None) -> str:
    """The name of ``filename`` relative to the directory of the association.

    Parameters
    ----------
    filename : str or Path
        A member file as given.
    asn_dir : str, Path or None
        Directory of the association file (None: the current directory).
    """
    filename = os.fspath(filename)
    base = Path(asn_dir) if asn_dir is not None else Path(".")
    absolute = Path(os.path.abspath(filename))
    relative = os.path.relpath(absolute, os.path.abspath(base))
    if member_path_problem(relative) in (None, "contains a directory"):
        return Path(relative).as_posix()
    name = absolute.name
    logger.warning(
        "member %s is not in the association's directory %s; it is written as %r, so "
        "the file must be placed next to the association",
        filename,
        os.path.abspath(base),
        name,
    )
    return name


def asn_from_list(items, rule="DMS_Level3_Base", asn_dir=None, **kwargs):
    """Create an association from a list of files, without the generator's checks.

    Parameters
    ----------
    items : list of str, or of (str, str) with ``with_exptype=True``
        Member files (and their member types).
    rule : str or type
        ``DMS_Level3_Base`` (default), ``DMSLevel2bBase``, or any rule of the
        default rule set, by name or class.
    asn_dir : str, Path or None
        Directory the association will be written to; member names are made
        relative to it. None: the current directory.
    **kwargs
        Passed to the rule's ``_add_items``: ``product_name`` (level 3,
        required), ``acid`` (candidate id), ``with_exptype``, ``meta``,
        ``product_name_func`` (level 2).

    Returns
    -------
    Association
        Dump it with ``asn.dump()``.
    """
    if isinstance(rule, str):
        registry = AssociationRegistry(
            kwargs.pop("ruledefs", None), include_default=True, include_bases=True
        )
        rule_class = registry.get(rule)
        if rule_class is None:
            raise AssociationError(
                f"unknown rule {rule!r}; expected one of {', '.join(sorted(registry))}"
            )
    else:
        rule_class = rule
    if not items:
        raise AssociationError("asn_from_list needs at least one file")
    with_exptype = kwargs.get("with_exptype", False)
    members = []
    for item in items:
        if with_exptype:
            name, exptype = item
            members.append((member_path(name, asn_dir), exptype))
        else:
            members.append(member_path(item, asn_dir))
    asn = rule_class()
    acid = kwargs.pop("acid", None)
    if acid is not None or getattr(rule_class, "schema_level", None) == 2:
        kwargs["acid"] = acid or "o999"
    asn._add_items(members, **kwargs)
    return asn
