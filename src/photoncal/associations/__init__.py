"""Associations: pools of exposures, rules, the generator, level 2 and level 3 association files.

Reading an association::

    from photoncal.associations import load_asn
    asn = load_asn("jw12345-o001_image3_001_asn.json")
    first = asn["products"][0]["members"][0]["expname"]

Making one from files (``asn_from_list``), or from a pool (``generate``)::

    from photoncal.associations import AssociationPool, AssociationRegistry, generate
    pool = AssociationPool.read("jw12345_20240101t000000_pool.csv")
    associations, orphans = generate(pool, AssociationRegistry())

This package imports nothing of photoncal beyond its version: a pool is a
table, an association is JSON.
"""

from .association import Association, make_timestamp
from .asn_from_list import asn_from_list
from .constraint import AttrConstraint, ConstraintGroup, ValueConstraint
from .dms import DMS_Level3_Base, DMSLevel2bBase
from .exceptions import AssociationError, AssociationNotAConstraint, AssociationNotValidError
from .generator import generate, generate_from_item, match_item
from .load import load_asn
from .main import generate_associations, save_associations
from .naming import ACID
from .pool import AssociationPool, PoolRow, pool_from_headers
from .process_list import ListCategory, ProcessList, ProcessQueueSorted
from .registry import AssociationRegistry, RegistryMarker, candidate_constraint
from .ruledefs import RULES_DIR
from .schema import validate_asn


def libpath(filepath=""):
    """Path of a file in the package's rule directory (``rules/``)."""
    return RULES_DIR / filepath


__all__ = [
    "ACID",
    "Association",
    "AssociationError",
    "AssociationNotAConstraint",
    "AssociationNotValidError",
    "AssociationPool",
    "AssociationRegistry",
    "AttrConstraint",
    "ConstraintGroup",
    "DMSLevel2bBase",
    "DMS_Level3_Base",
    "ListCategory",
    "PoolRow",
    "ProcessList",
    "ProcessQueueSorted",
    "RegistryMarker",
    "ValueConstraint",
    "asn_from_list",
    "candidate_constraint",
    "generate",
    "generate_associations",
    "generate_from_item",
    "libpath",
    "load_asn",
    "make_timestamp",
    "match_item",
    "pool_from_headers",
    "save_associations",
    "validate_asn",
]
